"""What mobile accelerators will make of each exported file, in the vendors' own words.

TFLite files go through `tf.lite.experimental.Analyzer` with the GPU-delegate compatibility check;
ONNX files through ONNX Runtime's mobile usability checker (the code behind
`python -m onnxruntime.tools.check_onnx_model_mobile_usability`), which estimates how NNAPI
(Android) and CoreML (iOS) would partition the graph. Both verdicts land in the manifest so an app
developer can see them without installing TensorFlow, and REPORT.md shows them.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
from pathlib import Path

from fashion_edge.runtime.manifest import Accelerator, DeviceReport, GpuDelegate
from fashion_edge.runtime.quiet import quiet_logger

# Ops that read a tensor's shape at run time (the rest of a shape computation hangs off them).
TFLITE_SHAPE_OPS = frozenset({"SHAPE", "RANK", "SIZE"})
ONNX_SHAPE_OPS = frozenset({"Shape", "Size"})

_GPU_OK = "Your model looks compatible with GPU delegate"


def tflite_report(model: bytes) -> DeviceReport:
    """Operators, shape ops and the GPU-delegate verdict of one TFLite flatbuffer."""
    import tensorflow as tf

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        tf.lite.experimental.Analyzer.analyze(model_content=model, gpu_compatibility=True)
    report = text.getvalue()
    ops = re.findall(r"^\s*Op#\d+ (\w+)\(", report, flags=re.MULTILINE)
    warnings = sorted({line.strip() for line in report.splitlines() if "GPU COMPATIBILITY WARNING" in line})
    tool = "tf.lite.experimental.Analyzer(gpu_compatibility=True)"
    return DeviceReport(tuple(sorted(set(ops))), tuple(sorted(set(ops) & TFLITE_SHAPE_OPS)), tool,
                        gpu_delegate=GpuDelegate(_GPU_OK in report and not warnings, tuple(warnings), tool))


def onnx_report(model: bytes) -> DeviceReport:
    """Operators, shape ops and the NNAPI / CoreML partitioning verdicts of one ONNX model."""
    import onnx
    from onnxruntime.tools.mobile_helpers import usability_checker as checker
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    proto = onnx.load_from_string(model)
    ops = sorted({node.op_type for node in proto.graph.node})
    eps = {
        "nnapi": checker.check_nnapi_partitions,
        "coreml-neuralnetwork": lambda m, fixed: checker.check_coreml_partitions(
            m, fixed, "coreml_supported_neuralnetwork_ops.md"),
        "coreml-mlprogram": lambda m, fixed: checker.check_coreml_partitions(
            m, fixed, "coreml_supported_mlprogram_ops.md"),
    }
    verdicts = {}
    with tempfile.TemporaryDirectory() as tmp, quiet_logger("onnxruntime.tools", logging.ERROR):
        src, optimized = Path(tmp, "model.onnx"), Path(tmp, "basic.onnx")
        src.write_bytes(model)
        # The checker looks at the graph ORT would hand to an accelerator: after basic optimizations.
        optimize_model(src, optimized, use_external_initializers=True)
        shaped = ModelProtoWithShapeInfo(optimized).model_with_shape_info
        for ep, check in eps.items():
            info = check(shaped, True)  # True: nodes with dynamic shapes count as unsupported, as on a device
            verdicts[ep] = Accelerator(info.num_partitions, info.num_supported_nodes, info.num_nodes,
                                       tuple(sorted(info.unsupported_ops)), info.suitability().name)
    return DeviceReport(tuple(ops), tuple(sorted(set(ops) & ONNX_SHAPE_OPS)),
                        "onnxruntime.tools.check_onnx_model_mobile_usability", accelerators=verdicts)

