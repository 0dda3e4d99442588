"""The interpreter pool on its own (no HTTP): who takes a job, what a burst gets, when it refuses."""
from __future__ import annotations

import asyncio
import threading
from typing import Callable

import pytest

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.service.pool import Classified, InferencePool, QueueFull

pytest.importorskip("ai_edge_litert")   # the pool's interpreters

WAIT_S = 60   # a stranded job fails the test instead of hanging the suite


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    """The tiny bundle: the pool's dispatch does not depend on the model."""
    return Bundle.load(tiny_bundle)


def started(bundle, workers: int, queue: int, observe: Callable[[float, float], None]) -> InferencePool:
    pool = InferencePool(bundle, "tflite-int8", "litert", workers, queue, observe)
    pool.start().join(120)
    assert pool.ready, pool.failure
    return pool


def recorder(seen: list[str]) -> Callable[[float, float], None]:
    """An observer that records the name of the worker thread that ran each job."""
    return lambda _p, _i: seen.append(threading.current_thread().name)


def test_one_client_at_a_time_is_served_by_the_same_warm_worker(bundle, photos):
    """Jobs one after another go to the worker idle last, not round the pool: its caches are still warm."""
    seen: list[str] = []
    pool = started(bundle, workers=2, queue=4, observe=recorder(seen))
    clf = Classifier(bundle, format="tflite-int8", backend="litert")

    async def one_by_one():
        return [await asyncio.wait_for(pool.classify(data), WAIT_S) for data, _ in photos[:12]]

    try:
        outcomes = asyncio.run(one_by_one())
    finally:
        pool.close()
    assert [o.prediction for o in outcomes] == [clf.predict(data) for data, _ in photos[:12]]
    assert len(seen) == 12 and len(set(seen)) == 1, seen


def test_a_burst_uses_every_worker_and_every_job_is_answered(bundle, photos):
    seen: list[str] = []
    pool = started(bundle, workers=2, queue=30, observe=recorder(seen))
    clf = Classifier(bundle, format="tflite-int8", backend="litert")
    burst = [data for data, _ in photos] * 2

    async def at_once():
        outcomes = await asyncio.wait_for(asyncio.gather(*(pool.classify(data) for data in burst)), WAIT_S)
        return outcomes, pool.waiting, pool.admitted

    try:
        outcomes, waiting, admitted = asyncio.run(at_once())
    finally:
        pool.close()
    assert all(isinstance(o, Classified) for o in outcomes)
    assert [o.prediction for o in outcomes] == [clf.predict(data) for data in burst]
    assert set(seen) == {"fashion-edge-worker-0", "fashion-edge-worker-1"}, "a worker sat idle through a burst"
    assert (waiting, admitted) == (0, 0)


def test_jobs_beyond_workers_plus_queue_are_refused_at_once(bundle, photos):
    pool = started(bundle, workers=1, queue=1, observe=recorder([]))

    async def three():
        jobs = (pool.classify(photos[0][0]) for _ in range(3))
        return await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), WAIT_S)

    try:
        outcomes = asyncio.run(three())
    finally:
        pool.close()
    assert [type(o) for o in outcomes] == [Classified, Classified, QueueFull]


def test_jobs_whose_clients_left_are_skipped_and_release_their_slots(bundle, photos):
    """Three jobs wait behind a busy worker and their clients leave: no work is done for them."""
    seen: list[str] = []
    release = threading.Event()

    def observe(_p, _i):    # holds the only worker after its first job, until the others are cancelled
        seen.append(threading.current_thread().name)
        release.wait(WAIT_S)

    pool = started(bundle, workers=1, queue=8, observe=observe)

    async def three_leave():
        tasks = [asyncio.ensure_future(pool.classify(photos[0][0])) for _ in range(4)]
        await asyncio.sleep(0)        # all four admitted: one with the worker, three in the backlog
        waiting = pool.waiting
        for task in tasks[1:]:
            task.cancel()
        release.set()
        first = await asyncio.wait_for(tasks[0], WAIT_S)
        for _ in range(WAIT_S * 100):
            if pool.admitted == 0:
                break
            await asyncio.sleep(0.01)
        return first, waiting, pool.waiting, pool.admitted

    try:
        first, waiting_before, waiting_after, admitted = asyncio.run(three_leave())
    finally:
        pool.close()
    assert isinstance(first, Classified)
    assert waiting_before >= 2      # 3, or 2 if the worker took the next one before this look
    assert (waiting_after, admitted) == (0, 0)
    assert len(seen) == 1, "work was done for a client that had left"


def test_a_failing_metrics_observer_never_costs_a_worker(bundle, photos):
    def broken(_p, _i):
        raise RuntimeError("metrics backend down")

    pool = started(bundle, workers=1, queue=2, observe=broken)

    async def two():
        return [await asyncio.wait_for(pool.classify(photos[0][0]), WAIT_S) for _ in range(2)]

    try:
        outcomes = asyncio.run(two())
    finally:
        pool.close()
    assert all(isinstance(o, Classified) for o in outcomes)


def test_close_stops_idle_workers(bundle):
    pool = started(bundle, workers=2, queue=0, observe=recorder([]))
    threads = list(pool._threads)
    pool.close(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert not pool.ready
