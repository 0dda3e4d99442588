"""What this CPU attains, in MAC/s, through the runtimes that run the bundle.

A bundle's model is small: at batch of one its speed is bounded by overheads, not arithmetic. To say
how far each format is from what the CPU can do, the same runtimes run one large 3x3 convolution
(56x56x64 -> 64: 116M MACs, big enough for their GEMM kernels to reach full speed) in float32 and
int8, on 1..N threads. An entry's `peak_fraction` is its achieved MAC/s (model MACs / p50 latency)
over the attainable MAC/s of its runtime, precision and thread count.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from importlib import resources

import numpy as np

from fashion_edge.benchmarks.bare import bare_call
from fashion_edge.runtime.backends import BACKENDS, runtime_for
from fashion_edge.runtime.formats import DEFAULT_FORMAT, get_format
from fashion_edge.runtime.options import EngineOptions

SIDE, CHANNELS = 56, 64
MACS = SIDE * SIDE * CHANNELS * CHANNELS * 9
METHOD = (f"3x3 conv {SIDE}x{SIDE}x{CHANNELS}->{CHANNELS} ({MACS / 1e6:.0f}M MACs), median of timed runs, "
          "through the same runtime (LiteRT/XNNPACK for TFLite files, ONNX Runtime for ONNX/ORT files)")
# which roofline a format's arithmetic is judged against
KIND = {"float32": "float32", "float16": "float32", "dynamic": "int8", "int8": "int8", "int16x8": "int8"}
FILES = {"tflite": "tflite", "onnx": "onnx"}   # family of the runtime -> extension of its roofline model


@dataclass(frozen=True)
class Roofline:
    gmacs: dict[str, dict[str, dict[int, float]]]   # runtime -> kind -> threads -> GMAC/s

    def attainable(self, family: str, precision: str, threads: int | None) -> float | None:
        table = self.gmacs.get(runtime_for(family).name, {}).get(KIND.get(precision, ""), {})
        return table.get(threads or 1)

    def to_json(self) -> dict:
        lite = self.gmacs.get(runtime_for(get_format(DEFAULT_FORMAT).family).name, {})
        return {"int8_gmacs": lite.get("int8", {}).get(1), "float32_gmacs": lite.get("float32", {}).get(1),
                "method": METHOD,
                "by_runtime": {rt: {kind: {str(t): round(v, 2) for t, v in by_t.items()} for kind, by_t in kinds.items()}
                               for rt, kinds in self.gmacs.items()}}


def _model(name: str) -> bytes:
    return resources.files("fashion_edge.benchmarks").joinpath("roofline", name).read_bytes()


def _runner(runtime: str, kind: str, threads: int):
    """The runtime's own run loop (the benchmark's bare loop) over the roofline model."""
    spec = BACKENDS[runtime]
    family = next(f for f in spec.families if f in FILES)
    model = _model(f"conv.{kind}.{FILES[family]}")
    return bare_call(runtime, model, np.ones(SIDE * SIDE * CHANNELS, np.int8), EngineOptions(threads=threads))


def _gmacs(run, runs: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return MACS / statistics.median(times) / 1e9


def measure(runtimes: list[str], threads: list[int], runs: int = 20) -> Roofline:
    """Attainable GMAC/s for each installed runtime, kind and thread count."""
    table: dict[str, dict[str, dict[int, float]]] = {}
    for runtime in runtimes:
        for kind in ("float32", "int8"):
            for t in threads:
                table.setdefault(runtime, {}).setdefault(kind, {})[t] = _gmacs(_runner(runtime, kind, t), runs)
    return Roofline(table)
