"""serve.json -> target verdicts and the REPORT.md section (the study itself runs by hand / make demo)."""
from __future__ import annotations

from fashion_edge.benchmarks.serve_report import evaluate, render_markdown


def _results(c1_p50=8.5, e2e_p50=8.0, c1_rps=110.0, c8_rps=190.0, growth=0.4, wrong=0):
    level = {"requests": 1000, "rounds": 3, "p90_ms": 9.0, "p99_ms": 12.0, "non_200": 0, "connection_errors": 0}
    return {
        "machine": {"cpu": {"model": "Test CPU", "cores": 2}}, "tool": "hey 0.1.4", "format": "tflite-int8",
        "backend": "litert", "workers": 2, "queue": 32,
        "image": {"source": "test", "bytes": 5000, "size": [320, 320]},
        "in_process_e2e_ms": {"p50": e2e_p50, "p90": 8.4, "p99": 9.0, "n": 600},
        "load": [{**level, "concurrency": 1, "rps": c1_rps, "p50_ms": c1_p50},
                 {**level, "concurrency": 8, "rps": c8_rps, "p50_ms": 40.0},
                 {**level, "concurrency": 32, "rps": c8_rps, "p50_ms": 160.0}],
        "soak": {"requests": 20000, "clients": 4, "seconds": 120.0, "good": 18000, "good_correct": 18000 - wrong,
                 "good_wrong_or_failed": wrong, "malformed": 2000, "malformed_4xx": 2000, "server_errors_5xx": 0,
                 "connection_errors": 0, "status_counts": {"200": 18000, "422": 2000},
                 "rss_mb_after_warmup": 90.0, "rss_mb_end": 90.0 + growth, "rss_growth_mb": growth,
                 "warmup_requests": 2000},
    }


def test_targets_are_met_or_not_by_the_issue_thresholds():
    good = evaluate(_results())
    assert all(t["met"] for t in good.values()), good
    bad = evaluate(_results(c1_p50=9.5, c8_rps=150.0, growth=6.0, wrong=3))
    assert not bad["c1_p50_overhead_ms"]["met"] and bad["c1_p50_overhead_ms"]["value"] == 1.5
    assert not bad["c8_over_c1_throughput"]["met"] and not bad["soak_rss_growth_mb"]["met"]
    assert not bad["soak_good_all_correct"]["met"]


def test_markdown_has_the_load_table_the_soak_and_the_targets():
    results = _results()
    results["targets"] = evaluate(results)
    text = render_markdown(results)
    assert text.startswith("## Service under load")
    assert "| 1 | 1,000 | 110 | 8.50 |" in text and "| 8 | 1,000 | 190 |" in text
    assert "Soak: 20,000 requests" in text and "| c8_over_c1_throughput | 1.73 | >= 1.6 | yes |" in text
    assert "Cross-check" not in text
    results["cross_check"] = {"tool": "hey 0.1.4", "concurrency": 1, "requests": 3000, "rounds": 3, "rps": 300.0,
                              "p50_ms": 3.1, "p90_ms": 3.5, "p99_ms": 4.0, "non_200": 0, "connection_errors": 0}
    assert "Cross-check, concurrency 1 with hey 0.1.4" in render_markdown(results)
    assert "p50 3.10 ms" in render_markdown(results)


def test_report_includes_the_service_section_when_serve_json_is_there(tmp_path):
    import json

    from fashion_edge.benchmarks.report import render_report

    model = tmp_path / "edge"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps({}))
    assert "## Service under load" not in render_report(tmp_path)
    results = _results()
    results["targets"] = evaluate(results)
    (model / "serve.json").write_text(json.dumps(results))
    assert "## Service under load" in render_report(tmp_path)
