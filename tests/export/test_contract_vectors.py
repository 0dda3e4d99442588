"""The preprocessing vectors of every recipe and contract, as the exporter writes them, pass the Python
runtime's own check (`fashion-edge verify`): hashes, golden outputs, and each photo through the recipe
within the measured tolerance."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bundle_edits import with_vectors
from fashion_edge.runtime.bundle import Bundle

pytestmark = pytest.mark.slow     # each bundle's vectors include a 12 MP photo to render and measure


def test_verify_accepts_each_contracts_vectors(contract_bundle, tmp_path):
    bundle = with_vectors(contract_bundle, tmp_path / "bundle")
    vectors = Bundle.load(bundle).golden().preprocessing_vectors
    contract = Bundle.load(bundle).manifest.input
    assert vectors.id == contract.preprocessing.id and len(vectors.cases) >= 13
    for case in vectors.cases:
        assert case.pixels.shape == contract.frame_shape
    done = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "verify", str(bundle)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"preprocessing vectors: {len(vectors.cases)}/{len(vectors.cases)} photos within" in done.stdout
