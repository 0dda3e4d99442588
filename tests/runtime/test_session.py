"""Session's quantization arithmetic with a fake backend: pixels in, float logits out, whatever the
model's own tensor types. No model file needed."""
from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.runtime.manifest import TensorSpec
from fashion_edge.runtime.prediction import Prediction
from fashion_edge.runtime.session import Session


class FakeBackend:
    """Records what it was fed; returns a fixed raw output in the output tensor's dtype."""

    name = "fake"

    def __init__(self, inp: TensorSpec, out: TensorSpec, raw: np.ndarray) -> None:
        self.input, self.output, self.raw, self.fed = inp, out, raw, []

    def run(self, x):
        self.fed.append(x)
        return np.repeat(self.raw[None], len(x), axis=0)

    def run_one(self, x):
        return self.run(x)


def pixels(n=2):
    return np.arange(n * 784, dtype=np.int64).reshape(n, 28, 28, 1).astype(np.uint8)


def test_uint8_input_with_unit_scale_gets_the_pixels_untouched_and_uint8_output_is_dequantized():
    raw = np.arange(10, dtype=np.uint8) * 20
    backend = FakeBackend(TensorSpec("x", "uint8", (1, 28, 28, 1), 1.0, 0), TensorSpec("y", "uint8", (1, 10), 0.5, 100), raw)
    session = Session(backend)
    x = pixels()
    logits = session.logits(x)
    assert np.shares_memory(backend.fed[0], x)  # no copy, no arithmetic: the int8 TFLite file takes raw pixels
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits[0], 0.5 * (raw.astype(np.float32) - 100))
    np.testing.assert_allclose(session.logits_one(x[:1]), logits[0])


def test_int8_input_is_quantized_with_rounding_and_clipping():
    backend = FakeBackend(TensorSpec("x", "int8", (1, 28, 28, 1), 2.0, -128), TensorSpec("y", "int8", (1, 10), 0.25, 0),
                          np.array([-128, -1, 0, 1, 127, 5, 6, 7, 8, 9], np.int8))
    session = Session(backend)
    x = np.full((1, 28, 28, 1), 255, np.uint8)
    x[0, 0, 0, 0] = 3
    logits = session.logits(x)
    fed = backend.fed[0]
    assert fed.dtype == np.int8
    assert fed[0, 0, 0, 0] == -126  # rint(3 / 2) - 128 = 2 - 128 (round half to even)
    assert fed[0, 1, 1, 0] == 0     # 255 / 2 = 127.5 -> 128 - 128 = 0
    np.testing.assert_allclose(logits[0, :5], [-32.0, -0.25, 0.0, 0.25, 31.75])


def test_float_models_get_float_pixels_and_return_float_logits():
    raw = np.linspace(-3, 3, 10).astype(np.float32)
    backend = FakeBackend(TensorSpec("x", "float32", (1, 28, 28, 1)), TensorSpec("y", "float32", (1, 10)), raw)
    logits = Session(backend).logits(pixels(3))
    assert backend.fed[0].dtype == np.float32 and backend.fed[0].max() == 255
    np.testing.assert_array_equal(logits, np.repeat(raw[None], 3, axis=0))


def test_int16_output_of_a_16x8_model_is_dequantized_without_a_table():
    raw = np.array([-32768, -1, 0, 1, 32767, 0, 0, 0, 0, 0], np.int16)
    backend = FakeBackend(TensorSpec("x", "float32", (1, 28, 28, 1)), TensorSpec("y", "int16", (1, 10), 0.001, 0), raw)
    logits = Session(backend).logits(pixels(1))
    np.testing.assert_allclose(logits[0, :5], [-32.768, -0.001, 0, 0.001, 32.767], rtol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 1001])
def test_batches_are_chunked_and_empty_batches_are_fine(n):
    backend = FakeBackend(TensorSpec("x", "float32", (1, 28, 28, 1)), TensorSpec("y", "float32", (1, 10)),
                          np.zeros(10, np.float32))
    assert Session(backend).logits(pixels(n) if n else np.zeros((0, 28, 28, 1), np.uint8)).shape == (n, 10)


def reference_softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits.astype(np.float64) - logits.max())
    return e / e.sum()


@pytest.mark.parametrize("dtype,scale,zero", [("int8", 0.25, -3), ("uint8", 0.125, 100), ("int8", 0.9, 0)])
def test_the_tabled_softmax_of_8bit_outputs_is_the_softmax_of_their_logits(dtype, scale, zero):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(0)
    for raw in [rng.integers(info.min, info.max + 1, 10).astype(dtype),
                np.array([info.min] * 9 + [info.max], dtype),          # the extremes
                np.array([info.min] * 4 + [7, 7] + [info.min] * 4, dtype)]:   # a tie: the first class wins
        session = Session(FakeBackend(TensorSpec("x", "uint8", (1, 28, 28, 1), 1.0, 0),
                                      TensorSpec("y", dtype, (1, 10), scale, zero), raw))
        top, probs = session.softmax_one(pixels(1))
        logits = session.logits(pixels(1))[0]
        assert top == int(np.argmax(logits))
        np.testing.assert_allclose(probs, reference_softmax(logits), rtol=1e-12, atol=1e-300)
        assert abs(sum(probs) - 1) < 1e-12


def test_outputs_far_below_the_top_level_fall_back_to_the_logits():
    # scale 4: the bottom level's tabled exp is exp(-1020) = 0, yet the softmax of these logits is well defined.
    raw = np.array([-128, -127] + [-128] * 8, np.int8)
    session = Session(FakeBackend(TensorSpec("x", "uint8", (1, 28, 28, 1), 1.0, 0),
                                  TensorSpec("y", "int8", (1, 10), 4.0, 0), raw))
    top, probs = session.softmax_one(pixels(1))
    assert top == 1
    np.testing.assert_allclose(probs, reference_softmax(session.logits(pixels(1))[0]), rtol=1e-12)


@pytest.mark.parametrize("out", [TensorSpec("y", "int8", (1, 10), 0.2, 5), TensorSpec("y", "float32", (1, 10))])
def test_the_batch_path_gives_the_same_probabilities_as_one_by_one(out):
    raw = np.linspace(-60, 60, 10).astype(out.dtype)
    session = Session(FakeBackend(TensorSpec("x", "uint8", (1, 28, 28, 1), 1.0, 0), out, raw))
    rows = [session.softmax(row) for row in session.outputs(pixels(3))]
    assert rows == [session.softmax_one(pixels(1))] * 3


LABELS = tuple(f"class {i}" for i in range(10))


@pytest.mark.parametrize("dtype,scale,zero", [("int8", 0.25, -3), ("uint8", 0.125, 100), ("int8", 0.9, 0),
                                              ("int8", 4.0, 0), ("float32", 0.0, 0)])
def test_the_batch_of_one_predictor_gives_the_eager_softmax_exactly(dtype, scale, zero):
    """The hot path (run_one and softmax inlined) against `softmax`, float for float: random outputs, the
    extremes, a tie (the first class wins), at scale 4 the underflow fallback, and a float model."""
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if dtype != "float32" else np.iinfo(np.int8)
    for raw in [rng.integers(info.min, info.max + 1, 10).astype(dtype), np.array([info.min] * 9 + [info.max], dtype),
                np.array([info.min] * 4 + [7, 7] + [info.min] * 4, dtype), np.array([info.min, info.min + 1] + [info.min] * 8, dtype)]:
        out = TensorSpec("y", dtype, (1, 10), scale, zero) if dtype != "float32" else TensorSpec("y", dtype, (1, 10))
        session = Session(FakeBackend(TensorSpec("x", "uint8", (1, 28, 28, 1), 1.0, 0), out, raw))
        top, probs = session.softmax(raw[None])
        got = session.predictor(LABELS)(pixels(1)[0, ..., 0])
        assert got == (top, LABELS[top], probs[top], probs) and type(got) is Prediction
