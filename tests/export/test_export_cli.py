"""export and verify as a user runs them: bad inputs, tampering, and a SIGKILL midway."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "fashion_edge.cli"]


def run(*args, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, **kw)


def last_line(stderr: str) -> str:
    """The CLI's own message: one line, no traceback (TensorFlow's native start-up lines aside)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("fashion-edge")][-1]


def test_missing_model_is_one_line(tmp_path):
    result = run("export", str(tmp_path / "edge"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "train first" in result.stderr


def test_corrupt_model_keras_is_one_line_and_writes_nothing(tmp_path):
    folder = tmp_path / "edge"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"PK\x03\x04 this is not a keras archive")
    result = run("export", str(folder))
    assert result.returncode == 1
    assert "not a loadable Keras model" in last_line(result.stderr)
    assert sorted(p.name for p in folder.iterdir()) == ["model.keras"]


def test_unknown_format_is_a_usage_error(trained_linear):
    result = run("export", str(trained_linear.model_dir), "--formats", "tflite-int4")
    assert result.returncode == 2 and "tflite-int4" in last_line(result.stderr)


def test_missing_export_extra_names_it(tmp_path):
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "model.keras").write_bytes(b"x")
    code = ("import sys; sys.modules['tensorflow'] = None; from fashion_edge.cli.main import main; "
            f"sys.exit(main(['export', {str(tmp_path / 'edge')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert 'pip install "fashion-edge[export]"' in result.stderr and result.stderr.count("\n") == 1


def test_verify_accepts_a_fresh_bundle_and_refuses_a_tampered_one(linear_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(linear_bundle.bundle, bundle)
    ok = run("verify", str(bundle))
    assert ok.returncode == 0, ok.stderr
    blob = bytearray((bundle / "int8.tflite").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (bundle / "int8.tflite").write_bytes(bytes(blob))
    bad = run("verify", str(bundle))
    assert bad.returncode == 1 and "sha256" in last_line(bad.stderr)


def test_verify_notices_a_manifest_whose_figures_were_edited(linear_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(linear_bundle.bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["formats"]["onnx-float32"]["parity"]["accuracy"] = 0.99
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run("verify", str(bundle))
    assert result.returncode == 1 and "differs from manifest" in last_line(result.stderr)


def test_export_killed_midway_keeps_the_previous_bundle(linear_bundle, tmp_path):
    model_dir = tmp_path / "linear"
    shutil.copytree(linear_bundle.bundle.parent, model_dir)
    before = (model_dir / "bundle" / "manifest.json").read_bytes()
    proc = subprocess.Popen([*CLI, "export", str(model_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        staging = [p for p in model_dir.glob(".bundle.new-*") if any(p.iterdir())]
        if staging:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "export finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (model_dir / "bundle" / "manifest.json").read_bytes() == before
    with pytest.raises(BundleError):  # a half-written staging folder is not mistaken for a bundle
        Bundle.load(staging[0])
    assert run("verify", str(model_dir / "bundle")).returncode == 0
    rerun = run("export", str(model_dir), "--formats", "tflite-float32,onnx-float32")
    assert rerun.returncode == 0, rerun.stderr
    assert not list(model_dir.glob(".bundle.*"))  # the killed run's staging folder was cleaned up
