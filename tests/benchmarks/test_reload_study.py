"""The hot-reload load study (benchmarks/reload_study.py): its plan and spoiled bundles, and a whole run on the
committed tiny bundles (two contracts) under wrk."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fashion_edge.benchmarks import reload_study
from fashion_edge.benchmarks.reload_report import render_markdown
from fashion_edge.runtime.backends import choose_backend
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.service import model

TINY = Path(__file__).resolve().parents[1] / "data"
A, B = TINY / "tiny-cnn" / "bundle", TINY / "tiny-shapes12" / "bundle"


def test_the_plan_alternates_two_good_bundles_with_three_corrupt_and_two_tampered_among_them():
    steps = reload_study.plan()
    good = [s.release for s in steps if s.kind is reload_study.Kind.GOOD]
    assert len(steps) == 20 and len(good) == 15
    assert all(x != y for x, y in zip(good, good[1:]))            # A and B in turn
    assert good[0] == good[-1] == "B"                             # RSS compared on the same model
    kinds = [s.kind for s in steps]
    assert kinds.count(reload_study.Kind.CORRUPT) == 3 and kinds.count(reload_study.Kind.TAMPERED) == 2
    assert {s.trigger for s in steps} == {"POST", "SIGHUP"}
    assert len({s.release for s in steps if s.kind is not reload_study.Kind.GOOD}) == 5   # five different spoils


def test_every_spoiled_bundle_is_refused_by_the_services_load(tmp_path):
    pytest.importorskip("ai_edge_litert")
    releases = reload_study.prepare(tmp_path, A, B, "tflite-int8")
    backend = choose_backend("tflite-int8", None)
    assert model.load(releases["B"], "tflite-int8", backend, 1).id == model.bundle_id((B / "manifest.json").read_bytes())
    for name in reload_study.SPOILS:
        with pytest.raises(BundleError):   # SelfCheckError is a BundleError
            model.load(releases[name], "tflite-int8", backend, 1)


@pytest.mark.slow
def test_a_whole_study_on_the_tiny_bundles_meets_every_target(tmp_path):
    pytest.importorskip("ai_edge_litert")
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (make test installs it)")
    results = reload_study.run_study(A, B, "tflite-int8", pause_s=0.3, log=lambda _line: None)
    failed = {k: v for k, v in results["targets"].items() if not v["met"]}
    assert not failed, (failed, results["reloads"], results["answers"]["examples"])
    assert results["answers"]["answers"] > 100
    assert results["metrics"] == {"ok": 15, "failed": 5, "busy": 0}
    text = render_markdown(results)
    assert "## Hot reload under load" in text and text.count("| yes |") >= 20 + len(results["targets"])
