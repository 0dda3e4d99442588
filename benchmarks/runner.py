"""`fashion-edge bench`: every (format, backend, engine options) of a bundle side by side with Keras.

All latency candidates (Classifier.predict and the bare loop of every entry, plus the Keras
baselines) are measured interleaved in rounds, so noise lands on all of them alike. Fixed-rate CPU
cost and cold start are measured in fresh processes, one per entry, so each sees only its own model.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from fashion_edge.benchmarks import coldstart, fixed_rate, roofline, spinning
from fashion_edge.benchmarks.environment import environment
from fashion_edge.benchmarks.images import bench_images
from fashion_edge.benchmarks.photos import PIXEL_BUDGET, describe, measure_photos
from fashion_edge.benchmarks.results import ResultEntry, Results
from fashion_edge.benchmarks.stats import LatencyStats
from fashion_edge.benchmarks.timing import measure_in_rounds, time_calls
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.backends import BACKENDS, BackendSpec, available_backends, runtime_for
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.formats import DEFAULT_FORMAT, FORMATS
from fashion_edge.runtime.options import EngineOptions
from fashion_edge.train.artifacts import library_versions

SLOW_SHARE = 20            # a slow entry (pure Python, reference kernels) gets 1/20 of the timed runs
SLOW_ACCURACY_IMAGES = 1000
SLOW_FORMATS = {"int16x8"}  # LiteRT runs 16-bit activations on reference kernels: milliseconds per image
DEFAULT_RATES = (10.0, 30.0)  # a camera loop's frame rates

BARE_TIMING = "the engine's own loop on predict's interpreter, alternated with predict call by call"


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
    rates: tuple[float, ...] = DEFAULT_RATES
    rate_seconds: float = 4.0      # per rate and entry (at least 40 frames at 10 Hz)
    min_accuracy: float | None = None
    data_dir: Path | None = None

    def effective(self) -> "BenchConfig":
        if not self.quick:
            return self
        return replace(self, runs=200, rounds=2, keras_predict_runs=20, e2e_runs=20, cold_repeats=1,
                       throughput_batch=200, rate_seconds=1.0)


@dataclass(frozen=True)
class Candidate:
    """One (format, backend, engine options) under test."""

    format: str
    backend: str
    options: EngineOptions

    @property
    def key(self) -> str:
        return f"{self.format}|{self.backend}|{sorted(self.options.given().items())}"

    @property
    def slow(self) -> bool:
        return BACKENDS[self.backend].slow or FORMATS[self.format].precision in SLOW_FORMATS


def option_grid(spec: BackendSpec, cores: int, quick: bool) -> list[EngineOptions]:
    """Threads 1..cores (1, 2, 4, ... and all cores); XNNPACK off, spinning off and on as extra entries."""
    if not spec.options or quick:
        return [spec.resolve(EngineOptions())]
    threads = sorted({t for t in (1, 2, 4, 8) if t <= cores} | {cores})
    grid = [spec.resolve(EngineOptions(threads=t)) for t in threads]
    if "xnnpack" in spec.options:
        grid.append(spec.resolve(EngineOptions(threads=1, xnnpack=False)))
    if "spinning" in spec.options:  # with one thread there is no worker thread to spin
        grid += [spec.resolve(EngineOptions(threads=t, spinning=s)) for t in threads if t > 1 for s in (False, True)]
    return list(dict.fromkeys(grid))


def run_bench(config: BenchConfig, log: Callable[[str], None] = print) -> Results:
    cfg = config.effective()
    bundle = Bundle.load(cfg.bundle)
    data = bench_images(bundle, cfg.data_dir)
    model, model_path = _keras(bundle)
    keras_logits = model.predict(data.frames.astype(np.float32), batch_size=250, verbose=0) if model else None
    candidates = [Candidate(fmt, b, opts) for fmt in bundle.formats for b in available_backends(fmt)
                  for opts in option_grid(BACKENDS[b], os.cpu_count() or 1, cfg.quick)]
    log(f"{bundle.model}: {len(candidates)} (format, backend, options) entries + Keras baselines; "
        f"{cfg.runs} timed runs each in {cfg.rounds} interleaved rounds; accuracy on {data.source}")
    roof = _roofline(bundle, candidates, cfg, log)
    classifiers = {c.key: Classifier(bundle, format=c.format, backend=c.backend, **c.options.to_json())
                   for c in candidates}
    one = data.frames[0].reshape(bundle.manifest.input.frame_shape)
    samples = _latency(bundle, candidates, classifiers, model, one, cfg)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        photo.write_bytes(photo_for(data.frames[0], bundle.manifest.input.preprocessing.id, 320, 320, noise=0))
        for c in candidates:
            entries.append(_measure(bundle, c, classifiers[c.key], samples, photo, data, keras_logits, roof, cfg, log))
    if model is not None:
        entries += _keras_entries(bundle, model, model_path, keras_logits, samples, data, cfg, log)
    photos = _photos(bundle, data.frames[0], cfg, log)
    spin = _spinning(bundle, candidates, cfg, log)
    settings = {"quick": cfg.quick, "bare_timing": BARE_TIMING, "runs": cfg.runs, "rounds": cfg.rounds, "keras_predict_runs": cfg.keras_predict_runs,
                "e2e_runs": cfg.e2e_runs, "cold_start_repeats": cfg.cold_repeats, "throughput_batch": cfg.throughput_batch,
                "rates_hz": list(cfg.rates), "rate_seconds": cfg.rate_seconds, "min_accuracy": cfg.min_accuracy}
    env = environment(library_versions())
    machine = {"cpu": env["cpu"], "arch": env["arch"], "cores": env["cores"], "python": env["python"],
               "versions": env["versions"]}
    return Results(bundle.model, machine, settings, tuple(entries), env, roof.to_json() if roof else None,
                   tuple(t.to_json() for t in photos), spin)


def _photos(bundle: Bundle, pixels: np.ndarray, cfg: BenchConfig, log):
    """Phone-size photos and a camera frame, end to end on the default format, beside Pillow's decode."""
    timings = measure_photos(Classifier(bundle, format=DEFAULT_FORMAT), pixels, rounds=cfg.rounds,
                             pixel_budget=50_000_000 if cfg.quick else PIXEL_BUDGET)
    for line in describe(timings).splitlines():
        log(f"  {line}")
    return timings


def _spinning(bundle: Bundle, candidates: list[Candidate], cfg: BenchConfig, log) -> spinning.SpinningStudy | None:
    """The spinning targets' p50 ratios, timed in turns (benchmarks/spinning.py), when the grid has their entries."""
    fmt, backend = spinning.subject(), spinning.backend()
    if not any(c.format == fmt and c.backend == backend and c.options.threads == 2 and c.options.spinning is False
               for c in candidates):
        return None
    start = time.perf_counter()
    study = spinning.measure(str(bundle.path), fmt, threads=2, blocks=4 if cfg.quick else 40, calls=10 if cfg.quick else 50)
    log(f"  spinning, paired ({fmt}, 2 threads) in {time.perf_counter() - start:.0f} s: p50 "
        + ", ".join(f"{k} {v:.1f} us" for k, v in study.p50_us.items()) + "; over on: "
        + ", ".join(f"{k} {v:.3f}" for k, v in study.ratio_over_on.items()))
    return study


def _keras(bundle: Bundle):
    path = bundle.path.parent / "model.keras"
    try:
        import keras
    except ImportError:
        return None, path
    return (keras.saving.load_model(path, compile=False) if path.is_file() else None), path


def _roofline(bundle: Bundle, candidates: list[Candidate], cfg: BenchConfig, log) -> roofline.Roofline | None:
    runtimes = sorted({runtime_for(FORMATS[c.format].family).name for c in candidates} & set(
        b for b in BACKENDS if BACKENDS[b].installed()))
    threads = sorted({c.options.threads or 1 for c in candidates})
    if not runtimes:
        return None
    start = time.perf_counter()
    roof = roofline.measure(runtimes, threads, runs=5 if cfg.quick else 20)
    log(f"  roofline ({', '.join(runtimes)}; threads {threads}) in {time.perf_counter() - start:.0f} s: "
        + "; ".join(f"{rt} {kind} t{t} {v:.1f} GMAC/s" for rt, kinds in roof.gmacs.items()
                    for kind, by_t in kinds.items() for t, v in by_t.items()))
    return roof


def _latency(bundle: Bundle, candidates: list[Candidate], classifiers: dict, model, one: np.ndarray,
             cfg: BenchConfig) -> dict[str, list[float]]:
    """Batch-of-one latency of every candidate, its bare loop and Keras, interleaved in rounds."""
    calls, paired = {}, {}
    for c in candidates:
        runs = max(cfg.runs // SLOW_SHARE, 20) if c.slow else cfg.runs
        clf = classifiers[c.key]
        calls[c.key + "|predict"] = ((lambda clf=clf: clf.predict(one)), runs)
        calls[c.key + "|bare"] = (clf.engine.bare_loop(one), runs)    # the same interpreter as predict's
        paired[c.key + "|predict"] = c.key + "|bare"                   # ... timed call by call beside it
    if model is not None:
        x1 = one.reshape(bundle.manifest.input.shape).astype(np.float32)
        calls["keras|keras-call|predict"] = ((lambda: model(x1, training=False)), max(cfg.runs // 4, 20))
        calls["keras|keras-predict|predict"] = ((lambda: model.predict(x1, verbose=0)), cfg.keras_predict_runs)
    return measure_in_rounds(calls, cfg.rounds, warmup=10 if cfg.quick else 50, paired=paired)


def _measure(bundle: Bundle, c: Candidate, clf: Classifier, samples: dict, photo: Path, data, keras_logits,
             roof: roofline.Roofline | None, cfg: BenchConfig, log: Callable[[str], None]) -> ResultEntry:
    """Accuracy, e2e latency, throughput, cold start and fixed-rate cost of one candidate."""
    start = time.perf_counter()
    n_acc = min(len(data.labels), SLOW_ACCURACY_IMAGES // (5 if cfg.quick else 1) if c.slow else len(data.labels))
    top1 = clf.logits(data.frames[:n_acc]).argmax(1)
    e2e = LatencyStats.from_seconds(time_calls(lambda: clf.predict(photo), max(cfg.e2e_runs // 10, 5) if c.slow else cfg.e2e_runs))
    batch = _batch(data.frames, min(cfg.throughput_batch, 200) if c.slow else cfg.throughput_batch)
    t0 = time.perf_counter()
    clf.logits(batch)
    throughput = len(batch) / (time.perf_counter() - t0)
    cold = coldstart.measure(coldstart.runtime_code(str(bundle.path), c.format, c.backend, c.options.to_json()),
                             cfg.cold_repeats)
    rates = fixed_rate.measure(str(bundle.path), c.format, c.backend, c.options,
                               [(hz, cfg.rate_seconds) for hz in cfg.rates])
    agreement = (float((top1 == keras_logits[:n_acc].argmax(1)).mean()) if keras_logits is not None
                 else bundle.entry(c.format).parity.agreement)
    latency = LatencyStats.from_seconds(samples[c.key + "|predict"])
    macs = bundle.manifest.macs_per_image
    attainable = roof.attainable(FORMATS[c.format].family, FORMATS[c.format].precision, c.options.threads) if roof else None
    accuracy = float((top1 == data.labels[:n_acc]).mean())
    entry = ResultEntry(
        c.format, c.backend, c.options.to_json(), bundle.entry(c.format).bytes, accuracy, int(n_acc), agreement,
        round(cold.seconds, 4), round(cold.peak_rss_mb, 1), latency,
        LatencyStats.from_seconds(samples[c.key + "|bare"]), e2e, round(throughput, 1), macs,
        tuple(round(s * 1e6, 2) for s in samples[c.key + "|predict"]), tuple(rates),
        (macs / (latency.p50 * 1e-6) / (attainable * 1e9)) if attainable and macs else None,
        "below floor" if cfg.min_accuracy is not None and accuracy < cfg.min_accuracy else "ok")
    rate = rates[0]
    log(f"  {c.format:15s} {c.backend:14s} {_opts(c.options):22s} p50 {latency.p50:8.1f} us  "
        f"bare {entry.bare_latency_us.p50:8.1f} us  e2e {e2e.p50:8.1f} us  cold {cold.seconds:5.2f} s  "
        f"{cold.peak_rss_mb:6.1f} MB  @{rate.hz:.0f} Hz {rate.cpu_ms_per_inference:.2f} ms CPU  "
        f"[{time.perf_counter() - start:.1f} s]")
    return entry


def _batch(frames: np.ndarray, n: int) -> np.ndarray:
    """n frames for a throughput run: the first n, repeated when there are fewer (golden.json's handful)."""
    return frames[np.arange(n) % len(frames)]


def _opts(options: EngineOptions) -> str:
    return " ".join(f"{k}={v}" for k, v in options.given().items())


def _keras_entries(bundle: Bundle, model, model_path: Path, keras_logits, samples: dict, data, cfg: BenchConfig,
                   log: Callable[[str], None]) -> list[ResultEntry]:
    entries = []
    accuracy = float((keras_logits.argmax(1) == data.labels).mean())
    for backend, call in (("keras-call", True), ("keras-predict", False)):
        cold = coldstart.measure(coldstart.keras_code(str(model_path), call), cfg.cold_repeats)
        latency = LatencyStats.from_seconds(samples[f"keras|{backend}|predict"])
        t0 = time.perf_counter()
        model.predict(_batch(data.frames, cfg.throughput_batch).astype(np.float32), batch_size=256, verbose=0)
        throughput = cfg.throughput_batch / (time.perf_counter() - t0)
        entries.append(ResultEntry(
            "keras", backend, {"threads": None}, model_path.stat().st_size, accuracy, len(data.labels), 1.0,
            round(cold.seconds, 4), round(cold.peak_rss_mb, 1), latency, latency, None, round(throughput, 1),
            bundle.manifest.macs_per_image, tuple(round(s * 1e6, 2) for s in samples[f"keras|{backend}|predict"]),
            status="below floor" if cfg.min_accuracy is not None and accuracy < cfg.min_accuracy else "ok"))
        log(f"  {'keras':15s} {backend:14s} {'':22s} p50 {latency.p50:8.1f} us  cold {cold.seconds:5.2f} s  "
            f"{cold.peak_rss_mb:6.1f} MB")
    return entries
