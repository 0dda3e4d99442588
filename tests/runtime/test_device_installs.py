"""The runtime installs and works without the training stack: one venv per backend extra.

Each venv holds the wheel with exactly one extra ([litert], [onnx], [tflite]: tflite-runtime pins
numpy<2) and runs tests/device against a bundle exported here. Venvs are kept in .venv-device/
between runs; the wheel is reinstalled every time.
"""
from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXTRAS = {"litert": "litert", "onnx": "onnxruntime", "tflite": "tflite-runtime"}


def _pip(env_dir: Path, *args: str) -> None:
    result = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q",
                             "--disable-pip-version-check", *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_runtime_in_a_venv_with_only_one_backend(extra, wheel, tiny_bundle, data):
    env_dir = REPO / ".venv-device" / extra
    stamp = env_dir / ".deps-installed"
    if not stamp.exists():
        venv.create(env_dir, with_pip=True, clear=True)
        _pip(env_dir, f"{wheel}[{extra}]", "pytest")
        stamp.write_text("ok")
    _pip(env_dir, "--no-deps", "--force-reinstall", str(wheel))
    env = {**os.environ, "FASHION_EDGE_BUNDLE": str(tiny_bundle), "FASHION_EDGE_BACKEND": EXTRAS[extra],
           "FASHION_MNIST_DIR": data.source}
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(REPO / "tests" / "device")], capture_output=True, text=True, env=env,
                            cwd=str(env_dir), timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-1000:]
