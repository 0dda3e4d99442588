"""Timing loops that are fair to every candidate.

Candidates are measured in rounds: each round runs every candidate for a slice of its iterations,
in turn, so a burst of machine noise lands on all of them instead of favouring whichever ran in a
quiet moment. Each call is timed on its own with perf_counter_ns after a warm-up.
"""
from __future__ import annotations

import time
from typing import Callable

Call = Callable[[], object]


def time_calls(fn: Call, n: int) -> list[float]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        fn()
        samples.append((clock() - start) * 1e-9)
    return samples


def measure_in_rounds(candidates: dict[str, tuple[Call, int]], rounds: int, warmup: int = 50) -> dict[str, list[float]]:
    """{name: (fn, total iterations)} -> {name: per-call seconds}, interleaved over `rounds` rounds."""
    for fn, _ in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        for name, (fn, total) in candidates.items():
            share = total // rounds + (1 if r < total % rounds else 0)
            samples[name] += time_calls(fn, share)
    return samples
