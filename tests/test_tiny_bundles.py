"""The fast tier's committed bundles (tests/data, written by tests/data/make_bundles.py): small, intact,
and still what today's exporter makes of their committed models (tests/data/schema2 is kept as the
previous schema wrote it, and only checked to be intact).

If the exporter changes what it writes (a manifest field, a graph, golden.json), the re-export test
fails and names the difference: run `python tests/data/make_bundles.py` and commit the bundles.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.formats import FORMATS

DATA = Path(__file__).resolve().parent / "data"
BUDGET_BYTES = 1024 * 1024                 # every committed bundle folder together
KERAS_NOISE = 0.001                        # top-1 flips of Keras itself across CPUs' float kernels (10 images)


def _make_bundles():
    """tests/data/make_bundles.py, the script that writes the tiny bundles (tests/data is on the path: conftest)."""
    import make_bundles

    return make_bundles


def _bundles() -> list[Path]:
    return sorted(p.parent for p in DATA.glob("*/bundle/manifest.json"))


def test_tiny_bundles_stay_within_their_budget_and_load_intact():
    bundles = _bundles()
    assert sorted(b.parent.name for b in bundles) == sorted([m.name for m in _make_bundles().MODELS] + ["schema2"])
    total = sum(f.stat().st_size for b in bundles for f in b.rglob("*") if f.is_file())
    assert total <= BUDGET_BYTES, f"{total:,} bytes in tests/data's bundles"
    for path in bundles:
        bundle = Bundle.load(path)
        model = _make_bundles().BY_NAME.get(path.parent.name)
        assert set(bundle.formats) == set(model.formats or FORMATS if model else ("tflite-int8", "onnx-int8"))
        for fmt in bundle.formats:
            bundle.read_model(fmt)                       # size and sha256 as the manifest says
        for asset in bundle.manifest.assets:
            bundle.read_file(asset.file)
        assert set(bundle.golden().outputs) == set(bundle.formats)


def _shape(value):
    """The structure of a JSON value: keys of objects (recursively), types of everything else."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


# Fields a re-export on another machine, day or library version legitimately changes.
VARYING = {"created", "versions", "sha256", "bytes", "parity", "calibration", "calibration_recipe", "golden_atol",
           "size_checks", "keras", "device", "scale", "zero_point", "ort", "onnx_session_config",
           # measured: per-class accuracy, and each Tasks-ready variant's parity against Keras
           "class_accuracy", "accuracy", "agreement", "max_abs_diff", "passed", "failures"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.mark.slow
@pytest.mark.numeric
@pytest.mark.parametrize("name", [m.name for m in _make_bundles().MODELS])
def test_committed_bundle_is_what_the_exporter_makes_today(name, tmp_path):
    committed = DATA / name / "bundle"
    fresh = _make_bundles().export_bundle(DATA / name, into=tmp_path / name)
    old, new = (json.loads((b / "manifest.json").read_text()) for b in (committed, fresh))
    assert _shape(new) == _shape(old), "the manifest's fields changed: re-run tests/data/make_bundles.py"
    assert _stable(new) == _stable(old), "the manifest's contract changed: re-run tests/data/make_bundles.py"
    old_golden, new_golden = (json.loads((b / "golden.json").read_text()) for b in (committed, fresh))
    assert _shape(new_golden) == _shape(old_golden), "golden.json changed: re-run tests/data/make_bundles.py"
    assert new_golden["images"] == old_golden["images"] and new_golden["labels"] == old_golden["labels"]

    a, b = Bundle.load(committed), Bundle.load(fresh)
    golden_a, golden_b = a.golden(), b.golden()
    for fmt in a.formats:
        top_a, top_b = golden_a.outputs[fmt].test_top1, golden_b.outputs[fmt].test_top1
        # Each file agrees with Keras on its recorded fraction of the test images, so the two files with
        # each other on at least 1 - (both disagreements) - Keras' own flips between the two exports.
        bound = 1 - (1 - a.entry(fmt).parity.agreement) - (1 - b.entry(fmt).parity.agreement) - KERAS_NOISE
        assert float(np.mean(top_a == top_b)) >= bound, fmt
        limit = FORMATS[fmt].gate.max_abs_logit_diff
        if limit is not None:    # float32 files compute Keras' function: their logits agree to the gate
            assert np.abs(golden_a.outputs[fmt].logits - golden_b.outputs[fmt].logits).max() <= limit, fmt
