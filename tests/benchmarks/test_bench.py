"""Benchmark statistics, the results schema, and a --quick smoke run on a small real bundle.

No test here asserts a duration: timing is noisy on this machine; only shapes and invariants.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fashion_edge.benchmarks.results import Results, markdown, targets
from fashion_edge.runtime.errors import BundleError
from fashion_edge.benchmarks.stats import LatencyStats
from fashion_edge.benchmarks.timing import measure_in_rounds


def test_latency_stats_are_microseconds_with_ordered_percentiles():
    samples = np.linspace(1e-6, 100e-6, 100)  # 1..100 us
    stats = LatencyStats.from_seconds(samples)
    assert stats.n == 100 and stats.min == pytest.approx(1) and stats.max == pytest.approx(100)
    assert stats.p50 == pytest.approx(50.5) and stats.mean == pytest.approx(50.5)
    assert stats.min <= stats.p50 <= stats.p90 <= stats.p99 <= stats.max
    with pytest.raises(ValueError):
        LatencyStats.from_seconds([])


def test_rounds_interleave_candidates_and_keep_exact_counts():
    order: list[str] = []
    candidates = {"a": (lambda: order.append("a"), 7), "b": (lambda: order.append("b"), 3)}
    samples = measure_in_rounds(candidates, rounds=3, warmup=0)
    assert len(samples["a"]) == 7 and len(samples["b"]) == 3
    assert order == list("aaab" "aab" "aab")  # every round visits every candidate


def _entry(**overrides):
    stats = {"mean": 2.0, "p50": 2.0, "p90": 3.0, "p99": 4.0, "min": 1.0, "max": 5.0, "n": 10}
    entry = {"format": "tflite-int8", "backend": "litert", "options": {"threads": 1}, "size_bytes": 10,
             "accuracy": 0.9, "accuracy_images": 10000, "agreement_with_keras": 0.99, "cold_start_s": 0.1,
             "peak_rss_mb": 40.0, "latency_us": stats, "bare_latency_us": {**stats, "p50": 1.9},
             "e2e_latency_us": stats, "throughput_ips": 1000.0}
    entry.update(overrides)
    return entry


def _results(*entries):
    return {"model": "edge", "machine": {"cpu": "x", "cores": 2, "python": "3.11", "versions": {}},
            "settings": {"runs": 10, "rounds": 2, "keras_predict_runs": 5, "cold_start_repeats": 1},
            "results": list(entries)}


def test_schema_accepts_a_well_formed_result_and_names_what_is_missing():
    results = Results.from_json(_results(_entry()))
    assert Results.from_json(results.to_json()) == results  # two-way
    broken = _entry()
    del broken["peak_rss_mb"]
    with pytest.raises(BundleError, match=r"results\[0\]\.peak_rss_mb is missing"):
        Results.from_json(_results(broken))
    with pytest.raises(BundleError, match="out of order"):
        Results.from_json(_results(_entry(latency_us={"mean": 1, "p50": 5, "p90": 3, "p99": 4, "min": 1, "max": 5, "n": 3})))
    with pytest.raises(BundleError, match="machine"):
        Results.from_json({"model": "edge", "results": [_entry()]})
    with pytest.raises(BundleError, match=r"results\[0\]\.accuracy must be a finite number"):
        Results.from_json(_results(_entry(accuracy="high")))


def test_target_ratios_come_from_the_entries():
    keras_stats = {"mean": 4000.0, "p50": 4000.0, "p90": 5000.0, "p99": 6000.0, "min": 3000.0, "max": 7000.0, "n": 5}
    results = Results.from_json(_results(
        _entry(), _entry(format="keras", backend="keras-predict", options={"threads": None}, latency_us=keras_stats,
                         cold_start_s=4.0, peak_rss_mb=600.0),
        _entry(format="keras", backend="keras-call", options={"threads": None}, latency_us=keras_stats,
               cold_start_s=4.0, peak_rss_mb=600.0)))
    t = targets(results)
    assert t["speedup_vs_keras_predict_p50"] == pytest.approx(2000)
    assert t["wrapper_overhead_p50"] == pytest.approx(2.0 / 1.9, abs=1e-3)
    assert t["wrapper_cost_p50_us"] == pytest.approx(0.1, abs=1e-3)
    assert t["peak_rss_ratio_vs_keras"] == pytest.approx(15)
    assert "speedup vs keras predict p50" in markdown(results)


@pytest.mark.slow
def test_quick_bench_on_a_real_bundle_writes_valid_results(linear_bundle):
    result = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "bench", "--bundle", str(linear_bundle.bundle),
                             "--quick"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = linear_bundle.bundle.parent / "bench"
    results = Results.load(folder / "results.json")
    pairs = {(e.format, e.backend) for e in results.results}
    assert ("tflite-int8", "litert") in pairs and ("onnx-int8", "onnxruntime") in pairs
    assert {("keras", "keras-predict"), ("keras", "keras-call")} <= pairs
    for e in results.results:
        assert 0.5 < e.accuracy <= 1 and e.peak_rss_mb > 10 and e.cold_start_s > 0
    assert "| tflite-int8 | litert |" in (folder / "results.md").read_text()
    assert (folder / "latency.png").stat().st_size > 5000
