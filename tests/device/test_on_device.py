"""Runs inside a device-like venv: the base package plus ONE backend, no TensorFlow.

Started by tests/runtime/test_device_installs.py with FASHION_EDGE_BUNDLE (a bundle exported in
the main env) and FASHION_EDGE_BACKEND (the one backend this venv was given).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

BUNDLE = os.environ.get("FASHION_EDGE_BUNDLE")
BACKEND = os.environ.get("FASHION_EDGE_BACKEND")
pytestmark = pytest.mark.skipif(not BUNDLE, reason="run by test_device_installs.py inside a device venv")


@pytest.fixture(scope="module")
def formats():
    from fashion_edge.runtime.backends import BACKENDS

    return [name for name in _bundle_formats() if BACKENDS[BACKEND].can_run(name)]


def _bundle_formats():
    from fashion_edge.runtime.bundle import Bundle

    return list(Bundle.load(BUNDLE).formats)


def test_formats_this_backend_cannot_run_are_refused_with_a_reason():
    from fashion_edge.runtime import Classifier, MissingExtraError, UsageError
    from fashion_edge.runtime.backends import BACKENDS, backends_for
    from fashion_edge.runtime.formats import FORMATS

    family = BACKENDS[BACKEND].families[0]
    refused = [f for f in _bundle_formats() if FORMATS[f].family == family and BACKEND in FORMATS[f].unsupported]
    for fmt in refused:
        other = backends_for(fmt)[0]
        with pytest.raises(UsageError, match=other.name):
            Classifier(BUNDLE, format=fmt, backend=BACKEND)
        with pytest.raises(MissingExtraError, match=rf"fashion-edge\[{other.extra}\]"):
            Classifier(BUNDLE, format=fmt)  # the default choice: no installed backend can run it


def test_no_training_stack_is_installed():
    for heavy in ("tensorflow", "keras", "tf2onnx"):
        assert importlib.util.find_spec(heavy) is None, heavy


def test_only_the_chosen_backend_is_available(formats):
    from fashion_edge.runtime.backends import available_backends

    for fmt in formats:
        assert available_backends(fmt) == [BACKEND]


def test_full_test_set_matches_export_parity_and_golden(formats):
    from fashion_edge.runtime import Classifier
    from fashion_edge.train.data import load_fashion_mnist

    data = load_fashion_mnist(allow_download=False)
    for fmt in formats:
        clf = Classifier(BUNDLE, format=fmt, backend=BACKEND)
        top1 = np.array([p.label_id for p in clf.predict_batch(data.x_test)])
        golden = clf.bundle.golden()
        recorded = golden.outputs[fmt].test_top1
        differ = int((top1 != recorded).sum())
        # The export measured with litert/onnxruntime: those must match image for image. The legacy
        # tflite-runtime 2.14 rounds some int8 kernels differently (measured: a handful of 10,000).
        allowed = 0 if BACKEND == clf.bundle.entry(fmt).parity_backend else 20
        assert differ <= allowed, f"{fmt}: {differ} of 10,000 test images differ in top-1 from the export"
        accuracy = float((top1 == data.y_test).mean())
        assert abs(accuracy - clf.bundle.entry(fmt).parity.accuracy) <= allowed / 10000, fmt
        logits = clf.logits(golden.images)
        assert np.abs(logits - golden.outputs[fmt].logits).max() <= clf.bundle.entry(fmt).golden_atol, fmt
        assert tuple(logits.argmax(1).tolist()) == golden.outputs[fmt].top1, fmt


def test_predict_cli_works(formats, tmp_path):
    from PIL import Image

    image = tmp_path / "dark-square-on-white.png"
    canvas = Image.new("RGB", (60, 80), "white")
    canvas.paste((40, 40, 40), (15, 20, 45, 60))
    canvas.save(image)
    out = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "predict", str(image), "--bundle", BUNDLE,
                          "--format", formats[-1], "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["backend"] == BACKEND and record["path"] == str(image)


def test_a_format_of_the_other_family_names_the_missing_extra(formats):
    from fashion_edge.runtime import Classifier, MissingExtraError

    other = "onnx-int8" if formats[0].startswith("tflite") else "tflite-int8"
    with pytest.raises(MissingExtraError, match=r"pip install \"fashion-edge\["):
        Classifier(BUNDLE, format=other)


def test_doctor_checks_this_backend_and_recommends_it(formats):
    out = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "doctor", "--bundle", BUNDLE, "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [b["name"] for b in report["backends"] if b["installed"]] == [BACKEND]
    assert {p["format"] for p in report["pairs"]} == set(formats) and all(p["ok"] for p in report["pairs"])
    assert report["recommendation"]["backend"] == BACKEND


def test_serve_without_its_extra_names_the_extra():
    out = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "serve", "--bundle", BUNDLE, "--port", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and 'pip install "fashion-edge[serve]"' in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1
