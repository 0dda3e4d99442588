"""Fixed-rate cost: what a model costs at a camera's frame rate, in CPU time, not only latency.

A camera loop asks for one prediction every 1/hz seconds and sleeps in between. Latency alone hides
what happens in the gaps: ONNX Runtime's intra-op threads busy-wait for work by default, so a model
that answers in 0.2 ms can keep cores at 100% between frames. Each measurement runs in a fresh
process holding only that one Classifier, so the process's CPU time (all its threads) is the model's.

    python -m fashion_edge.benchmarks.fixed_rate BUNDLE FORMAT BACKEND OPTIONS_JSON HZ SECONDS [HZ SECONDS ...]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.options import EngineOptions


class FixedRateError(FashionEdgeError):
    """The child process that measures a fixed-rate loop failed."""


@dataclass(frozen=True)
class FixedRate:
    hz: float
    p50_us: float
    p99_us: float
    cpu_ms_per_inference: float    # process CPU time (every thread) / predictions
    cpu_percent: float             # process CPU time / wall time, 100 = one core busy
    n: int

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _loop(predict, frame, hz: float, seconds: float) -> FixedRate:
    period = 1.0 / hz
    n = max(int(hz * seconds), 1)
    latencies = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0
    for _ in range(n):
        start = time.perf_counter()
        predict(frame)
        latencies.append(time.perf_counter() - start)
        deadline += period
        pause = deadline - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    p50, p99 = np.percentile(np.asarray(latencies) * 1e6, [50, 99])
    return FixedRate(hz, float(p50), float(p99), cpu * 1e3 / n, 100 * cpu / wall, n)


def measure(bundle: str, fmt: str, backend: str, options: EngineOptions,
            rates: list[tuple[float, float]]) -> list[FixedRate]:
    """Run the loops in a fresh process; [(hz, seconds)] -> one FixedRate per rate."""
    args = [sys.executable, "-m", "fashion_edge.benchmarks.fixed_rate", bundle, fmt, backend,
            json.dumps(options.to_json())] + [str(x) for rate in rates for x in rate]
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          timeout=60 + 3 * sum(s for _, s in rates))
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise FixedRateError(f"fixed-rate process for {fmt} on {backend} exited with {proc.returncode}: {last}")
    return [FixedRate(**row) for row in json.loads(proc.stdout.strip().splitlines()[-1])]


def main(argv: list[str]) -> int:
    from fashion_edge.runtime.classifier import Classifier

    bundle, fmt, backend, options = argv[0], argv[1], argv[2], EngineOptions(**json.loads(argv[3]))
    clf = Classifier(bundle, format=fmt, backend=backend, **options.to_json())
    frame = clf.bundle.golden().images[0]
    for _ in range(50):  # warm-up: first runs allocate and page in
        clf.predict(frame)
    pairs = [(float(argv[i]), float(argv[i + 1])) for i in range(4, len(argv), 2)]
    print(json.dumps([asdict(_loop(clf.predict, frame, hz, seconds)) for hz, seconds in pairs]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
