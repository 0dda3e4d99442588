"""The bundle consumed from another language: Node.js (LiteRT.js for TFLite, onnxruntime-node for
ONNX and ORT format) against golden.json, and the app's own JavaScript preprocessing port
(apps/node-check/preprocess.mjs: jpeg-js, pngjs) against the bundle's preprocessing vectors. Run as
Node users expect: `npm test -- BUNDLE`."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fashion_edge.runtime.formats import FORMATS

pytestmark = pytest.mark.slow
APP = Path(__file__).resolve().parents[2] / "apps" / "node-check"


@pytest.fixture(scope="module")
def node_app():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed for the app check (Debian: apt-get install nodejs npm)")
    if not all((APP / "node_modules" / pkg).is_dir() for pkg in ("onnxruntime-node", "@litertjs/core", "jpeg-js", "pngjs")):
        # --ignore-scripts: the postinstall script fetches optional GPU binaries from a host this
        # machine cannot reach; the CPU binaries ship inside the package.
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock"],
                       cwd=APP, check=True, capture_output=True, timeout=600)
    return APP


def node(app: Path, bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["npm", "test", "--silent", "--", str(bundle)], cwd=app, capture_output=True, text=True,
                          timeout=300)


def test_node_runs_every_format_and_matches_golden(node_app, edge_bundle):
    result = node(node_app, edge_bundle.bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    for fmt in FORMATS:
        runtime = "LiteRT.js" if fmt.startswith("tflite-") else "onnxruntime-node"
        assert f"{fmt}: 32 golden images on {runtime}" in result.stdout, result.stdout
    assert "passed" in result.stdout.splitlines()[-1]


def test_node_preprocessing_port_matches_every_vector_within_tolerance(node_app, edge_bundle):
    from fashion_edge.runtime.bundle import Bundle

    vectors = Bundle.load(edge_bundle.bundle).golden().preprocessing_vectors
    result = node(node_app, edge_bundle.bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    for case in vectors.cases:
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"preprocessing {case.name}:"))
        assert line.endswith(": ok"), line
    assert f"preprocessing: {len(vectors.cases)} photos through the JavaScript port" in result.stdout


def test_node_check_notices_a_replaced_preprocessing_photo(node_app, edge_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(edge_bundle.bundle, bundle)
    photo = next((bundle / "preprocessing").glob("*.png"))
    blob = bytearray(photo.read_bytes())
    blob[-20] ^= 0x01
    photo.write_bytes(bytes(blob))
    result = node(node_app, bundle)
    assert result.returncode == 1 and "does not match manifest.json" in result.stderr


def test_node_check_notices_a_tampered_model(node_app, edge_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(edge_bundle.bundle, bundle)
    blob = bytearray((bundle / "int8.onnx").read_bytes())
    blob[-20] ^= 0x01
    (bundle / "int8.onnx").write_bytes(bytes(blob))
    result = node(node_app, bundle)
    assert result.returncode == 1 and "does not match manifest.json" in result.stderr
