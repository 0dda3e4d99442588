"""Backends by name, imported only when chosen so a device needs just the one it uses."""
from __future__ import annotations

import importlib.util

from fashion_edge.runtime.backends.base import Backend, TensorInfo
from fashion_edge.runtime.errors import UsageError
from fashion_edge.runtime.formats import BACKENDS, FORMATS, UNSUPPORTED

# backend name -> the module whose presence means it is installed, and the extra that brings it
INSTALLED_BY = {
    "litert": ("ai_edge_litert", "litert"),
    "tflite-runtime": ("tflite_runtime", "tflite"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "onnx-reference": ("onnx", "onnx-reference"),
}


def is_installed(backend: str) -> bool:
    return importlib.util.find_spec(INSTALLED_BY[backend][0]) is not None


def available_backends(fmt: str) -> list[str]:
    """Installed backends able to run `fmt`, most preferred first."""
    return [b for b in BACKENDS[FORMATS[fmt].family] if is_installed(b) and fmt not in UNSUPPORTED.get(b, {})]


def choose_backend(fmt: str, backend: str | None = None) -> str:
    """The named backend if it can run `fmt`, else the best installed one; typed errors otherwise."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    family = FORMATS[fmt].family
    if backend is not None:
        if backend not in INSTALLED_BY:
            raise UsageError(f"unknown backend {backend!r}; choose from {', '.join(INSTALLED_BY)}")
        if backend not in BACKENDS[family]:
            raise UsageError(f"backend {backend!r} cannot run {fmt}; use {' or '.join(BACKENDS[family])}")
        if fmt in UNSUPPORTED.get(backend, {}):
            raise UsageError(f"{UNSUPPORTED[backend][fmt]}; use another format or the litert backend")
        return backend
    found = available_backends(fmt)
    if not found:
        from fashion_edge.runtime.errors import MissingExtraError

        name = BACKENDS[family][0]
        raise MissingExtraError(INSTALLED_BY[name][0], INSTALLED_BY[name][1], f"running {fmt}")
    return found[0]


def open_backend(name: str, model: bytes, threads: int | None = None) -> Backend:
    if name in ("litert", "tflite-runtime"):
        from fashion_edge.runtime.backends.tflite import TFLiteBackend

        return TFLiteBackend(name, model, threads)
    if name == "onnxruntime":
        from fashion_edge.runtime.backends.onnx import OnnxRuntimeBackend

        return OnnxRuntimeBackend(model, threads)
    if name == "onnx-reference":
        from fashion_edge.runtime.backends.onnx import OnnxReferenceBackend

        return OnnxReferenceBackend(model, threads)
    raise UsageError(f"unknown backend {name!r}; choose from {', '.join(INSTALLED_BY)}")


__all__ = ["Backend", "TensorInfo", "available_backends", "choose_backend", "is_installed", "open_backend"]
