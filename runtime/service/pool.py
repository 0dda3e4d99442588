"""A pool of interpreters: one Classifier per worker thread, fed from the event loop.

Interpreters are not thread-safe, and one Classifier serialises its callers behind a lock, so a
service with one Classifier would use one core. Here each worker thread owns its own Classifier
(one native thread each), decoding, preprocessing and inference all run in the worker (Pillow and
the runtimes release the GIL for the heavy parts), and the event loop only hands bytes over and
awaits a future: it never blocks on inference.

A job goes to the worker that became idle last, not to whichever a shared queue wakes. At low
concurrency one worker then takes every request, with its interpreter's memory and its core's
caches as the previous request left them. Taking turns, each worker would sleep through the other's
request and start cold (2-core test machine: a prediction after a 2 ms idle gap is 0.1-0.2 ms slower
than back to back; the last-idle choice lowers the service's p50 at concurrency 1 by 0.12-0.20 ms).
Jobs that find every worker busy wait in a backlog that a worker drains itself when it finishes,
with no round trip through the event loop, so saturated throughput is as with one shared queue.

Admission is counted on the event loop: a request is refused (QueueFull -> 503 + Retry-After)
when `workers + queue` are already admitted. A slot is released when a worker has finished the
job, not when the client gives up, so a storm of disconnecting clients cannot pile up work.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.prediction import Prediction
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.picture import Picture
from fashion_edge.runtime.selfcheck import SelfCheck
from fashion_edge.runtime.service.limits import PhotoGate

log = logging.getLogger("fashion_edge.serve")


class QueueFull(Exception):
    """Every worker is busy and the waiting queue is full."""


class NotReady(Exception):
    """The interpreters are still loading, or failed to load or self-check (then `failed` is True)."""

    def __init__(self, message: str, failed: bool) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass(frozen=True)
class Classified:
    """One image's answer (the same Prediction as Classifier.predict gives) and where the time went (seconds)."""

    prediction: Prediction
    preprocess_s: float
    inference_s: float


@dataclass
class _Job:
    data: bytes
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


def _on_loop(job: _Job, fn: Callable, *args) -> None:
    """Run `fn` on the job's event loop; a loop already closed (forced exit) has nobody left to tell."""
    try:
        job.loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass


Observer = Callable[[float, float], None]   # (preprocess_s, inference_s), called from worker threads


class InferencePool:
    """Load in the background (`start`), classify from the event loop (`classify`), drain on `close`."""

    def __init__(self, bundle, format: str, backend: str | None, workers: int, queue_size: int,
                 observe: Observer | None = None) -> None:
        self._bundle, self._format, self._backend = bundle, format, backend
        self.workers, self.capacity = workers, workers + queue_size
        self._observe = observe or (lambda _p, _i: None)
        self._gate = PhotoGate.for_contract(bundle.manifest.input)
        self._threads: list[threading.Thread] = []
        self._inboxes: list[queue.SimpleQueue[_Job | None]] = []   # one per worker: a job handed to it
        # Under _dispatch: the idle workers, most recently idle last, and the jobs that found none idle.
        # A job is in the backlog only while no worker is idle, so none waits beside an idle worker.
        self._dispatch = threading.Lock()
        self._idle: list[int] = []
        self._backlog: deque[_Job] = deque()
        self.admitted = 0                 # touched on the event loop only
        self.ready = False
        self.failure: str | None = None
        self.self_check: SelfCheck | None = None
        self.backend_name: str | None = None

    # --- loading ---------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Create and self-check one Classifier per worker in a background thread, then start the workers."""
        loader = threading.Thread(target=self._load, name="fashion-edge-loader", daemon=True)
        loader.start()
        return loader

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            classifiers = [Classifier(self._bundle, format=self._format, backend=self._backend, threads=1,
                                      self_check=True) for _ in range(self.workers)]
        except FashionEdgeError as exc:
            self.failure = str(exc)
            log.error("not ready, and will not become ready: %s", exc)
            return
        except Exception as exc:  # a native runtime's own error type: still a refusal, not a crash
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("loading the interpreters failed")
            return
        self.self_check = classifiers[0].self_check_result
        self.backend_name = classifiers[0].backend_name
        self._inboxes = [queue.SimpleQueue() for _ in classifiers]
        self._idle = list(range(len(classifiers)))
        for i, clf in enumerate(classifiers):
            thread = threading.Thread(target=self._work, args=(i, clf), name=f"fashion-edge-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.ready = True
        log.info("ready: %d interpreter(s) loaded in %.2f s; %s", self.workers, time.perf_counter() - started,
                 self.self_check.describe() if self.self_check else "")

    # --- serving ---------------------------------------------------------------------------------

    async def classify(self, data: bytes) -> Classified:
        """Preprocess and classify one image's bytes on a worker; InvalidImageError for a bad image."""
        if not self.ready:
            raise NotReady(self.failure or "loading the model", failed=self.failure is not None)
        if self.admitted >= self.capacity:
            raise QueueFull()
        loop = asyncio.get_running_loop()
        job = _Job(data, loop.create_future(), loop)
        self.admitted += 1
        with self._dispatch:   # the worker idle last, else the backlog (the mirror of _next)
            inbox = self._inboxes[self._idle.pop()] if self._idle else None
            if inbox is None:
                self._backlog.append(job)
        if inbox is not None:
            inbox.put(job)
        return await job.future

    @property
    def waiting(self) -> int:
        """Admitted jobs no worker has picked up yet (read at scrape time)."""
        return len(self._backlog)

    def _next(self, index: int) -> _Job | None:
        """The backlog's oldest job; else None, and this worker is listed idle (on top) for the next one."""
        with self._dispatch:
            if self._backlog:
                return self._backlog.popleft()
            self._idle.append(index)
            return None

    def _work(self, index: int, clf: Classifier) -> None:
        inbox = self._inboxes[index]
        job = inbox.get()     # idle from the start (_load listed every worker); None: stop
        while job is not None:
            # The client may have left while the job waited: then skip the work.
            outcome = None if job.future.cancelled() else self._classify(clf, job.data)
            following = self._next(index)   # idle before the loop hears of it, so the loop's next job comes here
            _on_loop(job, self._settle, job, outcome)   # the one loop wake-up per job, then the bookkeeping
            if isinstance(outcome, Classified):
                try:    # listed idle already: this thread must survive whatever the metrics do
                    self._observe(outcome.preprocess_s, outcome.inference_s)
                except Exception:
                    log.exception("recording a worker's metrics failed")
            job = following if following is not None else inbox.get()

    def _classify(self, clf: Classifier, data: bytes) -> Classified | BaseException:
        try:
            t0 = time.perf_counter()
            picture = Picture.open(data)       # the header, read once: the gate and preprocess share it
            width, height = picture.size
            with self._gate.admit(width * height):   # memory: large photos one at a time, huge ones refused
                pixels = clf.preprocess(picture)   # the bundle's recipe
            t1 = time.perf_counter()
            prediction = clf.predict_preprocessed(pixels)   # the batch-of-one hot path, as predict's
            t2 = time.perf_counter()
            return Classified(prediction, t1 - t0, t2 - t1)
        except Exception as exc:  # typed errors become 4xx; anything else a 500, never a dead worker
            return exc

    def _settle(self, job: _Job, outcome: Classified | BaseException | None) -> None:
        self.admitted -= 1
        if job.future.done() or outcome is None:
            return
        if isinstance(outcome, BaseException):
            job.future.set_exception(outcome)
        else:
            job.future.set_result(outcome)

    def close(self, timeout: float = 10.0) -> None:
        """Let the workers finish what they hold, then stop them (the server has drained requests by now)."""
        self.ready = False             # refuse new jobs from here on
        for inbox in self._inboxes:     # an idle worker stops at once, a busy one after the backlog is empty
            inbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
