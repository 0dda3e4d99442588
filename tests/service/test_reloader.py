"""The Reloader's rules without a server: one load at a time, a SIGHUP during a load is kept for after it,
a POST during one gets 409, none starts once the service stops. The pool is a stand-in whose load blocks
until the test lets it go."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

from fashion_edge.runtime.service.reload import Reloader, Result


class Pool:
    """What the Reloader uses of InferencePool: a source, loading/closed flags, load() and swap()."""

    def __init__(self) -> None:
        self.source, self.loading, self.closed, self.model, self.failure = Path("bundle"), False, False, None, None
        self.loads = 0
        self.gate = threading.Event()

    def load(self):
        self.loads += 1
        assert self.gate.wait(30)
        manifest = SimpleNamespace(input=1, labels=("a", "b"), output=2)
        return SimpleNamespace(tag=lambda n=self.loads: {"id": f"id{n}", "version": None}, bundle=SimpleNamespace(
            manifest=manifest), describe=lambda n=self.loads: f"id{n}")

    def swap(self, model):
        previous, self.model = self.model, model
        return previous


async def until(condition, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


def test_a_sighup_during_a_reload_runs_one_more_reload_after_it_and_a_post_gets_409():
    pool = Pool()
    counted: list[str] = []
    reloader = Reloader(pool, counted.append)

    async def scenario():
        reloader.on_signal()                         # starts a reload that blocks in load()
        await until(lambda: pool.loads == 1)
        assert reloader.running
        reloader.on_signal()                         # kept, not dropped
        reloader.on_signal()                         # ... and not doubled
        busy = await reloader.reload("POST /v1/admin/reload")
        assert busy.result is Result.BUSY and busy.status == 409
        assert reloader.state()["running"] is True
        pool.gate.set()
        await until(lambda: reloader.done == 2 and not reloader.running)
        await asyncio.sleep(0.05)
        assert pool.loads == 2 and reloader.state() == {"done": 2, "last": "ok", "running": False}

    asyncio.run(scenario())
    assert counted == ["busy", "ok", "ok"]
    assert pool.model.tag()["id"] == "id2"


def test_a_sighup_during_the_first_load_runs_once_it_ends():
    pool = Pool()
    pool.loading = True
    reloader = Reloader(pool, lambda _r: None)
    pool.gate.set()

    async def scenario():
        reloader.on_signal()
        assert pool.loads == 0 and reloader.state()["running"] is True
        pool.loading = False
        reloader.load_ended()                        # what the first load's end calls on the loop
        await until(lambda: reloader.done == 1)

    asyncio.run(scenario())
    assert pool.loads == 1


def test_nothing_starts_once_the_service_stops():
    pool = Pool()
    pool.gate.set()
    reloader = Reloader(pool, lambda _r: None)
    reloader.stop()

    async def scenario():
        reloader.on_signal()
        outcome = await reloader.reload("POST /v1/admin/reload")
        assert outcome.result is Result.STOPPING and outcome.status == 503
        await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert pool.loads == 0 and reloader.done == 0
