"""Shared fixtures: the real dataset, and small models trained once per session on real images."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]

# tests/device runs only inside the device-like venvs (see runtime/test_device_installs.py).
collect_ignore = [] if os.environ.get("FASHION_EDGE_BUNDLE") else ["device"]


@pytest.fixture(scope="session")
def data():
    from fashion_edge.train.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def trained_linear(tmp_path_factory):
    """A linear model trained for one epoch on 12,000 real images: seconds, and well above chance."""
    from fashion_edge.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    return train(TrainConfig(model="linear", out=out, epochs=1, limit=12000, verbose=0))


@pytest.fixture(scope="session")
def trained_edge(tmp_path_factory):
    """An edge CNN trained briefly on real images: enough for int8 to agree with Keras at the gate."""
    from fashion_edge.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    return train(TrainConfig(model="edge", out=out, epochs=2, limit=12000, verbose=0))


def _export(model_dir):
    from fashion_edge.export.exporter import ExportConfig, export

    return export(ExportConfig(model_dir=model_dir), log=lambda _: None)


@pytest.fixture(scope="session")
def linear_bundle(trained_linear):
    return _export(trained_linear.model_dir)


@pytest.fixture(scope="session")
def edge_bundle(trained_edge):
    return _export(trained_edge.model_dir)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once per session from the working tree."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO)], check=True, capture_output=True)
    (found,) = out.glob("fashion_edge-*.whl")
    return found
