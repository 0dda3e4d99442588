"""The training input pipeline: shuffled batches, with the recipe's flips and small translations.

Augmentation runs on whole batches inside tf.data (one op per batch, not per image), seeded, so a
run is reproducible with TensorFlow's op determinism on.
"""
from __future__ import annotations

import numpy as np

from fashion_edge.train.models import TrainingRecipe


def training_data(tf, x: np.ndarray, y: np.ndarray, recipe: TrainingRecipe, seed: int):
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(recipe.batch_size)
    if recipe.flip or recipe.shift:
        ds = ds.map(lambda images, labels: (_augment(tf, images, recipe, seed), labels),
                    num_parallel_calls=1, deterministic=True)
    return ds.prefetch(2)


def _augment(tf, images, recipe: TrainingRecipe, seed: int):
    images = tf.cast(images, tf.float32)
    n = tf.shape(images)[0]
    if recipe.flip:  # each image mirrored left-right with probability 1/2
        coin = tf.random.uniform((n, 1, 1, 1), seed=seed) < 0.5
        images = tf.where(coin, tf.reverse(images, axis=[2]), images)
    if recipe.shift:  # each image moved by up to `shift` pixels in x and y, the gap filled with background
        s = recipe.shift
        side = images.shape[1]
        padded = tf.pad(images, [[0, 0], [s, s], [s, s], [0, 0]])
        dy = tf.cast(tf.random.uniform((n,), 0, 2 * s + 1, dtype=tf.int32, seed=seed + 1), tf.float32)
        dx = tf.cast(tf.random.uniform((n,), 0, 2 * s + 1, dtype=tf.int32, seed=seed + 2), tf.float32)
        span = float(side + 2 * s - 1)
        # nearest-neighbour crop whose sample points fall exactly on pixels: an integer shift, no blur
        boxes = tf.stack([dy, dx, dy + side - 1, dx + side - 1], axis=1) / span
        images = tf.image.crop_and_resize(padded, boxes, tf.range(n), (side, side), method="nearest")
    return images
