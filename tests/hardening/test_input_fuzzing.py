"""Property-based input fuzzing: every input ends in a Prediction or the package's own typed error."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from fashion_edge.runtime import Classifier, FashionEdgeError, Prediction
from fashion_edge.runtime.preprocess import preprocess

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float16, np.float32,
                          np.float64, np.bool_, np.complex64])
ARRAYS = DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)))
HEADERS = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"GIF89a", b"BM",
                           b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"II*\x00"])


@pytest.fixture(scope="module")
def clf(tiny_bundle):
    return Classifier(tiny_bundle)


def _outcome(call):
    try:
        result = call()
    except FashionEdgeError:
        return "typed-error"
    return result


@SETTINGS
@given(array=ARRAYS)
def test_arrays_of_any_shape_dtype_and_value(clf, array):
    out = _outcome(lambda: clf.predict(array))
    assert out == "typed-error" or isinstance(out, Prediction)


@SETTINGS
@given(header=HEADERS, body=st.binary(max_size=2048))
def test_random_bytes_and_real_headers_with_garbage_bodies(clf, header, body):
    out = _outcome(lambda: clf.predict(header + body))
    assert out == "typed-error" or isinstance(out, Prediction)


@SETTINGS
@given(width=st.integers(1, 600), height=st.integers(1, 600), mode=st.sampled_from(["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "CMYK"]),
       fmt=st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]), cut=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_real_images_of_any_size_and_mode_whole_or_truncated(clf, width, height, mode, fmt, cut, seed):
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    try:
        image.save(buf, fmt)
    except (OSError, ValueError, KeyError):
        return  # that format cannot store that mode: nothing to feed
    data = buf.getvalue()
    data = data[: max(1, int(len(data) * cut))] if cut < 0.95 else data
    out = _outcome(lambda: clf.predict(data))
    assert out == "typed-error" or isinstance(out, Prediction)


def test_extreme_sizes(clf):
    for shape in [(1, 1), (1, 5000), (5000, 1), (2, 2, 3)]:
        out = _outcome(lambda: clf.predict(np.full(shape, 80, np.uint8)))
        assert out == "typed-error" or isinstance(out, Prediction)
    out = _outcome(lambda: preprocess(np.zeros((8000, 8000), np.uint8)))  # 64 MP: over the limit
    assert out == "typed-error"
