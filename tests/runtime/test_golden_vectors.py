"""golden.json as types: round trip at any input shape and class count, schema-2 files, bundles without
preprocessing vectors, and every malformed field a BundleError naming it. No trained model needed."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.recipes import FASHION_MNIST as PREPROCESSING_ID
from fashion_edge.runtime.golden import (Golden, GoldenOutput, PreprocessingCase, PreprocessingVectors,
                                         Tolerance)


def sample_golden(vectors: bool = True, shape: tuple[int, int, int] = (28, 28, 1), classes: int = 10) -> Golden:
    pixels = (np.arange(int(np.prod(shape))) % 251).astype(np.uint8).reshape(shape)
    case = PreprocessingCase("rgb-320x320", "preprocessing/rgb-320x320.jpg", "a" * 64, 1234, 320, 320, "RGB", 6,
                             "white", pixels[..., 0] if shape[2] == 1 else pixels)
    outputs = np.linspace(-3, 3, classes, dtype=np.float32)[None]
    return Golden(PREPROCESSING_ID, pixels[None], (3,), outputs,
                  {"tflite-int8": GoldenOutput(outputs, (classes - 1,), np.arange(40, dtype=np.int32) % classes)},
                  PreprocessingVectors(PREPROCESSING_ID, Tolerance(1.9, 17, "measured"), (case,)) if vectors else None)


@pytest.mark.parametrize("shape, classes", [((28, 28, 1), 10), ((32, 48, 3), 12), ((64, 64, 3), 2)])
def test_golden_reads_back_at_any_shape_and_class_count(shape, classes):
    golden = sample_golden(shape=shape, classes=classes)
    raw = json.loads(json.dumps(golden.to_json()))
    back = Golden.from_json(raw)
    assert back.images.shape == (1, *shape) and np.array_equal(back.images, golden.images)
    assert np.array_equal(back.outputs["tflite-int8"].test_top1, golden.outputs["tflite-int8"].test_top1)
    assert back.outputs["tflite-int8"].test_top1.max() == classes - 1      # 11 with 12 classes: no longer one digit
    assert raw["outputs"]["tflite-int8"]["test_top1"][:12] == [i % classes for i in range(12)]
    assert np.array_equal(back.preprocessing_vectors.cases[0].pixels, golden.preprocessing_vectors.cases[0].pixels)


def test_a_schema_2_golden_file_still_reads():
    raw = sample_golden(vectors=False).to_json()
    raw["images"] = raw_images = [np.arange(784).reshape(28, 28).astype(np.uint8).tolist()]
    raw["outputs"]["tflite-int8"]["test_top1"] = "0123"
    golden = Golden.from_json(raw)
    assert golden.images.shape == (1, 28, 28, 1) and golden.images[0, 1, 0, 0] == raw_images[0][1][0]
    assert golden.outputs["tflite-int8"].test_top1.tolist() == [0, 1, 2, 3]


def test_test_top1_out_of_range_is_refused():
    raw = sample_golden().to_json()
    raw["outputs"]["tflite-int8"]["test_top1"][0] = 10
    with pytest.raises(BundleError, match=r"outputs.tflite-int8.test_top1 must hold class ids 0..9"):
        Golden.from_json(raw)


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


def test_tolerance_refuses_a_frame_of_another_shape_with_the_same_number_of_values():
    expected = np.zeros((4, 6, 3), np.uint8)
    tolerance = Tolerance(1.0, 10, "")
    assert tolerance.accepts(expected, expected) and tolerance.accepts(np.zeros((28, 28, 1)), np.zeros((28, 28)))
    assert not tolerance.accepts(np.zeros((6, 4, 3), np.uint8), expected)


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
    (("cases", 0, "pixels", "base64"), "!" * 1048, r"cases\[0\].pixels.base64 is not valid base64"),
    (("cases", 0, "pixels", "base64"), "AAAA", r"cases\[0\].pixels.base64 is too short for shape \[28, 28\]"),
    (("cases", 0, "pixels", "shape"), [28, 27], r"cases\[0\].pixels.base64 holds 784 bytes, not the 756"),
    (("cases", 0, "pixels", "shape"), [4294967296, 4294967296], r"cases\[0\].pixels.base64 is too short"),
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
