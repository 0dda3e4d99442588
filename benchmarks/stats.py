"""Latency statistics in the shape the results schema promises (microseconds)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float
    n: int

    @classmethod
    def from_seconds(cls, samples) -> "LatencyStats":
        us = np.asarray(samples, dtype=np.float64) * 1e6
        if us.size == 0:
            raise ValueError("no samples")
        p50, p90, p99 = np.percentile(us, [50, 90, 99])
        return cls(float(us.mean()), float(p50), float(p90), float(p99), float(us.min()), float(us.max()), int(us.size))

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


LATENCY_KEYS = ("mean", "p50", "p90", "p99", "min", "max", "n")
