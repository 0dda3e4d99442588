"""Photo e2e measurement (benchmarks/photos.py): shapes and invariants on a real bundle, no durations
asserted (timing is noisy here; the ratios are reported, not tested)."""
from __future__ import annotations

import pytest

from conftest import TINY
from fashion_edge.benchmarks.photos import TARGETS, describe, measure_photos
from fashion_edge.runtime import Classifier



@pytest.mark.parametrize("name", ["tiny-cnn", pytest.param("tiny-stripes2", marks=pytest.mark.slow)])   # one per recipe
def test_measure_photos_reports_e2e_beside_decode_for_each_photo_size(name):
    clf = Classifier(TINY / name / "bundle", threads=1)
    timings = measure_photos(clf, clf.bundle.golden().images[0], rounds=2, pixel_budget=30_000_000)
    recipe = clf.contract.preprocessing.id
    assert [t.case.name for t in timings] == ["jpeg-320x320", "jpeg-1280x960", "jpeg-4000x3000", "frame-640x480"]
    for t in timings:
        for stats in (t.e2e_us, t.decode_us, t.preprocess_us):
            assert stats.n >= 2 and 0 < stats.min <= stats.p50 <= stats.max
        assert t.ratio > 0 and t.preprocess_ratio > 0 and t.case.bytes > 0
        assert t.case.target == TARGETS[recipe].get(t.case.name) and t.case.recipe == recipe
        assert set(t.to_json()) >= {"name", "e2e_latency_us", "decode_latency_us", "e2e_over_decode_p50", "target"}
    assert "jpeg-4000x3000" in describe(timings)
