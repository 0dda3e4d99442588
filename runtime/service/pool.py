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

The workers outlive the models. A job carries the ServedModel that was current when its request
started, and worker i runs it on that model's interpreter i, so a swap (`swap`, on the event loop,
between two admissions) needs no pause: jobs already admitted finish on the old model, later ones
start on the new, and the old one is freed when the last job holding it is done. A worker keeps no
reference to a job once it has handed the answer back, or an idle worker would keep a model alive.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.prediction import Prediction
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.picture import Picture
from fashion_edge.runtime.service import model as served
from fashion_edge.runtime.service.model import ServedModel

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
    model: ServedModel
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


_STOP = None   # what close() puts in an inbox


def _detached(exc: BaseException) -> BaseException:
    """`exc` without tracebacks (its own and its chain's). A traceback holds the worker's frames, whose callers
    hold the job, whose future would hold `exc`: a cycle that keeps the job's model alive until the garbage
    collector runs. The worker has logged what a traceback would tell; the answer needs the message only."""
    seen, link = set(), exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


def _on_loop(job: _Job, fn: Callable, *args) -> None:
    """Run `fn` on the job's event loop; a loop already closed (forced exit) has nobody left to tell."""
    try:
        job.loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass


Observer = Callable[[float, float], None]   # (preprocess_s, inference_s), called from worker threads
OnModel = Callable[[ServedModel], None]     # a model started serving (from the loader thread or the event loop)


class InferencePool:
    """Workers from the start; the first model loads in the background (`start`), later ones are swapped in
    (`swap`); classify from the event loop (`classify`), drain on `close`."""

    def __init__(self, source: Path | Bundle, format: str, backend: str | None, workers: int, queue_size: int,
                 observe: Observer | None = None, on_model: OnModel | None = None) -> None:
        self.source = source.path if isinstance(source, Bundle) else Path(source)   # re-read on every load
        self.format, self.backend = format, backend
        self.workers, self.capacity = workers, workers + queue_size
        self._observe = observe or (lambda _p, _i: None)
        self._on_model = on_model or (lambda _m: None)
        self._inboxes: list[queue.SimpleQueue[_Job | None]] = [queue.SimpleQueue() for _ in range(workers)]
        # Under _dispatch: the idle workers, most recently idle last, and the jobs that found none idle.
        # A job is in the backlog only while no worker is idle, so none waits beside an idle worker.
        self._dispatch = threading.Lock()
        self._idle: list[int] = list(range(workers))
        self._backlog: deque[_Job] = deque()
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"fashion-edge-worker-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()
        self.admitted = 0                 # touched on the event loop only
        self.model: ServedModel | None = None
        self.loading = False              # the first load is running
        self.failure: str | None = None   # why the first load failed (cleared once a model serves)
        self._closed = False

    @property
    def ready(self) -> bool:
        return self.model is not None and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def self_check(self):
        return self.model.self_check if self.model else None

    @property
    def backend_name(self) -> str | None:
        return self.model.backend_name if self.model else None

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> ServedModel:
        """The bundle at the source path, loaded and checked for this pool's format, backend and workers (any thread)."""
        return served.load(self.source, self.format, self.backend, self.workers)

    def start(self, ended: Callable[[], None] | None = None) -> threading.Thread:
        """Load the first model in a background thread; it serves once loaded and self-checked. `ended` is called
        from that thread when the load is over, whatever its outcome."""
        self.loading = True
        loader = threading.Thread(target=self._first_load, args=(ended,), name="fashion-edge-loader", daemon=True)
        loader.start()
        return loader

    def _first_load(self, ended: Callable[[], None] | None) -> None:
        try:
            model = self.load()
            self.swap(model)     # nothing was admitted before it: no request can see the change
            log.info("ready: bundle %s, %d interpreter(s) loaded and checked in %.2f s; %s", model.describe(),
                     self.workers, model.loaded_s, model.self_check.describe())
            del model
        except FashionEdgeError as exc:
            self.failure = str(exc)
            log.error("not ready, and will not become ready until a reload succeeds: %s", exc)
        except Exception as exc:  # a native runtime's own error type: still a refusal, not a crash
            self.failure = f"{type(exc).__name__}: {exc}"
            log.exception("loading the interpreters failed")
        finally:
            self.loading = False     # only now: a reload asked for meanwhile was refused or is pending
            if ended is not None:
                ended()

    def swap(self, model: ServedModel) -> ServedModel | None:
        """Serve `model` from the next admission on; returns the model it replaces (freed after its last job).
        Called on the event loop (between two admissions), or by the first load before anything is admitted."""
        previous, self.model, self.failure = self.model, model, None
        self._on_model(model)
        if previous is not None:
            weakref.finalize(previous, log.info, "bundle %s freed: its last request has finished", previous.id)
        return previous

    # --- serving ---------------------------------------------------------------------------------

    def current(self) -> ServedModel:
        """The model a request starting now is bound to; NotReady while there is none."""
        model = self.model
        if model is None or self._closed:
            raise NotReady(self.failure or "loading the model", failed=self.failure is not None)
        return model

    async def classify(self, data: bytes, model: ServedModel | None = None) -> Classified:
        """Preprocess and classify one image's bytes on a worker, with `model` (default: the current one);
        InvalidImageError for a bad image."""
        if model is None or self._closed:
            model = self.current()
        if self.admitted >= self.capacity:
            raise QueueFull()
        loop = asyncio.get_running_loop()
        job = _Job(data, model, loop.create_future(), loop)
        self.admitted += 1
        with self._dispatch:   # the worker idle last, else the backlog (the mirror of _next)
            inbox = self._inboxes[self._idle.pop()] if self._idle else None
            if inbox is None:
                self._backlog.append(job)
        if inbox is not None:
            inbox.put(job)
        try:
            return await job.future
        finally:   # an error's traceback holds this frame: without this, job -> future -> error -> frame -> job
            job = None   # would be a cycle keeping the model alive until the garbage collector runs

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

    def _work(self, index: int) -> None:
        inbox = self._inboxes[index]
        job = inbox.get()     # idle from the start; None: stop
        while job is not _STOP:
            following = self._run(index, job)
            job = None        # nothing of the finished job stays referenced while this worker waits
            job = following if following is not None else inbox.get()

    def _run(self, index: int, job: _Job) -> _Job | None:
        """One job on this worker's interpreter of the job's model; returns the backlog's next job, if any."""
        # The client may have left while the job waited: then skip the work.
        outcome = None if job.future.cancelled() else self._classify(job.model, index, job.data)
        following = self._next(index)   # idle before the loop hears of it, so the loop's next job comes here
        _on_loop(job, self._settle, job, outcome)   # the one loop wake-up per job, then the bookkeeping
        if isinstance(outcome, Classified):
            try:    # listed idle already: this thread must survive whatever the metrics do
                self._observe(outcome.preprocess_s, outcome.inference_s)
            except Exception:
                log.exception("recording a worker's metrics failed")
        return following

    @staticmethod
    def _classify(model: ServedModel, index: int, data: bytes) -> Classified | BaseException:
        try:
            clf = model.classifiers[index]
            t0 = time.perf_counter()
            picture = Picture.open(data)       # the header, read once: the gate and preprocess share it
            width, height = picture.size
            with model.gate.admit(width * height):   # memory: large photos one at a time, huge ones refused
                pixels = clf.preprocess(picture)   # the bundle's recipe
            t1 = time.perf_counter()
            prediction = clf.predict_preprocessed(pixels)   # the batch-of-one hot path, as predict's
            t2 = time.perf_counter()
            return Classified(prediction, t1 - t0, t2 - t1)
        except Exception as exc:  # typed errors become 4xx; anything else a 500, never a dead worker
            if not isinstance(exc, FashionEdgeError):
                log.exception("classify failed in a worker")
            return _detached(exc)

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
        self._closed = True             # refuse new jobs from here on
        for inbox in self._inboxes:     # an idle worker stops at once, a busy one after the backlog is empty
            inbox.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
