"""The bundle consumed from another language: Node.js (LiteRT.js for TFLite, onnxruntime-node for ONNX
and ORT format) against golden.json, reading the contract from the manifest (schema 3 and 2), and the
shared JavaScript preprocessing module (apps/web/preprocess.js, decoded by apps/node-check/decode.mjs:
jpeg-js, pngjs) against the bundle's preprocessing vectors. Run as Node users expect: `npm test -- BUNDLE`.

The committed tiny bundles carry no vectors (to stay small); a copy of each gets the exporter's own
vectors here (export/vectors.py), so every recipe and contract is checked through decoding too.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bundle_edits import with_vectors

from fashion_edge.runtime.bundle import Bundle
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


def runtime_of(fmt: str) -> str:
    return "LiteRT.js" if fmt.startswith("tflite-") else "onnxruntime-node"


def assert_formats_match_golden(result: subprocess.CompletedProcess, bundle: Path) -> None:
    """Every TFLite/ONNX/ORT format of the bundle, and no other, ran on its runtime and matched golden.json."""
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = Bundle.load(bundle)
    images = len(loaded.golden().images)
    ran = [line.split(":")[0] for line in result.stdout.splitlines() if " golden images on " in line]
    assert ran == [f for f in loaded.formats if FORMATS[f].family in ("tflite", "onnx", "ort")], result.stdout
    for fmt in ran:
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"{fmt}: "))
        assert line.startswith(f"{fmt}: {images} golden images on {runtime_of(fmt)}") and line.endswith(": ok"), line
    assert result.stdout.splitlines()[-1] == (f"node-check ({len(loaded.labels)} labels, {len(ran)} formats): passed")


def test_node_check_runs_each_contracts_formats_and_matches_golden(node_app, contract_bundle):
    result = node(node_app, contract_bundle)
    assert_formats_match_golden(result, contract_bundle)
    contract = Bundle.load(contract_bundle).manifest
    shape = f"input {contract.input.height}x{contract.input.width}x{contract.input.channels} {contract.input.colour.value}"
    assert f"{shape}, {contract.input.preprocessing.id}" in result.stdout
    assert f"output {contract.output.classes} {contract.output.kind.value}" in result.stdout
    assert "no preprocessing vectors: not checked" in result.stdout


def test_node_check_reads_a_schema2_bundle(node_app, schema2_bundle):
    result = node(node_app, schema2_bundle)
    assert_formats_match_golden(result, schema2_bundle)
    assert "contract: schema 2, input 28x28x1 grayscale, fashion-mnist-v1 {}; output 10 logits" in result.stdout


def test_shared_preprocessing_meets_each_contracts_vectors_under_node(node_app, contract_bundle, tmp_path):
    bundle = with_vectors(contract_bundle, tmp_path / "bundle")
    cases = Bundle.load(bundle).golden().preprocessing_vectors.cases
    result = node(node_app, bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    for case in cases:
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"preprocessing {case.name}:"))
        assert line.endswith(": ok"), line
    assert f"preprocessing: {len(cases)} photos through the shared JavaScript module" in result.stdout
    assert "covers the decoding: measured on these cases" in result.stdout


def test_node_runs_every_format_of_an_exported_bundle_and_matches_golden(node_app, edge_bundle):
    result = node(node_app, edge_bundle.bundle)
    assert_formats_match_golden(result, edge_bundle.bundle)
    assert len(Bundle.load(edge_bundle.bundle).formats) == len(FORMATS)


def test_node_preprocessing_matches_every_vector_of_an_exported_bundle(node_app, edge_bundle):
    vectors = Bundle.load(edge_bundle.bundle).golden().preprocessing_vectors
    result = node(node_app, edge_bundle.bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    for case in vectors.cases:
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"preprocessing {case.name}:"))
        assert line.endswith(": ok"), line
    assert f"preprocessing: {len(vectors.cases)} photos through the shared JavaScript module" in result.stdout


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
