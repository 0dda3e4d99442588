"""Shared fixtures: the real dataset, the committed tiny bundles, and models trained once per run.

Two tiers. `make test-fast` (`pytest -m "not slow"`) reads the tiny bundles committed under
tests/data (tests/data/make_bundles.py writes them) and must never import TensorFlow: the run
fails if it did. `make test` runs everything, including the tests marked `slow` that train and
export real models through the fixtures below.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data"
sys.path.insert(0, str(TINY))     # its helpers (synthetic.py, make_bundles.py) import as modules
FAST_TIER = os.environ.get("FASHION_EDGE_TEST_TIER") == "fast"

# tests/device runs only inside the device-like venvs (see runtime/test_device_installs.py).
collect_ignore = [] if os.environ.get("FASHION_EDGE_BUNDLE") else ["device"]


def pytest_sessionfinish(session, exitstatus):
    """The fast tier's promise: no TensorFlow in its process (a test that needs it is marked slow)."""
    if FAST_TIER and "tensorflow" in sys.modules:
        print("\nfast tier: TensorFlow was imported; mark the test that needs it `slow`", file=sys.stderr)
        session.exitstatus = 1


CONTRACTS = ("tiny-cnn", "tiny-shapes12", "tiny-stripes2")   # 28x28x1 / 32x48x3, 12 classes / 64x64x3, 2, probabilities


@pytest.fixture(scope="session")
def tiny_bundle() -> Path:
    """tiny-cnn's bundle, every format (committed; read it, copy it before changing it)."""
    return TINY / "tiny-cnn" / "bundle"


@pytest.fixture(scope="session", params=CONTRACTS)
def contract_bundle(request) -> Path:
    """Each committed tiny bundle in turn: three input contracts (tests/data/make_bundles.py)."""
    return TINY / request.param / "bundle"


@pytest.fixture(scope="session")
def schema2_bundle() -> Path:
    """A bundle as the previous manifest schema wrote it (tests/data/schema2: two formats)."""
    return TINY / "schema2" / "bundle"


@pytest.fixture
def tiny_copy(tmp_path) -> Path:
    """A writable copy of tiny-cnn's folder (model.keras, metrics.json, bundle/), as `train` leaves one."""
    import shutil

    return Path(shutil.copytree(TINY / "tiny-cnn", tmp_path / "tiny-cnn"))


@pytest.fixture(scope="session")
def data():
    from fashion_edge.train.data import load_fashion_mnist

    return load_fashion_mnist()


@pytest.fixture(scope="session")
def trained_linear(tmp_path_factory):
    """The seed model on its quick recipe (`train --quick`): seconds, and well above chance."""
    from fashion_edge.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    return train(TrainConfig(model="linear", out=out, quick=True, verbose=0))


@pytest.fixture(scope="session")
def trained_edge(tmp_path_factory):
    """The edge CNN on its quick recipe (`train --quick`): a few minutes of real training."""
    from fashion_edge.train.trainer import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    return train(TrainConfig(model="edge", out=out, quick=True, verbose=0))


def _export(model_dir):
    """Every format, with the parity gate's verdict recorded rather than enforced.

    The int8 files of a short-trained model agree with Keras on about 99.6-99.7% of test images
    against a 99.5% gate (measured: +9 to +22 images over 2 seeds x both TensorFlow kernel paths), so
    whether the gate passes depends on the CPU. What the gate
    decides is tested on constructed cases (tests/export/test_gate.py) and on a deliberately broken
    export; the fixture's own figures are checked against bounds with explained margins
    (tests/export/test_export.py).
    """
    from fashion_edge.export.exporter import ExportConfig, export

    return export(ExportConfig(model_dir=model_dir, enforce_gate=False), log=lambda _: None)


@pytest.fixture(scope="session")
def linear_bundle(trained_linear):
    return _export(trained_linear.model_dir)


@pytest.fixture(scope="session")
def edge_bundle(trained_edge):
    return _export(trained_edge.model_dir)


@pytest.fixture(scope="session")
def wheel_build(tmp_path_factory) -> tuple[Path, str]:
    """(the project's wheel, everything the build printed), built once per run from a copy of the tree."""
    import shutil

    source = tmp_path_factory.mktemp("source") / "fashion-edge"   # a copy: the build writes build/ and *.egg-info
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv*", "node_modules", "artifacts",
                                                                "build", "*.egg-info", ".pi-check", "tests"))
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(out), str(source)], check=True, capture_output=True, text=True)
    (found,) = out.glob("fashion_edge-*.whl")
    return found, done.stdout + done.stderr


@pytest.fixture(scope="session")
def wheel(wheel_build) -> Path:
    return wheel_build[0]
