"""Run a model file over many images on every core: one interpreter per thread, one chunk each.

The parity gate and the calibration search run 10,000 test and 6,000 validation images per file;
batch-of-one graphs (ONNX/ORT) and reference kernels (16-bit activations) use one core each, so
splitting the images across interpreters cuts export time by about the number of cores. Native
runtimes release the GIL while they compute; results are identical to a single interpreter's.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fashion_edge.runtime.backends import open_backend
from fashion_edge.runtime.session import Session


def logits(backend: str, model: bytes, images: np.ndarray, workers: int | None = None) -> np.ndarray:
    """uint8 frames (N, H, W, C) -> the file's float outputs (N, classes), computed in parallel chunks."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(images) // 100 or 1))
    if workers == 1:
        return Session(open_backend(backend, model)).logits(images)
    chunks = np.array_split(images, workers)
    sessions = [Session(open_backend(backend, model)) for _ in chunks]
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(lambda pair: pair[0].logits(pair[1]), zip(sessions, chunks))))
