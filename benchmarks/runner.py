"""`fashion-edge bench`: every (format, backend) of a bundle side by side with Keras.

All latency candidates (Classifier.predict and the bare loop of every pair, plus the Keras
baselines) are measured interleaved in rounds, so noise lands on all of them alike.
"""
from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from fashion_edge.benchmarks import coldstart
from fashion_edge.benchmarks.bare import bare_call
from fashion_edge.benchmarks.stats import LatencyStats
from fashion_edge.benchmarks.timing import measure_in_rounds, time_calls
from fashion_edge.runtime.backends import available_backends
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.versions import library_versions


@dataclass(frozen=True)
class BenchConfig:
    bundle: Path
    quick: bool = False
    runs: int = 2000               # timed batch-of-one calls per candidate
    rounds: int = 5
    keras_predict_runs: int = 300  # model.predict costs milliseconds per call
    e2e_runs: int = 300
    cold_repeats: int = 3
    throughput_batch: int = 2000
    data_dir: Path | None = None

    def effective(self) -> "BenchConfig":
        if not self.quick:
            return self
        return BenchConfig(self.bundle, True, runs=200, rounds=2, keras_predict_runs=20, e2e_runs=20,
                           cold_repeats=1, throughput_batch=200, data_dir=self.data_dir)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "arch": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "versions": library_versions()}


def _photo(pixels: np.ndarray, folder: Path) -> Path:
    """A test image as a 320x320 JPEG shop photo, for end-to-end timing."""
    big = Image.fromarray(255 - pixels).resize((224, 224), Image.Resampling.BICUBIC).convert("RGB")
    canvas = Image.new("RGB", (320, 320), "white")
    canvas.paste(big, (40, 60))
    path = folder / "photo.jpg"
    canvas.save(path, "JPEG", quality=90)
    return path


def _keras(bundle: Bundle):
    path = bundle.path.parent / "model.keras"
    try:
        import keras
    except ImportError:
        return None, path
    return (keras.saving.load_model(path) if path.is_file() else None), path


def run_bench(config: BenchConfig, log: Callable[[str], None] = print) -> dict:
    cfg = config.effective()
    from fashion_edge.train.data import load_fashion_mnist

    bundle = Bundle.load(cfg.bundle)
    data = load_fashion_mnist(cfg.data_dir, allow_download=False)
    test_x, test_y = data.x_test, data.y_test
    one = test_x[0]
    model, model_path = _keras(bundle)
    keras_logits = model.predict(test_x[..., None].astype(np.float32), batch_size=1000, verbose=0) if model else None
    macs = bundle.manifest.get("macs_per_image")

    pairs = []
    for fmt in bundle.formats:
        for backend in available_backends(fmt):
            thread_options = [1] if backend == "onnx-reference" or cfg.quick else [1, 2]
            pairs += [(fmt, backend, t) for t in thread_options]
    log(f"{bundle.model}: {len(pairs)} (format, backend, threads) entries + Keras baselines; "
        f"{cfg.runs} timed runs each in {cfg.rounds} interleaved rounds")

    entries, candidates, classifiers = [], {}, {}
    for fmt, backend, threads in pairs:
        clf = Classifier(bundle, format=fmt, backend=backend, threads=threads)
        key = f"{fmt}|{backend}|{threads}"
        classifiers[key] = clf
        runs = cfg.runs if backend != "onnx-reference" else max(cfg.runs // 20, 20)
        candidates[key + "|predict"] = ((lambda c=clf: c.predict(one)), runs)
        candidates[key + "|bare"] = (bare_call(backend, bundle.read_model(fmt), one, threads), runs)
    if model is not None:
        x1 = one.reshape(1, 28, 28, 1).astype(np.float32)
        candidates["keras|keras-call|predict"] = ((lambda: model(x1, training=False)), max(cfg.runs // 4, 20))
        candidates["keras|keras-predict|predict"] = ((lambda: model.predict(x1, verbose=0)), cfg.keras_predict_runs)
    samples = measure_in_rounds(candidates, cfg.rounds, warmup=10 if cfg.quick else 50)

    with tempfile.TemporaryDirectory() as tmp:
        photo = _photo(one, Path(tmp))
        for fmt, backend, threads in pairs:
            key = f"{fmt}|{backend}|{threads}"
            clf = classifiers[key]
            start = time.perf_counter()
            # The pure-Python evaluator needs minutes for 10,000 images: it is measured on 1,000.
            n_acc = len(test_x) if backend != "onnx-reference" else (200 if cfg.quick else 1000)
            logits = clf.logits(test_x[:n_acc])
            top1 = logits.argmax(1)
            e2e_runs = cfg.e2e_runs if backend != "onnx-reference" else max(cfg.e2e_runs // 10, 5)
            e2e = LatencyStats.from_seconds(time_calls(lambda: clf.predict(photo), e2e_runs))
            batch = test_x[: cfg.throughput_batch if backend != "onnx-reference" else min(cfg.throughput_batch, 500)]
            t0 = time.perf_counter()
            clf.logits(batch)
            throughput = len(batch) / (time.perf_counter() - t0)
            cold = coldstart.measure(coldstart.runtime_code(str(bundle.path), fmt, backend, threads), cfg.cold_repeats)
            latency = LatencyStats.from_seconds(samples[key + "|predict"])
            bare = LatencyStats.from_seconds(samples[key + "|bare"])
            entries.append({
                "format": fmt, "backend": backend, "threads": threads,
                "size_bytes": bundle.entry(fmt).bytes,
                "accuracy": float((top1 == test_y[:n_acc]).mean()), "accuracy_images": int(n_acc),
                "agreement_with_keras": (float((top1 == keras_logits[:n_acc].argmax(1)).mean())
                                         if keras_logits is not None else bundle.entry(fmt).parity.get("agreement")),
                "cold_start_s": round(cold.seconds, 4), "peak_rss_mb": round(cold.peak_rss_mb, 1),
                "latency_us": latency.to_json(), "bare_latency_us": bare.to_json(),
                "e2e_latency_us": e2e.to_json(), "throughput_ips": round(throughput, 1),
                "macs_per_image": macs,
                "macs_per_s_at_p50": (macs / (latency.p50 * 1e-6)) if macs else None,
                "samples_us": [round(s * 1e6, 2) for s in samples[key + "|predict"]],
            })
            log(f"  {fmt:15s} {backend:14s} t={threads}  p50 {latency.p50:8.1f} us  bare {bare.p50:8.1f} us  "
                f"e2e {e2e.p50:8.1f} us  cold {cold.seconds:5.2f} s  {cold.peak_rss_mb:6.1f} MB  "
                f"[{time.perf_counter() - start:.1f} s]")
    if model is not None:
        for backend, call in (("keras-call", True), ("keras-predict", False)):
            cold = coldstart.measure(coldstart.keras_code(str(model_path), call), cfg.cold_repeats)
            latency = LatencyStats.from_seconds(samples[f"keras|{backend}|predict"])
            t0 = time.perf_counter()
            model.predict(test_x[: cfg.throughput_batch, ..., None].astype(np.float32), batch_size=256, verbose=0)
            throughput = cfg.throughput_batch / (time.perf_counter() - t0)
            keras_acc = float((keras_logits.argmax(1) == test_y).mean())
            entries.append({
                "format": "keras", "backend": backend, "threads": None, "size_bytes": model_path.stat().st_size,
                "accuracy": keras_acc, "accuracy_images": len(test_y), "agreement_with_keras": 1.0,
                "cold_start_s": round(cold.seconds, 4), "peak_rss_mb": round(cold.peak_rss_mb, 1),
                "latency_us": latency.to_json(), "bare_latency_us": latency.to_json(), "e2e_latency_us": None,
                "throughput_ips": round(throughput, 1), "macs_per_image": macs,
                "macs_per_s_at_p50": (macs / (latency.p50 * 1e-6)) if macs else None,
                "samples_us": [round(s * 1e6, 2) for s in samples[f"keras|{backend}|predict"]],
            })
            log(f"  {'keras':15s} {backend:14s}      p50 {latency.p50:8.1f} us  cold {cold.seconds:5.2f} s  {cold.peak_rss_mb:6.1f} MB")
    return {"model": bundle.model, "machine": machine(),
            "settings": {"quick": cfg.quick, "runs": cfg.runs, "rounds": cfg.rounds,
                         "keras_predict_runs": cfg.keras_predict_runs, "e2e_runs": cfg.e2e_runs,
                         "cold_start_repeats": cfg.cold_repeats, "throughput_batch": cfg.throughput_batch},
            "results": entries}
