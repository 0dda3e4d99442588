"""A backend plus the quantization arithmetic: uint8 pixels in, float logits out.

The caller never sees scale or zero-point. Interpreters are not thread-safe, so every call into
the backend holds one lock; batch-of-one inference is short enough that a lock beats one
interpreter per thread (and uses a fraction of the memory).

The batch-of-one path (`scores_one`) is the hot path of a camera loop: the backend may hand back a
view of its own output buffer, which is turned into ten Python floats while the lock is held, and
dequantization is a lookup in a 256-entry list; no numpy array is allocated after the input.
"""
from __future__ import annotations

import threading

import numpy as np

from fashion_edge.runtime.backends import Backend


class Session:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        inp, out = backend.input, backend.output
        self._in_dtype = np.dtype(inp.dtype)
        self._one_shape = (1, *inp.shape[1:])
        # The int8 TFLite export takes raw pixels (scale 1, zero point 0): no arithmetic at all.
        self._pixels_are_input = self._in_dtype == np.uint8 and (
            not inp.quantized or (inp.scale == 1.0 and inp.zero_point == 0))
        self._out_scale = np.float32(out.scale) if out.quantized else None
        self._out_zero = np.float32(out.zero_point)
        # 8-bit outputs dequantize through a 256-entry table: one lookup per value.
        self._out_table = None
        self._out_offset = 0
        self._out_list: list[float] | None = None
        if out.quantized and np.dtype(out.dtype).itemsize == 1:
            info = np.iinfo(np.dtype(out.dtype))
            levels = np.arange(info.min, info.max + 1, dtype=np.float32)
            self._out_table = (levels - self._out_zero) * self._out_scale
            self._out_offset = -info.min
            self._out_list = [float(v) for v in self._out_table]

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, 28, 28, 1) -> the model's input tensor."""
        if self._pixels_are_input:
            return pixels
        if not self.backend.input.quantized:
            return pixels.astype(self._in_dtype)
        info = np.iinfo(self._in_dtype)
        q = np.rint(pixels / self.backend.input.scale + self.backend.input.zero_point)
        return np.clip(q, info.min, info.max).astype(self._in_dtype)

    def to_logits(self, raw: np.ndarray) -> np.ndarray:
        if self._out_scale is None:
            return raw.astype(np.float32, copy=False)
        if self._out_table is not None:
            return self._out_table[raw.astype(np.int16) + self._out_offset if self._out_offset else raw]
        return (raw.astype(np.float32) - self._out_zero) * self._out_scale

    def scores_one(self, pixels: np.ndarray) -> list[float]:
        """One image's uint8 pixels (28x28, any batch-of-one shape) -> its float logits as a Python list."""
        x = self.to_input(pixels.reshape(self._one_shape))
        with self._lock:
            raw = self.backend.run_one(x).ravel().tolist()  # the backend's buffer is read before release
        if self._out_list is not None:
            table, offset = self._out_list, self._out_offset
            return [table[q + offset] for q in raw]
        if self._out_scale is not None:
            scale, zero = float(self._out_scale), float(self._out_zero)
            return [(q - zero) * scale for q in raw]
        return raw

    def logits_one(self, pixels: np.ndarray) -> np.ndarray:
        """(1, 28, 28, 1) uint8 -> (10,) float32, on the backend's batch-of-one path."""
        return np.asarray(self.scores_one(pixels), np.float32)

    def logits(self, pixels: np.ndarray, chunk: int = 500) -> np.ndarray:
        """(N, 28, 28, 1) uint8 -> (N, 10) float32, in chunks to bound memory."""
        parts = []
        for start in range(0, len(pixels), chunk):
            x = self.to_input(pixels[start:start + chunk])
            with self._lock:
                raw = self.backend.run(x)
            parts.append(self.to_logits(raw))
        return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)
