"""The parity gate and the calibration search on constructed cases: what they decide must not
depend on where a trained model happens to land, so it is tested here with logits built to sit
exactly on either side of each threshold."""
from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.export.calibration import HeldOut, Int8Recipe, search
from fashion_edge.export.parity import compare
from fashion_edge.runtime.formats import FORMATS

N = 10_000


def _logits_with_disagreements(k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Keras-like logits and a copy whose top-1 differs on exactly `k` images."""
    keras = rng.normal(0, 1, (N, 10)).astype(np.float32)
    keras[np.arange(N), rng.integers(0, 10, N)] += 5.0   # a clear winner per image
    other = keras.copy()
    top = keras.argmax(1)
    for i in range(k):
        other[i, (top[i] + 1) % 10] = keras[i, top[i]] + 1.0
    return keras, other


@pytest.mark.parametrize("fmt, model", [("tflite-int8", "edge"), ("onnx-int8", "edge"), ("tflite-int8", "linear")])
def test_agreement_exactly_at_the_threshold_passes_and_one_image_below_fails(fmt, model):
    rng = np.random.default_rng(0)
    limit = FORMATS[fmt].gate_for(model).min_agreement
    allowed = round((1 - limit) * N)
    keras, at = _logits_with_disagreements(allowed, rng)
    labels = keras.argmax(1)
    labels[: allowed + 1] = (labels[: allowed + 1] + 5) % 10  # wrong either way: accuracy is not at stake
    assert compare(fmt, model, keras, at, labels).passed
    _, below = _logits_with_disagreements(allowed + 1, np.random.default_rng(0))
    parity = compare(fmt, model, keras, below, labels)
    assert not parity.passed
    assert parity.failures == (f"agreement {100 * (N - allowed - 1) / N:.2f}% < {100 * limit:.2f}%",)


def test_float_formats_must_reproduce_the_logits_not_only_the_labels():
    rng = np.random.default_rng(1)
    keras, _ = _logits_with_disagreements(0, rng)
    labels = keras.argmax(1)
    assert compare("onnx-float32", "edge", keras, keras + 5e-4, labels).passed
    parity = compare("onnx-float32", "edge", keras, keras + 2e-3, labels)
    assert [f.split(" ")[0] for f in parity.failures] == ["max"]


def test_an_accuracy_drop_beyond_the_limit_fails_even_with_high_agreement():
    rng = np.random.default_rng(2)
    keras, _ = _logits_with_disagreements(0, rng)
    labels = keras.argmax(1)
    worse = keras.copy()
    # 40 images flip away from the true label: 99.6% agreement (passes), 0.4 pp accuracy drop (> 0.3)
    worse[np.arange(40), (labels[:40] + 1) % 10] += 20
    parity = compare("tflite-int8", "edge", keras, worse, labels)
    assert parity.agreement == pytest.approx(0.996)
    assert parity.failures == ("accuracy drop 0.40 pp > 0.30 pp",)


def test_nan_logits_fail_the_gate():
    keras, _ = _logits_with_disagreements(0, np.random.default_rng(3))
    broken = keras.copy()
    broken[0, 0] = np.nan
    assert not compare("tflite-float32", "edge", keras, broken, keras.argmax(1)).passed


def _held_out(n_val: int = 200) -> HeldOut:
    rng = np.random.default_rng(0)
    return HeldOut(pool=rng.integers(0, 256, (50, 28, 28, 1), dtype=np.uint8),
                   images=rng.integers(0, 256, (n_val, 28, 28, 1), dtype=np.uint8),
                   labels=rng.integers(0, 10, n_val), keras_top1=rng.integers(0, 10, n_val))


def test_search_keeps_the_recipe_with_the_best_validation_agreement_and_records_all():
    held = _held_out()
    quality = {"a": 0.90, "b": 0.97, "c": 0.95}   # fraction of validation images each recipe gets right
    seen_sizes = {}

    def build(recipe: Int8Recipe, images: np.ndarray) -> bytes:
        seen_sizes[recipe.name] = len(images)
        return recipe.name.encode()

    def run(model: bytes, x: np.ndarray) -> np.ndarray:
        assert x is held.images  # judged on the validation split, nothing else
        right = int(quality[model.decode()] * len(x))
        top1 = held.keras_top1.copy()
        top1[right:] = (top1[right:] + 1) % 10
        return np.eye(10, dtype=np.float32)[top1]

    recipes = (Int8Recipe("a", images=10), Int8Recipe("b", images=1000), Int8Recipe("c"))
    choice = search(recipes, build, run, held)
    assert choice.recipe.name == "b" and choice.model == b"b"
    assert [round(c.validation_agreement, 2) for c in choice.candidates] == [0.90, 0.97, 0.95]
    assert seen_sizes == {"a": 10, "b": 50, "c": 50}  # a recipe asking for more than the pool gets the pool
    record = choice.record(len(held.images))
    assert record.chosen.name == "b" and record.validation_images == 200
    assert [c.recipe for c in record.candidates] == ["a", "b", "c"]


def test_search_breaks_ties_by_declared_order():
    held = _held_out()
    choice = search((Int8Recipe("first"), Int8Recipe("second")), lambda r, _: r.name.encode(),
                    lambda _m, x: np.eye(10, dtype=np.float32)[held.keras_top1], held)
    assert choice.recipe.name == "first"
