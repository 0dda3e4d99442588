"""Reliability study: fuzzed model files, fuzzed inputs, and a long run's memory.

    python -m fashion_edge.benchmarks.reliability artifacts/edge/bundle [--quick]

writes reliability.json next to the bundle (REPORT.md's "Reliability" section reads it).
Model files are mutated (truncated at many offsets, random bytes flipped) and handed to each
backend *directly*, past the sha256 check a bundle would apply, to see whether the native runtimes
survive malformed files; each case runs in a child process so a crash is counted, not fatal.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_edge.benchmarks.images import bench_images
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.backends import BACKENDS, available_backends
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.formats import FORMATS

MODEL_FILE_CASES = 300          # per (format, backend); a slow backend gets SLOW_CASES
SLOW_CASES = QUICK_CASES = 40


def mutations(blob: bytes, n: int, rng: np.random.Generator) -> list[bytes]:
    """Half truncations at spread offsets, half copies with 1-16 random bytes overwritten."""
    cases = [blob[:int(k)] for k in np.linspace(0, len(blob) - 1, n // 2).astype(int)]
    for _ in range(n - len(cases)):
        data = bytearray(blob)
        for pos in rng.integers(0, len(data), int(rng.integers(1, 17))):
            data[pos] = int(rng.integers(0, 256))
        cases.append(bytes(data))
    return cases


def fuzz_model(blob: bytes, backend: str, n: int, seed: int = 0, shape: tuple[int, int, int] = (28, 28, 1)) -> dict:
    """`n` mutated copies of a model file, each loaded and run on a frame of `shape` in a child process."""
    cases = mutations(blob, n, np.random.default_rng(seed))
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            Path(tmp, f"{i:05d}.bin").write_bytes(case)
        start = 0
        while start < len(cases):
            proc = subprocess.run([sys.executable, "-m", "fashion_edge.benchmarks.fuzz_worker", backend, tmp, str(start),
                                   "x".join(map(str, shape))],
                                  capture_output=True, text=True, timeout=1800)
            done = [line.split(" ", 2) for line in proc.stdout.splitlines() if line.startswith("done ")]
            for _, _, verdict in done:
                counts[verdict] += 1
            last = int(done[-1][1]) if done else start - 1
            if proc.returncode != 0:  # the case after the last finished one killed the process
                counts[f"crash (exit {proc.returncode})"] += 1
                last += 1
            start = last + 1
    return {"cases": len(cases), "outcomes": dict(counts),
            "crashes": sum(v for k, v in counts.items() if k.startswith("crash"))}


def _input_cases(rng: np.random.Generator, photo: bytes) -> list:
    """Random arrays (shapes, dtypes, NaN/inf), random bytes, real headers with garbage, truncations."""
    cases: list = []
    dtypes = [np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_, np.complex64, np.int8]
    for _ in range(300):
        shape = tuple(int(s) for s in rng.integers(0, 64, rng.integers(0, 5)))
        dtype = dtypes[int(rng.integers(len(dtypes)))]
        array = (rng.normal(100, 200, shape)).astype(dtype) if dtype != np.bool_ else rng.random(shape) > 0.5
        if dtype in (np.float32, np.float64) and array.size and rng.random() < 0.3:
            array.flat[int(rng.integers(array.size))] = [np.nan, np.inf, -np.inf][int(rng.integers(3))]
        cases.append(array)
    headers = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00"]
    for _ in range(200):
        body = rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes()
        cases.append((headers[int(rng.integers(len(headers)))] if rng.random() < 0.7 else b"") + body)
    for cut in np.linspace(1, len(photo) - 1, 100).astype(int):
        cases.append(photo[:cut])
    for _ in range(100):
        data = bytearray(photo)
        for pos in rng.integers(0, len(data), int(rng.integers(1, 32))):
            data[pos] = int(rng.integers(0, 256))
        cases.append(bytes(data))
    side = 9000  # 81 MP of a 1-bit PNG: a decompression bomb of a few kilobytes
    bomb = io.BytesIO()
    Image.new("1", (side, side)).save(bomb, "PNG")
    cases.append(bomb.getvalue())
    return cases


def fuzz_inputs(clf: Classifier, photo: bytes, seed: int = 0) -> dict:
    counts: Counter = Counter()
    for case in _input_cases(np.random.default_rng(seed), photo):
        try:
            clf.predict(case)
            counts["prediction"] += 1
        except FashionEdgeError:
            counts["typed-error"] += 1
        except Exception as exc:  # noqa: BLE001 - exactly what the study counts
            counts[f"untyped-error {type(exc).__name__}"] += 1
    return {"cases": sum(counts.values()), "outcomes": dict(counts),
            "untyped": sum(v for k, v in counts.items() if k.startswith("untyped"))}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def long_run(clf: Classifier, pixels: np.ndarray, n: int, warmup: int = 5000) -> dict:
    """RSS after warm-up vs after n more predictions (cycling through real test images)."""
    for i in range(warmup):
        clf.predict(pixels[i % len(pixels)])
    gc.collect()
    before, peak = _rss_mb(), 0.0
    start = time.perf_counter()
    for i in range(n):
        clf.predict(pixels[i % len(pixels)])
        if i % 10000 == 0:
            peak = max(peak, _rss_mb())
    gc.collect()
    after = _rss_mb()
    return {"predictions": n, "warmup": warmup, "rss_before_mb": round(before, 2), "rss_after_mb": round(after, 2),
            "growth_mb": round(after - before, 3), "seconds": round(time.perf_counter() - start, 1)}


def study(bundle_path: Path, quick: bool = False) -> dict:
    bundle = Bundle.load(bundle_path)
    contract = bundle.manifest.input
    data = bench_images(bundle)
    photo = photo_for(data.frames[0], contract.preprocessing.id, 224, 224, noise=0)
    report: dict = {"model": bundle.model, "model_files": {}, "inputs": {}, "long_run": {}}
    for fmt in bundle.formats:
        blob = bundle.read_model(fmt)
        for backend in available_backends(fmt):
            n = QUICK_CASES if quick else SLOW_CASES if BACKENDS[backend].slow else MODEL_FILE_CASES
            report["model_files"][f"{fmt}|{backend}"] = fuzz_model(blob, backend, n, shape=contract.shape[1:])
            print(f"  model-file fuzz {fmt:15s} {backend:14s} {report['model_files'][f'{fmt}|{backend}']}", flush=True)
    clf = Classifier(bundle)
    report["inputs"] = fuzz_inputs(clf, photo)
    print(f"  input fuzz {report['inputs']}", flush=True)
    # the long run: every statically quantized file (what devices run) on its preferred backend
    for fmt in (f for f in bundle.formats if FORMATS[f].calibrated):
        for backend in available_backends(fmt)[:1]:
            run = long_run(Classifier(bundle, format=fmt, backend=backend),
                           data.frames[:1000].reshape(-1, *contract.frame_shape),
                           10_000 if quick else 100_000, warmup=1000 if quick else 5000)
            report["long_run"][f"{fmt}|{backend}"] = run
            print(f"  long run {fmt} {backend}: {run}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_edge.benchmarks.reliability")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report = study(args.bundle, args.quick)
    out = args.bundle.parent
    from fashion_edge.train.artifacts import write_text_atomic

    write_text_atomic(out / "reliability.json", json.dumps(report, indent=1))
    print(f"wrote {out / 'reliability.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
