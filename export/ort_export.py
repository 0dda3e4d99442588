"""ONNX -> ORT format, the flatbuffer that ONNX Runtime Mobile (minimal builds) loads.

Converted with onnxruntime's own tool in its "Runtime" optimization style: the file keeps the graph
at basic optimization level, so NNAPI (Android) and CoreML (iOS) can claim whole partitions, and
carries the CPU fusions (e.g. QDQ -> QLinearConv) as saved runtime optimizations, replayed when the
session enables `session.enable_saved_runtime_optimizations` (our runtime does, for files whose
sha256 matched the manifest). The "Fixed" style would bake in CPU-only fused kernels that the
mobile accelerators cannot take.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fashion_edge.runtime.extras import require
from fashion_edge.runtime.formats import FILE_IDS
from fashion_edge.runtime.quiet import quiet_logger

OPTIMIZATION_STYLE = "Runtime"
TARGET_PLATFORM = "arm"    # phones and Pis; lets int8 QDQ fuse into int8 (not uint8-only) kernels


@dataclass(frozen=True)
class OrtModel:
    model: bytes
    # The tool's operator list for a custom minimal ONNX Runtime build (`--include_ops_by_config`):
    # an app that builds its own runtime needs exactly these kernels.
    required_operators: str


def convert(onnx_model: bytes) -> OrtModel:
    require("onnxruntime.tools", "export", "converting to ORT format")
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "model.onnx"), Path(tmp, "out")
        src.write_bytes(onnx_model)
        # the tool narrates every step on stdout and logs each config file it writes
        with contextlib.redirect_stdout(io.StringIO()), quiet_logger("ort_format_model.utils"):
            convert_onnx_models_to_ort(src, output_dir=out,
                                       optimization_styles=[OptimizationStyle[OPTIMIZATION_STYLE]],
                                       target_platform=TARGET_PLATFORM)
        (ort_file,) = out.glob("*.ort")
        (config,) = out.glob("*.config")
        blob = ort_file.read_bytes()
        # drop the tool's "# Generated from model/s: <temporary paths>" header
        operators = "".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("#"))
    if blob[4:8] != FILE_IDS["ort"]:
        raise RuntimeError("onnxruntime's converter did not write an ORT-format file")
    return OrtModel(blob, operators)
