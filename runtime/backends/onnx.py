"""ONNX models on ONNX Runtime, or on onnx's pure-Python reference evaluator (slow, no native code).

ONNX Runtime also loads ORT-format files (ONNX Runtime Mobile's flatbuffer). The bundle's models
are fixed batch-of-one graphs (what NNAPI and CoreML want); a batch is run one image at a time.
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import Callable

import numpy as np

from fashion_edge.runtime.manifest import TensorSpec
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.formats import FILE_IDS
from fashion_edge.runtime.options import EngineOptions

_ONNX_DTYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


def _shape(dims) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else -1 for d in dims)


def _batched(run_one, x: np.ndarray, fixed_batch: int) -> np.ndarray:
    """Run a batch through a model whose batch dimension is fixed, `fixed_batch` rows at a time."""
    if fixed_batch <= 0 or len(x) == fixed_batch:
        return run_one(x)
    if len(x) % fixed_batch:
        raise BundleError(f"this model takes batches of exactly {fixed_batch}")
    return np.concatenate([run_one(x[i:i + fixed_batch]) for i in range(0, len(x), fixed_batch)])


# Replays the CPU fusions an ORT-format file saved at conversion (see export/ort_export.py).
SAVED_RUNTIME_OPTIMIZATIONS = "session.enable_saved_runtime_optimizations"
# Whether intra-op worker threads busy-wait for work between runs (ONNX Runtime's default: yes).
ALLOW_SPINNING = "session.intra_op.allow_spinning"
# ... and for how long at most (microseconds), from ONNX Runtime 1.26 on (PR 27916: before, a fixed
# ~1M pause instructions, 3-300 ms by CPU). An older version ignores the key and would spin its full
# time, so there the runtime turns spinning off instead (spinning_config).
SPIN_DURATION = "session.intra_op.spin_duration_us"
SPIN_DURATION_SINCE = (1, 26)
# On x86 CPUs without VNNI, ONNX Runtime's u8 x s8 int8 kernels (VPMADDUBSW) saturate their int16
# intermediate sums; measured on an AVX2-only CPU, an int8 edge model agreed with Keras on 94.5% of
# images this way and on 99.75% with this option, which routes such products through u8 x u8 kernels
# when the weights need it (a no-op on ARM and on CPUs with VNNI).
X64_QUANT_PRECISION = "session.x64quantprecision"


def spinning_config(spinning: bool | int | None, version: str) -> dict[str, str]:
    """Session entries for EngineOptions.spinning on this onnxruntime `version`."""
    if spinning is None:
        return {}
    if isinstance(spinning, bool):
        return {ALLOW_SPINNING: "1" if spinning else "0"}
    if _release(version) < SPIN_DURATION_SINCE:
        return {ALLOW_SPINNING: "0"}   # no bounded spin here: the other low-CPU setting
    return {ALLOW_SPINNING: "1", SPIN_DURATION: str(spinning)}


def _release(version: str) -> tuple[int, int]:
    """"1.32.0", "1.26.0.dev20260101" -> (1, 32), (1, 26); anything unreadable counts as old."""
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def session_config(model: bytes) -> dict[str, str]:
    """The session config entries a file needs to compute what the export measured (also in the manifest)."""
    config = {X64_QUANT_PRECISION: "1"}
    if is_ort_format(model):
        config[SAVED_RUNTIME_OPTIMIZATIONS] = "1"
    return config


@functools.lru_cache(maxsize=1)
def int8_kernels_saturate() -> bool:
    """x86 without VNNI: ONNX Runtime's u8 x s8 kernels (VPMADDUBSW) can saturate int16 sums.

    `session.x64quantprecision` avoids it in ONNX files, where the session builds its own fused
    int8 kernels; an ORT-format file replays fusions saved at conversion instead, which ignore that
    option (measured: 97.75% vs 99.55% agreement with Keras on an AVX2 CPU). There, the int8 ORT
    file runs its quantize/dequantize graph in float (exact, slower). ARM and VNNI CPUs are unaffected.
    """
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        return False
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return True  # no way to tell: assume the common case of x86 without VNNI
    return not ({"avx512_vnni", "avx_vnni"} & set(flags.split()))


def _quantized(model: bytes) -> bool:
    return b"DequantizeLinear" in model


def is_ort_format(model: bytes) -> bool:
    return model[4:8] == FILE_IDS["ort"]


def session_options(ort, model: bytes, engine: EngineOptions):
    """The session settings every onnxruntime session of ours uses (the runtime's and the bare benchmark's).

    For ORT-format files the saved runtime optimizations are replayed: only for files the caller
    trusts, which Classifier ensures by checking the sha256 against the manifest first.
    """
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    if engine.threads:
        options.intra_op_num_threads = engine.threads
        options.inter_op_num_threads = 1
    config = {**spinning_config(engine.spinning, ort.__version__), **session_config(model)}
    if SAVED_RUNTIME_OPTIMIZATIONS in config and _quantized(model) and int8_kernels_saturate():
        config[SAVED_RUNTIME_OPTIMIZATIONS] = "0"
    for key, value in config.items():
        options.add_session_config_entry(key, value)
    return options


def _require(name: str, module: str):
    from fashion_edge.runtime.backends import get_backend

    return require(module, get_backend(name).extra, f"the {name} backend")


class OnnxRuntimeBackend:
    name = "onnxruntime"

    @classmethod
    def _session_for(cls, model: bytes, options: EngineOptions):
        ort = _require(cls.name, "onnxruntime")
        return ort.InferenceSession(model, session_options(ort, model, options), providers=["CPUExecutionProvider"])

    def __init__(self, model: bytes, options: EngineOptions = EngineOptions()) -> None:
        self.options = options
        try:
            self._session = self._session_for(model, options)
        except ImportError:
            raise
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types, all for the same reason
            raise BundleError(f"onnxruntime cannot load this model: {str(exc).splitlines()[0]}") from exc
        (inp,), (out,) = self._session.get_inputs(), self._session.get_outputs()
        self.input = TensorSpec(inp.name, _ONNX_DTYPES.get(inp.type, inp.type), _shape(inp.shape))
        self.output = TensorSpec(out.name, _ONNX_DTYPES.get(out.type, out.type), _shape(out.shape))
        self._in_name, self._out_names = inp.name, [out.name]

    def run_one(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._session.run(self._out_names, {self._in_name: x})[0]
        except Exception as exc:  # ORT's own error types: a model that loads but cannot run
            raise BundleError(f"onnxruntime failed to run this model: {str(exc).splitlines()[0]}") from exc

    def run(self, x: np.ndarray) -> np.ndarray:
        return _batched(self.run_one, x, self.input.shape[0])

    def bare_loop(self, pixels: np.ndarray) -> Callable[[], object]:
        """ONNX Runtime's own run() on this backend's InferenceSession, the feed prepared once: `predict` minus this is our
        code's cost alone (benchmarks). The pixels are cast to the input's dtype, not quantized (the
        ONNX files take float pixels)."""
        run, names = self._session.run, self._out_names
        feed = {self._in_name: pixels.reshape(1, *self.input.shape[1:]).astype(self.input.dtype)}
        return lambda: run(names, feed)


class OnnxReferenceBackend:
    """onnx.reference.ReferenceEvaluator: pure Python over numpy, for hosts without onnxruntime."""

    name = "onnx-reference"

    def __init__(self, model: bytes, options: EngineOptions = EngineOptions()) -> None:
        self.options = options
        onnx = _require(self.name, "onnx")
        from onnx.reference import ReferenceEvaluator

        try:
            proto = onnx.load_from_string(model)
            onnx.checker.check_model(proto)
            self._eval = ReferenceEvaluator(proto)
        except Exception as exc:  # protobuf DecodeError, ValidationError, ...
            raise BundleError(f"onnx cannot load this ONNX model: {str(exc).splitlines()[0]}") from exc
        graph = proto.graph
        inp, out = graph.input[0], graph.output[0]
        elem = {1: "float32", 2: "uint8", 3: "int8"}

        def info(v) -> TensorSpec:
            t = v.type.tensor_type
            return TensorSpec(v.name, elem.get(t.elem_type, str(t.elem_type)),
                              tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim))

        self.input, self.output = info(inp), info(out)

    def run_one(self, x: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(self._eval.run(None, {self.input.name: x})[0])
        except Exception as exc:  # any numpy/onnx error inside the evaluator means a broken model
            raise BundleError(f"onnx-reference failed to run this ONNX model: {exc.__class__.__name__}") from exc

    def run(self, x: np.ndarray) -> np.ndarray:
        return _batched(self.run_one, x, self.input.shape[0])

    def bare_loop(self, pixels: np.ndarray) -> Callable[[], object]:
        feed = {self.input.name: pixels.reshape(1, *self.input.shape[1:]).astype(self.input.dtype)}
        run = self._eval.run
        return lambda: run(None, feed)
