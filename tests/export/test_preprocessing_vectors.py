"""Preprocessing vectors: photos in the bundle with the pixels fashion-mnist-v1 makes of them, a
measured tolerance, and every file listed and hashed in the manifest."""
from __future__ import annotations

import importlib
import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fashion_edge.export import preprocessing_vectors as pv
from fashion_edge.runtime.bundle import Bundle, sha256_bytes
from fashion_edge.runtime.recipes import FASHION_MNIST as PREPROCESSING_ID
from fashion_edge.runtime.golden import MODES
from fashion_edge.runtime.preprocess import preprocess

MAX_TOTAL_BYTES = 3_000_000      # the vectors travel in every bundle, to every device


@pytest.fixture(scope="module")
def built(data):
    return pv.build(data.x_test)


def test_cases_cover_sizes_modes_orientations_and_backgrounds(built):
    cases = built.vectors.cases
    assert {c.mode for c in cases} == set(MODES)
    assert {c.background for c in cases} == {"white", "off-white", "dark", "transparent"}
    assert {c.exif_orientation for c in cases} >= {1, 3, 6, 8}
    assert min(c.width * c.height for c in cases) == 28 * 28 and max(c.width * c.height for c in cases) >= 12_000_000
    assert {c.file.rsplit(".", 1)[1] for c in cases} == {"jpg", "png"}
    assert sum(len(d) for d in built.files.values()) < MAX_TOTAL_BYTES


def test_each_case_is_what_preprocess_makes_of_its_file(built):
    for case in built.vectors.cases:
        data = built.files[case.file]
        assert case.sha256 == sha256_bytes(data) and case.bytes == len(data)
        with Image.open(io.BytesIO(data)) as image:
            assert (image.width, image.height, image.mode) == (case.width, case.height, case.mode)
        assert np.array_equal(preprocess(data), case.pixels), case.name


def test_the_dataset_style_case_passes_through_unchanged(built, data):
    case = next(c for c in built.vectors.cases if c.name == "dataset-28x28")
    assert np.array_equal(case.pixels, data.x_test[0])


def test_tolerance_covers_every_measured_alternative_with_a_margin(built, monkeypatch):
    tolerance = built.vectors.tolerance
    assert built.vectors.id == PREPROCESSING_ID and tolerance.why
    for name, (mean, worst) in built.spreads.items():
        assert mean <= pv.MAX_CASE_SPREAD, name
        assert mean * pv.MARGIN <= tolerance.mean_abs + 0.05 and worst * pv.MARGIN <= tolerance.max_abs + 1
    # ...and stays tight enough to catch a port that skips a step: no sharpening moves a case by more.
    monkeypatch.setattr(importlib.import_module("fashion_edge.runtime.preprocess"), "SHARPEN",
                        ImageFilter.Kernel((3, 3), [0, 0, 0, 0, 1, 0, 0, 0, 0]))   # a port forgetting step 4
    caught = [c.name for c in built.vectors.cases if not tolerance.accepts(preprocess(built.files[c.file]), c.pixels)]
    assert len(caught) >= len(built.vectors.cases) - 2     # all but the 28x28 pass-through (and maybe one)


def test_vectors_are_deterministic(data, built):
    again = pv.build(data.x_test)
    assert [c.to_json() for c in again.vectors.cases] == [c.to_json() for c in built.vectors.cases]
    assert again.files == built.files


@pytest.mark.slow
def test_exported_bundle_carries_the_vectors_as_hashed_assets(edge_bundle):
    bundle = Bundle.load(edge_bundle.bundle)
    vectors = bundle.golden().preprocessing_vectors
    assert vectors is not None and vectors.id == bundle.manifest.input.preprocessing.id
    listed = {a.file: a for a in bundle.manifest.assets}
    for case in vectors.cases:
        assert listed[case.file].sha256 == case.sha256 and listed[case.file].bytes == case.bytes
        data = bundle.read_file(case.file)                  # hash-checked against the manifest
        assert vectors.tolerance.accepts(preprocess(data), case.pixels)
    assert sorted(p.name for p in (edge_bundle.bundle / pv.FOLDER).iterdir()) == sorted(
        c.file.split("/")[1] for c in vectors.cases)
