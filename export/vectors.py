"""The preprocessing vectors a bundle carries, by recipe: one builder per entry of runtime/recipes.py.

A builder takes the bundle's input contract and its test frames (N, H, W, C) and returns the
encoded photos and golden.json's "preprocessing_vectors" (the pixels the recipe makes of each photo,
and the tolerance a port may stray by).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from fashion_edge.export import photo_vectors, preprocessing_vectors
from fashion_edge.export.preprocessing_vectors import Vectors
from fashion_edge.runtime.contract import InputContract
from fashion_edge.runtime.recipes import FASHION_MNIST, PHOTO


def _fashion_mnist(contract: InputContract, test: np.ndarray) -> Vectors:
    return preprocessing_vectors.build(test[..., 0])     # its renderings start from 28x28 dataset images


BUILDERS: Mapping[str, Callable[[InputContract, np.ndarray], Vectors]] = MappingProxyType({
    FASHION_MNIST: _fashion_mnist,
    PHOTO: photo_vectors.build,
})


def build(contract: InputContract, test: np.ndarray) -> Vectors:
    return BUILDERS[contract.preprocessing.id](contract, test)
