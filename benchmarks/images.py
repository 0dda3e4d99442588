"""The labelled frames a benchmark measures accuracy and latency with, at the bundle's input shape.

A bundle of Fashion-MNIST's contract and classes is measured on its test set (all 10,000 images; the
dataset must be at hand). Any other bundle on the images golden.json carries: a handful, so its
accuracy figure says "N images" beside it and is no more than a check that the answers are right.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.recipes import FASHION_MNIST


@dataclass(frozen=True, eq=False)
class BenchImages:
    frames: np.ndarray          # uint8 (N, H, W, C) device frames
    labels: np.ndarray          # (N,) class ids
    source: str


def bench_images(bundle: Bundle, data_dir: Path | None = None) -> BenchImages:
    if bundle.manifest.input.preprocessing.id == FASHION_MNIST and bundle.labels == LABELS:
        from fashion_edge.train.data import load_fashion_mnist

        data = load_fashion_mnist(data_dir, allow_download=False)
        return BenchImages(data.x_test[..., None], data.y_test, f"the Fashion-MNIST test set ({len(data.y_test):,} images)")
    golden = bundle.golden()
    return BenchImages(golden.images, np.asarray(golden.labels), f"golden.json's {len(golden.images)} images")
