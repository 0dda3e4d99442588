"""What every backend offers: run a batch through a model file and describe its input and output.

A backend deals in the model's own tensors (possibly quantized); `Session` converts pixels to them
and logits back, so the quantization arithmetic exists once, not once per backend.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    """dtype and affine quantization (real = scale * (q - zero_point)); scale 0 means not quantized."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(np.dtype(self.dtype), np.integer)


class Backend(Protocol):
    name: str
    input: TensorInfo
    output: TensorInfo

    def run(self, x: np.ndarray) -> np.ndarray:
        """One batch (N, 28, 28, 1) in the input's dtype -> the raw output (N, 10)."""
        ...

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Batch of one, on the cheapest path the backend has (no resizing, cached buffers)."""
        ...
