"""The reduced path's output, pixel for pixel, on fixed synthetic pictures (reduced_cases.py).

data/reduced_golden.npz holds preprocess_at(picture, k) for k = 2, 4, 8 and preprocess(picture) on
each case, as computed by a slower implementation of the same pipeline (a whole-profile trim and a
cumulative-sum box resize); the shipped one must give the same bytes. Any change to
the trim's ramp fit, the lines it reads, the block geometry or the resize shows here, even one a
fidelity tolerance would absorb. If the pipeline's output is meant to change, regenerate the file
(`python tests/runtime/reduced_cases.py`) and say so in the manifest's preprocessing id (runtime/manifest.py), as for any change of
fashion-mnist-v1.

Checked able to fail: reading one line fewer before a leading edge changes 6 of the 68 stored
outputs, and dropping the last block's weight when an output lies in a single block changes 1.
"""
from __future__ import annotations

import numpy as np
import pytest

from reduced_cases import GOLDEN, outputs, reduced_cases


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN) as stored:
        return {name: stored[name] for name in stored.files}


@pytest.mark.parametrize("name, data", reduced_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_reduced_path_output_is_unchanged(name, data, golden):
    for key, found in outputs(data).items():
        assert np.array_equal(found, golden[f"{name}/{key}"]), f"{name}: {key}"


def test_the_cases_differ_between_reductions(golden):
    """The cases are not degenerate: decoding at another 1/k moves pixels (so placing edges matters)."""
    names = {key.rsplit("/", 1)[0] for key in golden}
    moved = sum(not np.array_equal(golden[f"{n}/k2"], golden[f"{n}/k8"]) for n in names)
    assert moved >= len(names) // 2
    assert all(golden[f"{n}/k2"].max() > 30 for n in names)      # a garment in every one
