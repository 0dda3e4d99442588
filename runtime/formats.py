"""Format and backend names, shared by the CLI, the manifest, the benchmarks and apps.

A format is a model file's encoding; a backend is the library that runs it. Each family of formats
lists its backends in order of preference: the first one installed is the default.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    family: str          # "tflite" or "onnx": decides which backends can run it
    filename: str        # file name inside a bundle
    quantized: bool


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("tflite-float32", "tflite", "float32.tflite", False),
    Format("tflite-float16", "tflite", "float16.tflite", False),
    Format("tflite-dynamic", "tflite", "dynamic.tflite", True),
    Format("tflite-int8", "tflite", "int8.tflite", True),
    Format("onnx-float32", "onnx", "float32.onnx", False),
    Format("onnx-int8", "onnx", "int8.onnx", True),
    # ONNX Runtime's own flatbuffer (what ONNX Runtime Mobile's minimal builds load), converted from
    # the ONNX format of the same precision
    Format("ort-float32", "ort", "float32.ort", False),
    Format("ort-int8", "ort", "int8.ort", True),
)}

# family -> backends in order of preference
BACKENDS: dict[str, tuple[str, ...]] = {
    "tflite": ("litert", "tflite-runtime"),
    "onnx": ("onnxruntime", "onnx-reference"),
    "ort": ("onnxruntime",),
}

# Measured: tflite-runtime 2.14 (its last release) lacks the FULLY_CONNECTED v12 kernel that
# TensorFlow 2.21's dynamic-range quantizer emits, so it cannot load tflite-dynamic files.
UNSUPPORTED: dict[str, dict[str, str]] = {
    "tflite-runtime": {"tflite-dynamic": "tflite-runtime 2.14 lacks the FULLY_CONNECTED v12 kernel this file needs"},
}

# Flatbuffer file identifiers (bytes 4..8): checked before a native runtime sees the file.
TFLITE_FILE_ID = b"TFL3"
ORT_FILE_ID = b"ORTM"

DEFAULT_FORMAT = "tflite-int8"
PREPROCESSING_ID = "fashion-mnist-v1"
