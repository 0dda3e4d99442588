"""TFLite models on LiteRT (`ai-edge-litert`) or the legacy `tflite-runtime`: same API, two packages."""
from __future__ import annotations

from typing import Callable

import numpy as np

from fashion_edge.runtime.manifest import TensorSpec
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.options import EngineOptions
from fashion_edge.runtime.quiet import captured_native_output


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _info(detail: dict) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorSpec(detail["name"], np.dtype(detail["dtype"]).name,
                      tuple(int(d) for d in detail["shape"]), float(scale), int(zero_point))


def _has_binding(interpreter) -> bool:
    """Whether the batch-of-one path can call the interpreter's C++ binding (SetTensor/Invoke/GetTensor).

    The public methods are Python frames around it; invoke() adds a check (`_ensure_safe`, a count
    of references to the binding) that no numpy view from `tensor()` outlives a reallocation. This
    backend creates no such views, so the check cannot fire, and skipping the frames saves about a
    microsecond per call (docs/benchmarks.md). The binding is looked up on each call, never held:
    a held reference would itself trip that count in the public methods. A release without it gets
    the public methods.
    """
    binding = getattr(interpreter, "_interpreter", None)
    return all(callable(getattr(binding, name, None)) for name in ("SetTensor", "Invoke", "GetTensor"))


class TFLiteBackend:
    """One interpreter; not thread-safe by itself (Session serialises calls)."""

    name = ""
    interpreter_module = ""

    @classmethod
    def _interpreter(cls, model: bytes, options: EngineOptions):
        from fashion_edge.runtime.backends import get_backend

        module = require(cls.interpreter_module, get_backend(cls.name).extra, f"the {cls.name} backend")
        resolver = module.OpResolverType.AUTO if options.xnnpack is not False else \
            module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES  # built-in kernels, no XNNPACK
        with captured_native_output(stdout=False):  # "INFO: Created ... XNNPACK delegate"
            return module.Interpreter(model_content=model, num_threads=options.threads,
                                      experimental_op_resolver_type=resolver)

    def __init__(self, model: bytes, options: EngineOptions = EngineOptions()) -> None:
        name = self.name
        self.options = options
        try:
            self._interp = self._interpreter(model, options)
            with captured_native_output(stdout=False):
                self._interp.allocate_tensors()
            (inp,), (out,) = self._interp.get_input_details(), self._interp.get_output_details()
            self.input, self.output = _info(inp), _info(out)  # names are decoded here: may be garbage
        except (ValueError, RuntimeError, KeyError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
            raise BundleError(f"{name} cannot load this TFLite model: {_first_line(exc)}") from exc
        self._in, self._out = inp["index"], out["index"]
        self._batch = int(inp["shape"][0])
        self._one_shape = (1, *self.input.shape[1:])
        self._set, self._invoke, self._get = self._interp.set_tensor, self._interp.invoke, self._interp.get_tensor
        self._direct = _has_binding(self._interp)
        self._resize(1)

    def _resize(self, n: int) -> None:
        if n != int(self._interp.get_input_details()[0]["shape"][0]):
            self._interp.resize_tensor_input(self._in, [n, *self.input.shape[1:]], strict=False)
            self._interp.allocate_tensors()
        self._batch = n

    def run_one(self, x: np.ndarray) -> np.ndarray:
        """Batch of one: (1, H, W, C) in, a (1, classes) copy of the output out.

        Copies in and out (the binding's SetTensor/GetTensor, or the public set_tensor/get_tensor),
        not the zero-copy `tensor()` views: measured here, fetching a view costs as much as the
        10-value copy it saves, and the copy needs no lock after return.
        """
        try:
            if self._batch != 1:
                self._resize(1)
            if self._direct:
                binding = self._interp._interpreter
                binding.SetTensor(self._in, x)
                binding.Invoke()
                return binding.GetTensor(self._out)
            self._set(self._in, x)
            self._invoke()
            return self._get(self._out)
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

    def bare_loop(self, pixels: np.ndarray) -> Callable[[], object]:
        """The library's own set_tensor / invoke / get_tensor on this interpreter, none of our code in it.

        For benchmarks: `predict` minus this is what predict adds to the public API's loop
        (benchmarks/timing.py); run_one's binding call skips the public methods' Python frames, so
        our own code costs about a microsecond more than that difference. The
        pixels are cast to the input's dtype, not quantized (the TFLite files take raw pixels); the
        loop holds until a batch call resizes the interpreter, and takes no lock.
        """
        if self._batch != 1:
            self._resize(1)
        x = pixels.reshape(self._one_shape).astype(self.input.dtype)
        i, o = self._in, self._out
        set_tensor, invoke, get_tensor = self._interp.set_tensor, self._interp.invoke, self._interp.get_tensor

        def run() -> object:
            set_tensor(i, x)
            invoke()
            return get_tensor(o)

        return run


class LiteRTBackend(TFLiteBackend):
    name = "litert"
    interpreter_module = "ai_edge_litert.interpreter"


class TFLiteRuntimeBackend(TFLiteBackend):
    name = "tflite-runtime"
    interpreter_module = "tflite_runtime.interpreter"
