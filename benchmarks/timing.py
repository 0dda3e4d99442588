"""Timing loops that are fair to every candidate.

Candidates are measured in rounds: each round runs every candidate for a slice of its iterations,
in turn, so a burst of machine noise lands on all of them instead of favouring whichever ran in a
quiet moment. Each call is timed on its own with perf_counter_ns after a warm-up.

A candidate can be paired with another (`Classifier.predict` with the bare loop of its own
interpreter): the two then alternate call by call. The speed of these machines drifts by tens of
percent within a minute: timed in separate slices, `predict` on the edge model came out 20 µs faster
than the bare loop of its own interpreter (99 vs 119 µs p50), several times the few µs that the
difference is meant to show.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

Call = Callable[[], object]


def time_calls(fn: Call, n: int) -> list[float]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        fn()
        samples.append((clock() - start) * 1e-9)
    return samples


def time_pair(first: Call, second: Call, n: int) -> tuple[list[float], list[float]]:
    """n calls of each, alternating, and each going first every other time: whatever the machine does
    meanwhile, and whatever one call leaves in the caches for the next, lands on both alike."""
    clock = time.perf_counter_ns
    a, b = [], []
    for i in range(n):
        one, other = (first, second) if i % 2 == 0 else (second, first)
        start = clock()
        one()
        middle = clock()
        other()
        end = clock()
        ta, tb = (middle - start, end - middle) if i % 2 == 0 else (end - middle, middle - start)
        a.append(ta * 1e-9)
        b.append(tb * 1e-9)
    return a, b


def measure_in_rounds(candidates: dict[str, tuple[Call, int]], rounds: int, warmup: int = 50,
                      paired: Mapping[str, str] | None = None) -> dict[str, list[float]]:
    """{name: (fn, total iterations)} -> {name: per-call seconds}, interleaved over `rounds` rounds.

    `paired` {name: partner}: the partner (same number of iterations) is timed alternately with it.
    """
    paired = dict(paired or {})
    partners = set(paired.values())
    for name, partner in paired.items():
        if partner not in candidates or partner in paired or candidates[partner][1] != candidates[name][1]:
            raise ValueError(f"{name!r} must be paired with another candidate of as many iterations, not {partner!r}")
    for fn, _ in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name, (fn, total) in candidates.items():
            share = total // rounds + (1 if r < total % rounds else 0)
            if name in paired:
                a, b = time_pair(fn, candidates[paired[name]][0], share)
                samples[name] += a
                samples[paired[name]] += b
            elif name not in partners:
                samples[name] += time_calls(fn, share)
    return samples
