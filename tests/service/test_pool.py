"""The interpreter pool on its own (no HTTP): who takes a job, what a burst gets, when it refuses."""
from __future__ import annotations

import asyncio
import threading

import pytest

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.service.pool import Classified, InferencePool, QueueFull

pytest.importorskip("fastapi")   # the pool is part of the [serve] install


@pytest.fixture(scope="module")
def bundle(linear_bundle):
    """The linear model: quick to train, and the pool's dispatch does not depend on the model."""
    return Bundle.load(linear_bundle.bundle)


def started(bundle, workers: int, queue: int, seen: list[str]) -> InferencePool:
    """A loaded pool whose observer records the name of the worker thread that ran each job."""
    pool = InferencePool(bundle, "tflite-int8", None, workers, queue,
                         lambda _p, _i: seen.append(threading.current_thread().name))
    pool.start().join(120)
    assert pool.ready, pool.failure
    return pool


def test_one_client_at_a_time_is_served_by_the_same_warm_worker(bundle, photos):
    """Jobs one after another go to the worker idle last, not round the pool: its caches are still warm."""
    seen: list[str] = []
    pool = started(bundle, workers=2, queue=4, seen=seen)
    clf = Classifier(bundle, format="tflite-int8")

    async def one_by_one():
        return [await pool.classify(data) for data, _ in photos[:12]]

    try:
        outcomes = asyncio.run(one_by_one())
    finally:
        pool.close()
    assert [o.prediction for o in outcomes] == [clf.predict(data) for data, _ in photos[:12]]
    assert len(seen) == 12 and len(set(seen)) == 1, seen


def test_a_burst_uses_every_worker_and_every_job_is_answered(bundle, photos):
    seen: list[str] = []
    pool = started(bundle, workers=2, queue=30, seen=seen)
    clf = Classifier(bundle, format="tflite-int8")
    burst = [data for data, _ in photos] * 2

    async def at_once():
        outcomes = await asyncio.gather(*(pool.classify(data) for data in burst))
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
    pool = started(bundle, workers=1, queue=1, seen=[])

    async def three():
        return await asyncio.gather(*(pool.classify(photos[0][0]) for _ in range(3)), return_exceptions=True)

    try:
        outcomes = asyncio.run(three())
    finally:
        pool.close()
    assert [type(o) for o in outcomes] == [Classified, Classified, QueueFull]


def test_close_stops_idle_workers(bundle):
    pool = started(bundle, workers=2, queue=0, seen=[])
    threads = list(pool._threads)
    pool.close(timeout=10)
    assert not any(t.is_alive() for t in threads)
