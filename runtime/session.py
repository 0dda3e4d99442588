"""A backend plus the quantization arithmetic: uint8 pixels in, float outputs and probabilities out.

The caller never sees scale or zero-point. Interpreters are not thread-safe, so every call into
the backend holds one lock; batch-of-one inference is short enough that a lock beats one
interpreter per thread (and uses a fraction of the memory).

The batch-of-one path (`predictor`) is the hot path of a camera loop. Right after an invoke the
CPU caches hold the model's data, not Python's, so every Python step costs more than in a tight
loop: the path is one closure, the lock is held for the backend call only, and for 8-bit outputs the
softmax is a lookup. exp(logit(q) - logit(q_top)) is tabled for each of the 256 output bytes (q_top
the largest level); a shift common to every class cancels in the normalisation, so a prediction
costs ten lookups, a sum and ten divisions, with no exp and no numpy arithmetic. The batch path
(`outputs` + `softmax` per row) does the same arithmetic, so both give identical probabilities.

A file whose outputs already are probabilities (it ends in a softmax: manifest.output.kind) gets no
softmax: its outputs, clipped at 0, are renormalised to sum to 1 (an 8-bit output's levels do not sum
to exactly 1). Everything else is the same, the table included.
"""
from __future__ import annotations

import math
import threading
from itertools import repeat
from operator import truediv
from typing import Callable, Sequence

import numpy as np

from fashion_edge.runtime.backends import Backend
from fashion_edge.runtime.prediction import Prediction, eager

# Below this the tabled exps have lost their precision (every class ~700 natural-log units below
# the top level): the probabilities are then computed from the logits instead.
_TINY = 1e-200


class Session:
    def __init__(self, backend: Backend, probabilities: bool = False) -> None:
        self.backend = backend
        self.probabilities_out = probabilities     # the file ends in a softmax: no softmax here
        self._lock = threading.Lock()
        inp, out = backend.input, backend.output
        self._in_dtype = np.dtype(inp.dtype)
        self._one_shape = (1, *inp.shape[1:])
        # The int8 TFLite export takes raw pixels (scale 1, zero point 0): no arithmetic at all.
        self._pixels_are_input = self._in_dtype == np.uint8 and (
            not inp.quantized or (inp.scale == 1.0 and inp.zero_point == 0))
        self._out_scale = np.float32(out.scale) if out.quantized else None
        self._out_zero = np.float32(out.zero_point)
        self._out_table = None       # 8-bit outputs: level - min level -> float32 logit
        self._out_offset = 0
        self._exp_by_byte: list[float] | None = None   # 8-bit outputs: output byte -> exp(logit - top logit)
        out_dtype = np.dtype(out.dtype)
        if out.quantized and out_dtype.itemsize == 1:
            info = np.iinfo(out_dtype)
            levels = np.arange(info.min, info.max + 1, dtype=np.float32)
            self._out_table = (levels - self._out_zero) * self._out_scale
            self._out_offset = -info.min
            as_levels = np.arange(256, dtype=np.uint8).view(out_dtype).astype(np.int16) + self._out_offset
            logits = [float(v) for v in self._out_table[as_levels]]
            top = float(self._out_table[-1])   # scale > 0: the largest level has the largest logit
            self._exp_by_byte = ([max(v, 0.0) for v in logits] if self.probabilities_out
                                 else [math.exp(v - top) for v in logits])

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, H, W, C) -> the model's input tensor."""
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

    def run_one(self, pixels: np.ndarray) -> np.ndarray:
        """One image's uint8 pixels (any batch-of-one shape) -> its (1, classes) outputs, the model's own type."""
        x = pixels.reshape(self._one_shape)
        if not self._pixels_are_input:
            x = self.to_input(x)
        with self._lock:
            return self.backend.run_one(x)

    def softmax_one(self, pixels: np.ndarray) -> tuple[int, tuple[float, ...]]:
        """One image's uint8 pixels -> (top class, probabilities)."""
        return self.softmax(self.run_one(pixels))

    def predictor(self, labels: Sequence[str]) -> Callable[[np.ndarray], Prediction]:
        """uint8 pixels (any batch-of-one shape) -> Prediction, as one closure.

        Right after an invoke every call and attribute lookup costs more than in a tight loop
        (module docstring), so the tabled path inlines `run_one` and `softmax`: the same arithmetic
        in the same order, hence the same floats. Other models go through `softmax_one`.
        """
        table = self._exp_by_byte
        if table is None or not self._pixels_are_input:
            def general(pixels: np.ndarray) -> Prediction:
                return eager(self.softmax_one(pixels), labels)

            return general
        run, lock, shape, lookup = self.backend.run_one, self._lock, self._one_shape, table.__getitem__
        fallback = self.softmax
        make = tuple.__new__     # the named tuple filled in C (prediction.py)

        def tabled(pixels: np.ndarray) -> Prediction:
            x = pixels.reshape(shape)
            with lock:
                raw = run(x)
            exps = list(map(lookup, raw.tobytes()))
            total = sum(exps)
            if total > _TINY:
                top = exps.index(max(exps))
                probs = tuple(map(truediv, exps, repeat(total)))
                return make(Prediction, (top, labels[top], probs[top], probs))
            return eager(fallback(raw), labels)

        return tabled

    def softmax(self, out: np.ndarray) -> tuple[int, tuple[float, ...]]:
        """One image's outputs in the model's own type -> (top class, probabilities); ties go to the first class."""
        table = self._exp_by_byte
        if table is not None:
            exps = [table[b] for b in out.tobytes()]
            total = sum(exps)
            if total > _TINY:
                return exps.index(max(exps)), tuple([e / total for e in exps])
        logits = self.to_logits(out).ravel().tolist()
        best = max(logits)
        if self.probabilities_out:
            kept = [max(v, 0.0) for v in logits]
            total = sum(kept)
            return logits.index(best), tuple([e / total for e in kept] if total > 0 else [1 / len(kept)] * len(kept))
        exps = [math.exp(v - best) for v in logits]
        total = sum(exps)
        return logits.index(best), tuple([e / total for e in exps])

    def logits_one(self, pixels: np.ndarray) -> np.ndarray:
        """(1, H, W, C) uint8 -> (classes,) float32, on the backend's batch-of-one path."""
        return self.to_logits(self.run_one(pixels)).reshape(-1)

    def logits(self, pixels: np.ndarray, chunk: int = 500) -> np.ndarray:
        """(N, H, W, C) uint8 -> (N, classes) float32 outputs, in chunks to bound memory."""
        return self.to_logits(self.outputs(pixels, chunk))

    def outputs(self, pixels: np.ndarray, chunk: int = 500) -> np.ndarray:
        """(N, H, W, C) uint8 -> (N, classes) in the model's own output type (quantized levels for int8)."""
        parts = []
        for start in range(0, len(pixels), chunk):
            x = self.to_input(pixels[start:start + chunk])
            with self._lock:
                parts.append(self.backend.run(x))
        return np.concatenate(parts) if parts else np.zeros((0, self.backend.output.shape[-1]),
                                                             np.dtype(self.backend.output.dtype))
