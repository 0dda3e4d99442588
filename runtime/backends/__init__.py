"""The backend registry: the libraries that run a bundle's files, imported only when chosen.

Each entry says which module means "installed", which extra brings it, which families of files it
runs, whether it is too slow for the full benchmark, and where its implementation lives. Backends
are listed in order of preference: for a format, the first installed one that can run it is the
default.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from fashion_edge.runtime.backends.base import Backend
from fashion_edge.runtime.manifest import TensorSpec
from fashion_edge.runtime.errors import MissingExtraError, UsageError
from fashion_edge.runtime.formats import FORMATS, get_format
from fashion_edge.runtime.options import EngineOptions


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str                  # importable when installed
    extra: str                   # pip install "fashion-edge[extra]"
    families: tuple[str, ...]    # kinds of files it runs
    implementation: str          # "module:Class", imported on first use
    options: tuple[str, ...] = ()            # engine options it honours (see runtime/options.py)
    defaults: EngineOptions = EngineOptions()  # what None means for it (chosen from `fashion-edge bench`)
    slow: bool = False           # pure Python: benchmarks and studies give it fewer runs
    legacy: bool = False         # kept for old devices only (not offered by the deploy kit)
    summary: str = ""
    native: str = ""             # the module whose import loads its native code (doctor's import probe)

    def resolve(self, options: EngineOptions) -> EngineOptions:
        """The options this backend will run with: the caller's, else its defaults; unknown ones refused."""
        extra = [k for k in options.given() if k not in self.options]
        if extra:
            able = [b.name for b in BACKENDS.values() if set(extra) <= set(b.options)]
            raise UsageError(f"{self.name} has no {' or '.join(extra)} option"
                             + (f" (it applies to {', '.join(able)})" if able else ""))
        merged = {**self.defaults.given(), **options.given()}
        return EngineOptions(**{k: v for k, v in merged.items() if k in self.options})

    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # a parent package that is broken or half-installed
            return False

    def can_run(self, fmt: str) -> bool:
        spec = FORMATS[fmt]
        return spec.family in self.families and self.name not in spec.unsupported


BACKENDS: Mapping[str, BackendSpec] = MappingProxyType({b.name: b for b in (
    BackendSpec("litert", "ai_edge_litert", "litert", ("tflite",),
                "fashion_edge.runtime.backends.tflite:LiteRTBackend", ("threads", "xnnpack"),
                EngineOptions(threads=1, xnnpack=True), native="ai_edge_litert.interpreter",
                summary="ai-edge-litert: Google's maintained LiteRT runtime (XNNPACK on CPU)"),
    BackendSpec("tflite-runtime", "tflite_runtime", "tflite", ("tflite",),
                "fashion_edge.runtime.backends.tflite:TFLiteRuntimeBackend", ("threads", "xnnpack"),
                EngineOptions(threads=1, xnnpack=True), legacy=True, native="tflite_runtime.interpreter",
                summary="tflite-runtime 2.14: legacy, numpy<2, its own venv"),
    BackendSpec("onnxruntime", "onnxruntime", "onnx", ("onnx", "ort"),
                "fashion_edge.runtime.backends.onnx:OnnxRuntimeBackend", ("threads", "spinning"),
                # spinning 200 µs: at 2 threads the p50 of spinning on (off: +10-19%), and 1.3-1.7 ms of
                # CPU per inference at 10 Hz instead of spinning on's ~60 ms (docs/formats.md)
                EngineOptions(threads=1, spinning=200),
                summary="ONNX Runtime (CPU execution provider); also loads ORT-format files"),
    BackendSpec("onnx-reference", "onnx", "onnx-reference", ("onnx",),
                "fashion_edge.runtime.backends.onnx:OnnxReferenceBackend", slow=True, native="onnx.reference",
                summary="onnx.reference: pure Python over numpy, no native runtime"),
)})


def runtime_for(family: str) -> BackendSpec:
    """The preferred native (not slow, not legacy) backend for a family of files."""
    return next(b for b in BACKENDS.values() if family in b.families and not b.slow and not b.legacy)


def device_extras() -> tuple[str, ...]:
    """The extras a device installs to run bundles: one per family's preferred runtime."""
    return tuple(dict.fromkeys(b.extra for b in BACKENDS.values() if not b.slow and not b.legacy))


def get_backend(name: str) -> BackendSpec:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[name]


def is_installed(backend: str) -> bool:
    return get_backend(backend).installed()


def backends_for(fmt: str) -> list[BackendSpec]:
    """Every backend able to run `fmt`, installed or not, most preferred first."""
    return [b for b in BACKENDS.values() if b.can_run(fmt)]


def available_backends(fmt: str) -> list[str]:
    """Installed backends able to run `fmt`, most preferred first."""
    return [b.name for b in backends_for(fmt) if b.installed()]


def choose_backend(fmt: str, backend: str | None = None) -> str:
    """The named backend if it can run `fmt`, else the best installed one; typed errors otherwise."""
    spec = get_format(fmt)
    if backend is not None:
        chosen = get_backend(backend)
        if spec.family not in chosen.families:
            able = [b.name for b in BACKENDS.values() if spec.family in b.families]
            raise UsageError(f"backend {backend!r} cannot run {fmt}; use {' or '.join(able)}")
        if backend in spec.unsupported:
            others = [b.name for b in backends_for(fmt)]
            raise UsageError(f"{spec.unsupported[backend]}; use another format or the {' or '.join(others)} backend")
        return backend
    found = available_backends(fmt)
    if not found:
        best = backends_for(fmt)[0]
        raise MissingExtraError(best.module, best.extra, f"running {fmt}")
    return found[0]


def backend_class(name: str) -> type:
    module, cls = get_backend(name).implementation.split(":")
    return getattr(importlib.import_module(module), cls)


def open_backend(name: str, model: bytes, options: EngineOptions | None = None) -> Backend:
    return backend_class(name)(model, get_backend(name).resolve(options or EngineOptions()))


__all__ = ["BACKENDS", "Backend", "BackendSpec", "EngineOptions", "TensorSpec", "available_backends", "backend_class",
           "backends_for", "choose_backend", "device_extras", "get_backend", "runtime_for", "is_installed", "open_backend"]
