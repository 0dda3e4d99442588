"""The input pipelines: shuffled training batches with the recipe's flips and small translations, and
the validation batches.

Augmentation runs on whole batches inside tf.data (one op per batch, not per image), seeded, so a
run is reproducible with TensorFlow's op determinism on.
"""
from __future__ import annotations

import numpy as np

from fashion_edge.train.models import TrainingRecipe


def without_autotune(tf, ds):
    """`ds` with tf.data's autotuning off: its parallelism and buffers are fixed here anyway.

    Keras makes a new iterator every epoch, and destroying one waits for autotune's model thread
    (`Model::OptimizeLoop`) to end a timed wait that cancellation does not cut short: with autotune
    on, the process sits idle for 12-20 s at the end of about half the epochs, so 30 epochs take
    971 s instead of 743 s (Intel Xeon, 2 cores, TensorFlow 2.21). The weights and batches are the
    same: autotune only tunes performance knobs, and this pipeline sets them all.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def training_data(tf, x: np.ndarray, y: np.ndarray, recipe: TrainingRecipe, seed: int):
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(recipe.batch_size)
    if recipe.flip or recipe.shift:
        ds = ds.map(lambda images, labels: (_augment(tf, images, recipe, seed), labels),
                    num_parallel_calls=1, deterministic=True)
    return without_autotune(tf, ds.prefetch(2))


def validation_data(tf, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
    """The held-out images in order, judged after every epoch."""
    return without_autotune(tf, tf.data.Dataset.from_tensor_slices((x[..., None], y)).batch(batch_size))


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
