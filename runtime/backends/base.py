"""What every backend offers: run a batch through a model file and describe its input and output.

A backend deals in the model's own tensors (possibly quantized); `Session` converts pixels to them
and logits back, so the quantization arithmetic exists once, not once per backend.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from fashion_edge.runtime.manifest import TensorSpec


class Backend(Protocol):
    name: str
    input: TensorSpec      # the same type the manifest records, so the two can be compared directly
    output: TensorSpec

    def run(self, x: np.ndarray) -> np.ndarray:
        """One batch (N, H, W, C) in the input's dtype -> the raw output (N, classes)."""
        ...

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Batch of one, on the cheapest path the backend has (no resizing); returns an array the caller owns."""
        ...

    def bare_loop(self, pixels: np.ndarray) -> Callable[[], object]:
        """The engine's own set-input / run / get-output call on this backend's interpreter or session, the
        input prepared once through the engine's public API, in the model's dtype: the yardstick the
        benchmarks subtract from `Classifier.predict` (its wrapper cost)."""
        ...
