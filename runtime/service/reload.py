"""Hot reload: a new bundle from the same path, swapped in between requests, or refused with a reason.

SIGHUP (systemd's ExecReload) and POST /v1/admin/reload both come here. One reload runs at a time.
A POST meanwhile (or while the first model is still loading) is refused with 409; a SIGHUP meanwhile
has nobody to answer, so it is kept and one more reload runs when the current load ends (the bundle
path may have changed since that load resolved it). Once the server is stopping, none starts. The
load runs on a thread (runtime/service/model.py: path resolved, manifest and schema, every file's
sha256, golden self-check on every interpreter, warm-up) while the old model goes on serving; only
a model that passed all of it is swapped in, on the event loop. A refusal leaves the old model
serving, says why in the answer and the log, and counts in `fashion_edge_reloads_total{result}`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.service.model import ServedModel
from fashion_edge.runtime.service.pool import InferencePool

log = logging.getLogger("fashion_edge.serve")


class Result(str, Enum):
    OK = "ok"
    FAILED = "failed"      # the bundle was refused; the old model serves on
    BUSY = "busy"          # another load was running; nothing was tried
    STOPPING = "stopping"  # the server is shutting down; nothing was tried (not counted)


STATUS = {Result.OK: 200, Result.FAILED: 422, Result.BUSY: 409, Result.STOPPING: 503}


@dataclass(frozen=True)
class Outcome:
    result: Result
    trigger: str
    serving: dict | None            # the bundle serving once this is over
    previous: dict | None = None    # the bundle it replaced (ok only)
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    changed: tuple[str, ...] = ()   # what differs from the previous bundle: "input", "labels", "output"

    @property
    def status(self) -> int:
        return STATUS[self.result]

    def to_json(self) -> dict:
        if self.result is not Result.OK:
            return {"error": self.error, "type": self.error_type, "result": self.result.value,
                    "serving": self.serving, "seconds": round(self.seconds, 3)}
        return {"result": self.result.value, "serving": self.serving, "previous": self.previous,
                "changed": list(self.changed), "seconds": round(self.seconds, 3)}


def changes(old: ServedModel | None, new: ServedModel) -> tuple[str, ...]:
    """What a client must know about the new bundle: another input contract, label set or output kind."""
    if old is None:
        return ()
    a, b = old.bundle.manifest, new.bundle.manifest
    return tuple(name for name, differs in (("input", a.input != b.input), ("labels", a.labels != b.labels),
                                             ("output", a.output != b.output)) if differs)


class Reloader:
    """Runs reloads for one pool; `state()` is what /healthz and /v1/info show about them."""

    def __init__(self, pool: InferencePool, count: Callable[[str], None]) -> None:
        self.pool = pool
        self._count = count              # metrics: fashion_edge_reloads_total{result}
        self.running_since: float | None = None
        self.done = 0                    # reloads that ran to an end, ok or failed
        self.last: Outcome | None = None
        self.at = 0.0                    # when the last one ended (unix time)
        self.stopping = False            # set when the server starts shutting down
        self._pending = False            # a SIGHUP came while a load ran: reload again after it
        self._tasks: set[asyncio.Task] = set()

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def state(self) -> dict:
        """For /healthz: `running` is true while a load runs or one is due, so a deploy script that waits for
        it to turn false, then signals and waits for `done` to move, sees its own reload."""
        last = self.last
        return {"done": self.done, "last": last.result.value if last else None,
                "running": self.running or self.pool.loading or self._pending}

    def details(self) -> dict:
        last = self.last
        return {**self.state(), "error": last.error if last else None,
                "at": round(self.at, 3) if last else None, "trigger": last.trigger if last else None,
                "changed": list(last.changed) if last else [], "seconds": round(last.seconds, 3) if last else None}

    async def reload(self, trigger: str) -> Outcome:
        """Load the bundle at the pool's path and swap it in; the outcome says how it went (never raises)."""
        pool = self.pool
        if self.stopping:
            log.warning("reload (%s) refused: the service is stopping", trigger)
            return Outcome(Result.STOPPING, trigger, self._serving(), error="the service is stopping",
                           error_type="ShuttingDown")
        if self.running or pool.loading:
            what = "the first model is still loading" if pool.loading else \
                f"a reload started {time.monotonic() - self.running_since:.1f} s ago is still running"
            self._count(Result.BUSY.value)
            log.warning("reload (%s) refused: %s", trigger, what)
            return Outcome(Result.BUSY, trigger, self._serving(), error=f"{what}; try again when it is done",
                           error_type="ReloadInProgress")
        self.running_since = started = time.monotonic()
        log.info("reload (%s): loading %s", trigger, pool.source)
        try:
            try:
                model = await asyncio.to_thread(pool.load)
            except FashionEdgeError as exc:
                return self._finish(Outcome(Result.FAILED, trigger, self._serving(), error=str(exc),
                                            error_type=type(exc).__name__, seconds=time.monotonic() - started))
            except Exception as exc:  # a native runtime's own error type (or a bug): refused all the same
                log.exception("reload (%s): loading the bundle failed", trigger)
                return self._finish(Outcome(Result.FAILED, trigger, self._serving(),
                                            error=f"loading the bundle failed: {type(exc).__name__}: {exc}",
                                            error_type=type(exc).__name__, seconds=time.monotonic() - started))
            if self.stopping or pool.closed:   # stopping meanwhile: the model would serve nobody
                return Outcome(Result.STOPPING, trigger, self._serving(), error="the service is stopping",
                               error_type="ShuttingDown", seconds=time.monotonic() - started)
            what_changed = changes(pool.model, model)
            previous = pool.swap(model)      # on the event loop: between two admissions
            del model
            return self._finish(Outcome(Result.OK, trigger, self._serving(), previous.tag() if previous else None,
                                        seconds=time.monotonic() - started, changed=what_changed))
        finally:
            self.running_since = None
            asyncio.get_running_loop().call_soon(self.load_ended)

    def _serving(self) -> dict | None:
        return self.pool.model.tag() if self.pool.model else None

    def _finish(self, outcome: Outcome) -> Outcome:
        self.done += 1
        self.last, self.at = outcome, time.time()
        self._count(outcome.result.value)
        if outcome.result is Result.OK:
            log.info("reload (%s) ok in %.2f s: now serving %s%s%s", outcome.trigger, outcome.seconds,
                     self.pool.model.describe(), f", replacing {outcome.previous['id']}" if outcome.previous else "",
                     f"; changed: {', '.join(outcome.changed)}" if outcome.changed else "")
        else:
            if self.pool.model is None:      # still nothing serving: /healthz says why, this time
                self.pool.failure = outcome.error
            log.error("reload (%s) refused after %.2f s, %s serving on: %s", outcome.trigger, outcome.seconds,
                      (outcome.serving or {}).get("id", "nothing"), outcome.error)
        return outcome

    def on_signal(self) -> None:
        """SIGHUP, on the event loop: a reload in the background (its outcome goes to the log), or, while a load
        runs, one more after it."""
        if self.stopping:
            log.warning("SIGHUP while the service is stopping: ignored")
        elif self.running or self.pool.loading:
            if not self._pending:
                log.info("SIGHUP while a load runs: the bundle path is loaded again once it ends")
            self._pending = True
        else:
            self._spawn()

    def load_ended(self) -> None:
        """On the event loop, after any load (the first one included): the reload a SIGHUP left pending, if any."""
        if self._pending and not (self.stopping or self.running or self.pool.loading):
            self._pending = False
            self._spawn()
        elif self.stopping:
            self._pending = False

    def stop(self) -> None:
        """The server is shutting down: no reload starts from now on."""
        self.stopping = True

    def _spawn(self) -> None:
        task = asyncio.ensure_future(self.reload("SIGHUP"))
        self._tasks.add(task)           # a task nobody references may be collected before it ends
        task.add_done_callback(self._tasks.discard)
