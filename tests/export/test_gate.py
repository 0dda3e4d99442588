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
    assert parity.failures == (f"{allowed + 1} of {N:,} images differ from Keras, at most {allowed} may "
                               f"(agreement {100 * (N - allowed - 1) / N:.2f}% < {100 * limit:.2f}%)",)
    assert (parity.flips, parity.allowed_flips) == (allowed + 1, allowed)


@pytest.mark.parametrize("n, allowed", [(400, 2), (399, 1), (200, 1), (199, 0), (1000, 5)])
def test_a_small_held_out_set_is_gated_in_whole_images(n, allowed):
    """99.5% of n images, rounded down: 2 of 400 may flip, 3 may not; below 200 images none may."""
    rng = np.random.default_rng(3)
    keras = rng.normal(0, 1, (n, 12)).astype(np.float32)
    keras[np.arange(n), rng.integers(0, 12, n)] += 5.0
    top = keras.argmax(1)

    def flipped(k: int) -> np.ndarray:
        other = keras.copy()
        other[np.arange(k), (top[:k] + 1) % 12] = keras[np.arange(k), top[:k]] + 1.0
        return other

    labels = (top + 6) % 12   # wrong either way: accuracy is not at stake
    at = compare("tflite-int8", "user-model", keras, flipped(allowed), labels)
    assert at.passed and at.allowed_flips == allowed and at.flips == allowed
    over = compare("tflite-int8", "user-model", keras, flipped(allowed + 1), labels)
    assert not over.passed and over.failures[0].startswith(f"{allowed + 1} of {n:,} images differ")


def test_the_agreement_interval_is_wilsons():
    """Reference values: Wilson's 95% interval for 8 of 10 is 0.490..0.943 (Newcombe 1998, table I
    style); 400 of 400 still allows 0.95 points of disagreement below 100%."""
    from fashion_edge.runtime.manifest import Parity, wilson_interval

    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.49, 0.943)
    lo, hi = wilson_interval(400, 400)
    assert hi == 1.0 and round(lo, 4) == 0.9905
    gate = FORMATS["tflite-int8"].gate
    parity = Parity(400, 0.9, 0.9, 399 / 400, 0.1, gate)
    assert parity.flips == 1 and parity.allowed_flips == 2
    assert parity.to_json()["agreement_wilson95"] == list(wilson_interval(399, 400))


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
