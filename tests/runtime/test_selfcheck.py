"""Self-check at load: golden.json against this backend, a typed error when they disagree."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bundle_edits import disagreeing_copy
from fashion_edge.runtime import BundleError, Classifier
from fashion_edge.runtime.backends import available_backends
from fashion_edge.runtime.errors import SelfCheckError
from fashion_edge.runtime.selfcheck import measure



@pytest.fixture(scope="module")
def bundle_dir(tiny_bundle) -> Path:
    return tiny_bundle


def test_off_by_default_and_passing_on_every_installed_pair(bundle_dir):
    assert Classifier(bundle_dir).self_check_result is None
    from fashion_edge.runtime.bundle import Bundle

    for fmt in Bundle.load(bundle_dir).formats:
        for backend in available_backends(fmt):
            clf = Classifier(bundle_dir, format=fmt, backend=backend, self_check=True)
            result = clf.self_check_result
            assert result.passed and result.images > 0 and result.max_abs_diff <= result.atol, (fmt, backend)
            assert result.to_json()["passed"] is True


def test_a_backend_disagreeing_with_the_export_raises_a_typed_error(bundle_dir, tmp_path):
    bad = disagreeing_copy(bundle_dir, tmp_path / "bad", formats=("tflite-int8",))
    Classifier(bad)   # without the check it loads: only the golden run can tell
    with pytest.raises(SelfCheckError, match="self-check FAILED: tflite-int8") as caught:
        Classifier(bad, self_check=True)
    assert isinstance(caught.value, BundleError)
    result = measure(Classifier(bad))
    assert not result.passed and result.max_abs_diff > result.atol
    Classifier(bad, format="tflite-float32", self_check=True)   # untouched format still passes


def test_predict_self_check_flag(bundle_dir, tmp_path, data):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(data.x_test[0]).save(image)
    cli = [sys.executable, "-m", "fashion_edge.cli", "predict", str(image), "--self-check", "--bundle"]
    ok = subprocess.run([*cli, str(bundle_dir)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and "self-check passed" in ok.stderr
    bad = disagreeing_copy(bundle_dir, tmp_path / "bad")
    failed = subprocess.run([*cli, str(bad)], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and "self-check FAILED" in failed.stderr and "Traceback" not in failed.stderr
