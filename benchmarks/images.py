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


@dataclass(frozen=True, eq=False)
class BenchImages:
    frames: np.ndarray          # uint8 (N, H, W, C) device frames
    labels: np.ndarray          # (N,) class ids
    source: str


def bench_images(bundle: Bundle, data_dir: Path | None = None) -> BenchImages:
    from fashion_edge.train.data import test_set_for

    found = test_set_for(bundle, data_dir)
    if found is not None:
        return BenchImages(*found, f"the Fashion-MNIST test set ({len(found[1]):,} images)")
    golden = bundle.golden()
    return BenchImages(golden.images, np.asarray(golden.labels), f"golden.json's {len(golden.images)} images")
