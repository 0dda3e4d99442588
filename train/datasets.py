"""Labelled images as device frames: what export calibrates on, gates with and records, at any input shape.

An `ImageSet` holds uint8 frames (N, H, W, C), already in the bundle's preprocessing, and the class
names in label order. Fashion-MNIST becomes one with `FashionMNIST.image_set()`; other sources (a
folder of the user's photos, a test's synthetic set) build one directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashion_edge.runtime.errors import DataError


@dataclass(frozen=True, eq=False)
class ImageSet:
    name: str                        # where the images came from, for the logs and error messages
    classes: tuple[str, ...]         # class names in label order
    train: np.ndarray                # uint8 (N, H, W, C): the calibration pool and the validation split come from here
    train_labels: np.ndarray         # (N,) class ids
    test: np.ndarray                 # uint8 (M, H, W, C): held out for the parity gate and the report
    test_labels: np.ndarray          # (M,)

    def __post_init__(self) -> None:
        for name, x, y in (("train", self.train, self.train_labels), ("test", self.test, self.test_labels)):
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] not in (1, 3):
                raise DataError(f"{self.name}: {name} images must be uint8 (N, H, W, 1 or 3), not {x.dtype} {x.shape}")
            if len(x) != len(y) or not len(x):
                raise DataError(f"{self.name}: {name} has {len(x)} images and {len(y)} labels")
            if y.min() < 0 or y.max() >= len(self.classes):
                raise DataError(f"{self.name}: {name} labels must be 0..{len(self.classes) - 1}")
        if self.train.shape[1:] != self.test.shape[1:]:
            raise DataError(f"{self.name}: train images are {self.train.shape[1:]}, test images {self.test.shape[1:]}")
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes) or not all(c.strip() for c in self.classes):
            raise DataError(f"{self.name}: classes must be 2 or more distinct, non-empty names")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of every frame."""
        return tuple(self.test.shape[1:])

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, ...]:
        """(x_fit, y_fit, x_val, y_val) from the training images only, as training split them (same seed,
        same images): the validation images stay held out from calibration."""
        fit, val = validation_split(len(self.train), fraction, seed)
        return self.train[fit], self.train_labels[fit], self.train[val], self.train_labels[val]


def validation_split(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices of n training images: the one split training and export both use."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return order[n_val:], order[:n_val]
