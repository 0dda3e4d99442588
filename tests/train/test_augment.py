"""The training input pipeline: what the model sees is the source image flipped and shifted by whole pixels."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fashion_edge.train.augment import training_data, validation_data
from fashion_edge.train.models import MODELS

pytestmark = pytest.mark.slow   # tf.data pipelines: TensorFlow


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow

RECIPE = MODELS["edge"].recipe


def _images(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, size=(n, 28, 28), dtype=np.uint8)  # no zero pixels: the fill is recognisable
    return x, np.arange(n, dtype=np.int64)                      # the label says which source image it is


@pytest.mark.parametrize("flip,shift", [(False, 0), (True, 0), (False, 1), (True, 2)])
def test_batches_have_a_static_shape(flip, shift, tf):
    """The model's training step is built for the batches' static shape: every augmentation must keep it."""
    x, y = _images()
    recipe = dataclasses.replace(RECIPE, flip=flip, shift=shift, batch_size=16)
    spec = training_data(tf, x, y, recipe, seed=0).element_spec[0]
    assert tuple(spec.shape) == (None, 28, 28, 1)


def _candidates(source: np.ndarray, shift: int):
    padded = np.pad(source.astype(np.float32), shift)
    for flipped in (padded, padded[:, ::-1]):
        for dy in range(2 * shift + 1):
            for dx in range(2 * shift + 1):
                yield flipped[dy:dy + 28, dx:dx + 28]


def test_every_image_is_its_source_flipped_and_moved_by_whole_pixels(tf):
    x, y = _images()
    shift = 2
    recipe = dataclasses.replace(RECIPE, flip=True, shift=shift, batch_size=16)
    seen, moved, mirrored = 0, 0, 0
    for images, labels in training_data(tf, x, y, recipe, seed=3):
        for image, label in zip(images.numpy()[..., 0], labels.numpy()):
            matches = [i for i, c in enumerate(_candidates(x[label], shift)) if np.array_equal(c, image)]
            assert matches, f"image {label} is not a whole-pixel shift (or mirror) of its source"
            seen += 1
            moved += not np.array_equal(image, x[label].astype(np.float32))
            mirrored += matches[0] >= (2 * shift + 1) ** 2    # the second half of the candidates is mirrored
    assert seen == len(x)
    assert moved > len(x) // 2        # 24 of 25 placements move the image; a no-op augmentation fails here
    assert 0 < mirrored < len(x)       # each image mirrored with probability 1/2


def test_same_seed_same_batches(tf):
    x, y = _images()
    recipe = dataclasses.replace(RECIPE, flip=True, shift=1, batch_size=16)
    first = [b.numpy() for b, _ in training_data(tf, x, y, recipe, seed=7)]
    again = [b.numpy() for b, _ in training_data(tf, x, y, recipe, seed=7)]
    other = [b.numpy() for b, _ in training_data(tf, x, y, recipe, seed=8)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_pipelines_run_without_autotune(tf):
    """Autotune's model thread stalled the end of about half the epochs for 12-20 s (train/augment.py)."""
    x, y = _images()
    for ds in (training_data(tf, x, y, RECIPE, seed=0), validation_data(tf, x, y)):
        assert ds.options().autotune.enabled is False


def test_validation_batches_are_the_images_in_order(tf):
    x, y = _images(40)
    batches = list(validation_data(tf, x, y, batch_size=16).as_numpy_iterator())
    assert [len(labels) for _, labels in batches] == [16, 16, 8]
    images = np.concatenate([b for b, _ in batches])
    assert images.shape == (40, 28, 28, 1) and np.array_equal(images[..., 0], x)
    assert np.array_equal(np.concatenate([labels for _, labels in batches]), y)
