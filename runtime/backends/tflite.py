"""TFLite models on LiteRT (`ai-edge-litert`) or the legacy `tflite-runtime`: same API, two packages."""
from __future__ import annotations

import numpy as np

from fashion_edge.runtime.backends.base import TensorInfo
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.quiet import captured_native_output

MODULES = {
    "litert": ("ai_edge_litert.interpreter", "litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite"),
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(detail["name"], np.dtype(detail["dtype"]).name,
                      tuple(int(d) for d in detail["shape"]), float(scale), int(zero_point))


class TFLiteBackend:
    """One interpreter; not thread-safe by itself (Session serialises calls)."""

    def __init__(self, name: str, model: bytes, threads: int | None = None) -> None:
        module, extra = MODULES[name]
        interpreter_mod = require(module, extra, f"the {name} backend")
        self.name = name
        try:
            with captured_native_output(stdout=False):  # "INFO: Created ... XNNPACK delegate"
                self._interp = interpreter_mod.Interpreter(model_content=model, num_threads=threads)
                self._interp.allocate_tensors()
            (inp,), (out,) = self._interp.get_input_details(), self._interp.get_output_details()
            self.input, self.output = _info(inp), _info(out)  # names are decoded here: may be garbage
        except (ValueError, RuntimeError, KeyError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
            raise BundleError(f"{name} cannot load this TFLite model: {_first_line(exc)}") from exc
        self._in, self._out = inp["index"], out["index"]
        self._batch = int(inp["shape"][0])
        self._one_shape = (1, *self.input.shape[1:])
        if self._batch != 1:
            self._resize(1)

    def _resize(self, n: int) -> None:
        self._interp.resize_tensor_input(self._in, [n, *self.input.shape[1:]], strict=False)
        self._interp.allocate_tensors()
        self._batch = n

    def run_one(self, x: np.ndarray) -> np.ndarray:
        try:
            if self._batch != 1:
                self._resize(1)
            self._interp.set_tensor(self._in, x)
            self._interp.invoke()
            return self._interp.get_tensor(self._out)
        except (ValueError, RuntimeError) as exc:  # a malformed model can load yet fail to run
            raise BundleError(f"{self.name} failed to run this TFLite model: {_first_line(exc)}") from exc

    def run(self, x: np.ndarray) -> np.ndarray:
        try:
            if len(x) != self._batch:
                self._resize(len(x))
            self._interp.set_tensor(self._in, x)
            self._interp.invoke()
            return self._interp.get_tensor(self._out)
        except (ValueError, RuntimeError) as exc:
            raise BundleError(f"{self.name} failed to run this TFLite model: {_first_line(exc)}") from exc
