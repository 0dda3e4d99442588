"""Malformed model files never crash the process; a long run does not leak; a killed train is harmless."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from fashion_edge.benchmarks.reliability import fuzz_model, long_run
from fashion_edge.runtime import Classifier
from fashion_edge.runtime.backends import available_backends



@pytest.mark.parametrize("fmt", ["tflite-int8", "tflite-float32", "onnx-int8", "onnx-float32", "ort-int8"])
def test_truncated_and_corrupted_model_files_never_crash(fmt, tiny_bundle):
    from fashion_edge.runtime.bundle import Bundle

    blob = Bundle.load(tiny_bundle).read_model(fmt)
    for backend in available_backends(fmt):
        result = fuzz_model(blob, backend, n=24 if backend != "onnx-reference" else 8, seed=1)
        assert result["crashes"] == 0, (fmt, backend, result)
        assert not any(k.startswith("untyped") for k in result["outcomes"]), (fmt, backend, result)


def test_short_long_run_does_not_grow_memory(tiny_bundle, data):
    clf = Classifier(tiny_bundle)
    run = long_run(clf, data.x_test[:500], n=20_000, warmup=2_000)
    assert run["growth_mb"] < 2.0, run


@pytest.mark.slow
def test_killed_training_keeps_previous_artifacts_and_a_rerun_succeeds(trained_linear, tmp_path):
    out = tmp_path / "artifacts"
    shutil.copytree(trained_linear.model_dir, out / "linear")
    before = (out / "linear" / "metrics.json").read_text()
    cmd = [sys.executable, "-m", "fashion_edge.cli", "train", "--model", "linear", "--epochs", "50",
           "--limit", "20000", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob(".linear.new-*")):
        time.sleep(0.05)
    time.sleep(3)  # well into fitting
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "linear" / "metrics.json").read_text() == before
    rerun = subprocess.run(cmd[:6] + ["--epochs", "1", "--limit", "2000", "--out", str(out)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-1000:]
    assert json.loads((out / "linear" / "metrics.json").read_text())["epochs"] == 1
    assert not list(out.glob(".linear.*"))  # the killed run's staging folder is gone
