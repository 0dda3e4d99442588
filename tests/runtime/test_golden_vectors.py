"""golden.json's preprocessing vectors as types: round trip, older bundles without them, and every
malformed field a BundleError naming it. No trained model needed."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.formats import PREPROCESSING_ID
from fashion_edge.runtime.golden import (Golden, GoldenOutput, PreprocessingCase, PreprocessingVectors,
                                         Tolerance)


def sample_golden(vectors: bool = True) -> Golden:
    pixels = np.arange(784, dtype=np.uint8).reshape(28, 28)
    case = PreprocessingCase("rgb-320x320", "preprocessing/rgb-320x320.jpg", "a" * 64, 1234, 320, 320, "RGB", 6,
                             "white", pixels)
    return Golden(PREPROCESSING_ID, pixels[None], (3,), np.zeros((1, 10), np.float32),
                  {"tflite-int8": GoldenOutput(np.zeros((1, 10), np.float32), (0,), "0123")},
                  PreprocessingVectors(PREPROCESSING_ID, Tolerance(1.9, 17, "measured"), (case,)) if vectors else None)


def test_vectors_read_back_as_written():
    raw = json.loads(json.dumps(sample_golden().to_json()))
    vectors = Golden.from_json(raw).preprocessing_vectors
    assert vectors.to_json() == sample_golden().preprocessing_vectors.to_json()
    assert set(raw["preprocessing_vectors"]) == {"id", "tolerance", "cases"}
    assert set(raw["preprocessing_vectors"]["tolerance"]) == {"mean_abs", "max_abs", "why"}
    assert set(raw["preprocessing_vectors"]["cases"][0]) == {"name", "file", "sha256", "bytes", "width", "height",
                                                             "mode", "exif_orientation", "background", "pixels"}


def test_bundles_from_before_the_vectors_still_load():
    raw = sample_golden(vectors=False).to_json()
    assert "preprocessing_vectors" not in raw and Golden.from_json(raw).preprocessing_vectors is None


def test_tolerance_accepts_within_and_refuses_beyond():
    expected = np.full((28, 28), 100, np.uint8)
    tolerance = Tolerance(1.0, 10, "")
    assert tolerance.accepts(expected, expected)
    moved = expected.copy()
    moved[0, :20] += 10                                   # mean 0.26, max 10
    assert tolerance.accepts(moved, expected)
    moved[0, 0] += 1
    assert not tolerance.accepts(moved, expected)         # one pixel over max_abs
    assert not tolerance.accepts(expected + 2, expected)  # mean over mean_abs


def _set(path, value):
    def edit(raw):
        node = raw["preprocessing_vectors"]
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return edit


MALFORMED = [
    (("id",), 3, "preprocessing_vectors.id"),
    (("id",), "imagenet", "differs from preprocessing"),
    (("tolerance",), KeyError, "preprocessing_vectors.tolerance is missing"),
    (("tolerance", "mean_abs"), -1, "preprocessing_vectors.tolerance.mean_abs"),
    (("tolerance", "max_abs"), 2.5, "preprocessing_vectors.tolerance.max_abs"),
    (("tolerance", "why"), None, "preprocessing_vectors.tolerance.why"),
    (("cases",), [], "lists no cases"),
    (("cases",), {"a": 1}, "preprocessing_vectors.cases must be a list"),
    (("cases", 0), "x", r"preprocessing_vectors.cases\[0\] must be an object"),
    (("cases", 0, "name"), KeyError, r"cases\[0\].name is missing"),
    (("cases", 0, "file"), "../../etc/passwd", r"cases\[0\].file must be a plain file name"),
    (("cases", 0, "file"), "/abs.jpg", r"cases\[0\].file must be a plain file name"),
    (("cases", 0, "sha256"), "xyz", r"cases\[0\].sha256"),
    (("cases", 0, "bytes"), 0, r"cases\[0\].bytes must be at least 1"),
    (("cases", 0, "width"), "320", r"cases\[0\].width"),
    (("cases", 0, "mode"), "CMYK", r"cases\[0\].mode must be one of"),
    (("cases", 0, "exif_orientation"), 9, r"cases\[0\].exif_orientation must be 1..8"),
    (("cases", 0, "exif_orientation"), True, r"cases\[0\].exif_orientation"),
    (("cases", 0, "background"), "green", r"cases\[0\].background must be one of"),
    (("cases", 0, "pixels"), [[0] * 28] * 27, r"cases\[0\].pixels"),
    (("cases", 0, "pixels"), [[256] * 28] * 28, r"cases\[0\].pixels"),
    (("cases", 0, "pixels"), "pixels", r"cases\[0\].pixels"),
]


@pytest.mark.parametrize("path, value, message", MALFORMED)
def test_malformed_vectors_are_a_bundle_error_naming_the_field(path, value, message):
    raw = copy.deepcopy(sample_golden().to_json())
    _set(path, value)(raw)
    with pytest.raises(BundleError, match=message):
        Golden.from_json(raw)


def test_duplicate_case_names_are_refused():
    raw = sample_golden().to_json()
    raw["preprocessing_vectors"]["cases"] *= 2
    with pytest.raises(BundleError, match="unique"):
        Golden.from_json(raw)
