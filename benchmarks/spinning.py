"""ONNX Runtime's intra-op spinning, paired: p50 with spinning off and with the runtime's default, each over spinning on.

The bench times each entry in slices of its own (timing.py), and on these machines two slices a few
seconds apart can differ by more than the 10% the spinning target allows (in separate slices onnx-int8
with the 200 µs spin measured 17% slower than spinning on; paired, the two behave alike).
Here the settings take turns in short blocks, each going first every other time, and a block starts
only after a pause long enough for a spinning worker to have gone to sleep, so that one setting's
spinning thread does not take a core from the next block. The ratio is the median over blocks of
each block's p50 ratio, so the drift between blocks cancels. `bench` runs it for the spinning targets'
p50 ratios (their CPU cost comes from the fixed-rate entries).

    python -m fashion_edge.benchmarks.spinning BUNDLE [--format onnx-int8] [--threads 2] [--blocks 40]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Mapping

import numpy as np

from fashion_edge.benchmarks.timing import time_calls
from fashion_edge.runtime.backends import BACKENDS
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.formats import FORMATS

SETTLE_S = 0.1      # ONNX Runtime's spinning worker gives up long before this (bench: ~56 ms of CPU per run)


def backend() -> str:
    """The backend whose engine options include spinning (ONNX Runtime)."""
    return next(name for name, spec in BACKENDS.items() if "spinning" in spec.options)


def subject() -> str:
    """The format the spinning targets are about: the statically quantized ONNX file (onnx-int8)."""
    return next(f for f, spec in FORMATS.items() if spec.family == "onnx" and spec.calibrated)


def settings() -> dict[str, bool | int | None]:
    """Spinning on, off, and the runtime's default for it (a bounded spin, chosen from these measurements)."""
    return {"on": True, "off": False, "default": BACKENDS[backend()].defaults.spinning}


@dataclass(frozen=True)
class SpinningStudy:
    format: str
    threads: int
    blocks: int
    calls_per_block: int
    settings: Mapping[str, bool | int | None]   # name -> the `spinning` option
    p50_us: Mapping[str, float]                 # over every timed call of the setting
    ratio_over_on: Mapping[str, float]          # median over blocks of (block p50 / spinning on's block p50)

    def to_json(self) -> dict:
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    @classmethod
    def read(cls, o: Obj) -> "SpinningStudy":
        ratios, p50 = o.obj("ratio_over_on"), o.obj("p50_us")
        return cls(o.str("format"), o.int("threads", minimum=1), o.int("blocks", minimum=1),
                   o.int("calls_per_block", minimum=1), dict(o.obj("settings").raw),
                   {k: p50.float(k, minimum=0.0) for k in p50.raw}, {k: ratios.float(k, minimum=0.0) for k in ratios.raw})


def measure(bundle: str, fmt: str | None = None, threads: int = 2, blocks: int = 40,
            calls: int = 50, settle_s: float = SETTLE_S) -> SpinningStudy:
    fmt = fmt or subject()
    chosen = settings()
    clfs = {name: Classifier(bundle, format=fmt, backend=backend(), threads=threads, spinning=spin)
            for name, spin in chosen.items()}
    frame = np.zeros(next(iter(clfs.values())).contract.frame_shape, np.uint8)   # a device frame of the bundle
    for clf in clfs.values():
        for _ in range(100):
            clf.predict(frame)
    block_p50: dict[str, list[float]] = {name: [] for name in clfs}
    every: dict[str, list[float]] = {name: [] for name in clfs}
    names = list(clfs)
    for b in range(blocks):
        for name in names if b % 2 == 0 else names[::-1]:
            time.sleep(settle_s)
            predict = clfs[name].predict
            for _ in range(5):          # the first calls after a pause wake the pool: not timed
                predict(frame)
            samples = [t * 1e6 for t in time_calls(partial(predict, frame), calls)]
            block_p50[name].append(statistics.median(samples))
            every[name] += samples
    on = block_p50["on"]
    return SpinningStudy(fmt, threads, blocks, calls, chosen,
                         {name: round(statistics.median(v), 1) for name, v in every.items()},
                         {name: round(statistics.median([a / b for a, b in zip(block_p50[name], on)]), 3)
                          for name in names if name != "on"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_edge.benchmarks.spinning", description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--format", default=subject())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        study = measure(args.bundle, args.format, args.threads, args.blocks, args.calls)
    except FashionEdgeError as exc:     # no bundle, no such format, onnxruntime not installed
        print(f"spinning: {exc}", file=sys.stderr)
        return exc.exit_code     # 1 the work failed; 2 a missing extra (onnxruntime)
    print(json.dumps(study.to_json(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
