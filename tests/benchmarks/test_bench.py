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


def test_a_paired_candidate_alternates_call_by_call_with_its_partner():
    """The wrapper cost (predict - bare) is timed in pairs, so a drift of the machine's speed lands on both alike."""
    order: list[str] = []
    candidates = {k: ((lambda k=k: order.append(k)), n) for k, n in (("p", 4), ("q", 4), ("k", 2))}
    samples = measure_in_rounds(candidates, rounds=2, warmup=0, paired={"p": "q"})
    assert {k: len(v) for k, v in samples.items()} == {"p": 4, "q": 4, "k": 2}
    assert order == list("pqqpk" "pqqpk")     # each goes first every other time
    with pytest.raises(ValueError, match="paired"):
        measure_in_rounds(candidates, rounds=2, warmup=0, paired={"p": "k"})   # 4 vs 2 iterations


def _entry(**overrides):
    stats = {"mean": 2.0, "p50": 2.0, "p90": 3.0, "p99": 4.0, "min": 1.0, "max": 5.0, "n": 10}
    entry = {"format": "tflite-int8", "backend": "litert", "options": {"threads": 1, "xnnpack": True}, "size_bytes": 10,
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
def test_quick_bench_on_a_real_bundle_writes_valid_results(tiny_copy):
    result = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "bench", "--bundle", str(tiny_copy / "bundle"),
                             "--quick"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = tiny_copy / "bench"
    results = Results.load(folder / "results.json")
    pairs = {(e.format, e.backend) for e in results.results}
    assert ("tflite-int8", "litert") in pairs and ("onnx-int8", "onnxruntime") in pairs
    assert {("keras", "keras-predict"), ("keras", "keras-call")} <= pairs
    for e in results.results:
        assert 0.5 < e.accuracy <= 1 and e.peak_rss_mb > 10 and e.cold_start_s > 0
    assert "| tflite-int8 | litert |" in (folder / "results.md").read_text()
    assert (folder / "latency.png").stat().st_size > 5000


def test_option_grid_covers_threads_xnnpack_and_spinning():
    from fashion_edge.benchmarks.runner import option_grid
    from fashion_edge.runtime.backends import BACKENDS

    lite = option_grid(BACKENDS["litert"], cores=4, quick=False)
    assert [(o.threads, o.xnnpack) for o in lite] == [(1, True), (2, True), (4, True), (1, False)]
    ort = option_grid(BACKENDS["onnxruntime"], cores=2, quick=False)
    assert [(o.threads, o.spinning) for o in ort] == [(1, 200), (2, 200), (2, False), (2, True)]
    assert option_grid(BACKENDS["onnx-reference"], cores=8, quick=False) == [BACKENDS["onnx-reference"].resolve(
        BACKENDS["onnx-reference"].defaults)]
    assert len(option_grid(BACKENDS["litert"], cores=16, quick=True)) == 1


def test_pareto_front_keeps_only_undominated_points():
    from fashion_edge.benchmarks.pareto import front

    points = [(100, 0.93), (50, 0.92), (200, 0.94), (120, 0.92), (50, 0.91), (300, 0.94)]
    assert front(points) == [0, 1, 2]  # (120, .92) is slower than (50, .92); (300, .94) slower than (200, .94)


def test_compare_sets_two_runs_side_by_side_as_ratios():
    from fashion_edge.benchmarks.compare import compare

    a = Results.from_json(_results(_entry()))
    slow = {"mean": 8.0, "p50": 8.0, "p90": 9.0, "p99": 10.0, "min": 4.0, "max": 12.0, "n": 10}
    b = Results.from_json({**_results(_entry(latency_us=slow), _entry(backend="tflite-runtime")),
                           "machine": {"cpu": "Cortex-A72", "cores": 4, "python": "3.11", "versions": {}}})
    table = compare(a, b)
    assert "| tflite-int8 | litert | t1 xnnpack on | 2.0 | 8.0 | 4.00x |" in table
    assert "Cortex-A72" in table and "only in B: tflite-int8 / tflite-runtime [t1 xnnpack on]" in table


def test_cpu_features_are_read_from_x86_and_arm_cpuinfo():
    from fashion_edge.benchmarks.environment import cpu_info

    x86 = cpu_info("model name\t: AMD EPYC\nflags\t\t: fpu sse4_1 avx avx2 fma avx512f avx512_vnni\n")
    assert x86["model"] == "AMD EPYC" and x86["features"] == ["sse4_1", "avx", "avx2", "fma", "avx512f", "avx512_vnni"]
    arm = cpu_info("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid asimdrdm lrcpc dcpop asimddp\n"
                   "CPU part\t: 0xd0b\n")
    assert arm["features"] == ["asimd", "asimddp"] and arm["model"] == "ARM part 0xd0b"


def test_results_without_the_new_sections_still_read_and_an_entry_below_the_floor_is_flagged():
    entry = _entry(status="below floor", fixed_rate=[{"hz": 10.0, "p50_us": 90.0, "p99_us": 120.0,
                                                       "cpu_ms_per_inference": 0.2, "cpu_percent": 0.2, "n": 40}])
    results = Results.from_json(_results(entry))
    assert results.failed == [results.results[0]]
    assert results.results[0].rate(10.0).cpu_ms_per_inference == 0.2
    assert "below floor" in markdown(results)


def test_spinning_targets_take_their_p50_ratio_from_the_paired_study():
    """CPU cost from the fixed-rate entries; p50 from the study when the run has one, else from the entries."""
    rate = [{"hz": 10.0, "p50_us": 1.0, "p99_us": 2.0, "cpu_ms_per_inference": 1.0, "cpu_percent": 1.0, "n": 5}]
    spun = [{**rate[0], "cpu_ms_per_inference": 40.0}]

    def ort(spin, p50, fixed):
        stats = {"mean": p50, "p50": p50, "p90": p50, "p99": p50, "min": p50, "max": p50, "n": 5}
        return _entry(format="onnx-int8", backend="onnxruntime", options={"threads": 2, "spinning": spin},
                      latency_us=stats, bare_latency_us=stats, fixed_rate=fixed)

    raw = _results(ort(True, 100.0, spun), ort(False, 130.0, rate), ort(200, 120.0, rate))
    t = targets(Results.from_json(raw))
    assert t["ort_spinning_off_p50_ratio"] == pytest.approx(1.3) and t["ort_spinning_default_p50_ratio"] == pytest.approx(1.2)
    study = {"format": "onnx-int8", "threads": 2, "blocks": 40, "calls_per_block": 50,
             "settings": {"on": True, "off": False, "default": 200},
             "p50_us": {"on": 100.0, "off": 107.0, "default": 101.0}, "ratio_over_on": {"off": 1.07, "default": 1.01}}
    paired = Results.from_json({**raw, "spinning": study})
    assert Results.from_json(paired.to_json()) == paired                      # two-way
    t = targets(paired)
    assert t["ort_spinning_off_p50_ratio"] == 1.07 and t["ort_spinning_default_p50_ratio"] == 1.01
    assert t["ort_spinning_off_cpu_saving_at_10hz"] == pytest.approx(40)
    assert "blocks' ratios: off 1.070, default 1.010" in markdown(paired)
    with pytest.raises(BundleError, match=r"spinning\.ratio_over_on\.off"):
        Results.from_json({**raw, "spinning": {**study, "ratio_over_on": {"off": "fast"}}})
