"""Keras -> ONNX float32 (tf2onnx) and int8 (onnxruntime static QDQ quantization).

`tf2onnx.convert.from_keras` fails on Keras 3 (KeyError 'keras_tensor_…'), so the model is traced
as a tf.function with an explicit input signature and converted with `from_function`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fashion_edge.export.calibration import Int8Recipe
from fashion_edge.export.device_graph import INPUT_NAME, device_graph, input_spec
from fashion_edge.runtime.extras import require

TF2ONNX_OPSET = 18   # the newest opset tf2onnx 1.17 emits
OPSET = 21           # upgraded with onnx's version converter: QDQ ops at opset >= 19 run everywhere,
                     # including onnx.reference (its DequantizeLinear starts at 19)
OUTPUT_NAME = "logits"

# What the exporter tries for onnx-int8 (see calibration.py): onnxruntime's calibrators with 8-bit
# weights, and one with 7-bit weights (`reduce_range`, ONNX Runtime's advice for x86 CPUs without
# VNNI). The runtime sets `session.x64quantprecision`, which removes the saturation reduce_range
# guards against, so 8-bit weights usually win; the validation split decides.
INT8_RECIPES = (
    Int8Recipe("minmax-1k"),
    Int8Recipe("minmax-5k", images=5000),
    Int8Recipe("percentile-1k", method="percentile"),
    Int8Recipe("moving-average-1k", method="moving-average"),
    Int8Recipe("minmax-1k-reduce-range", reduce_range=True),
    Int8Recipe("minmax-1k-float-stem", float_stem=True),
    Int8Recipe("minmax-1k-reduce-range-float-stem", reduce_range=True, float_stem=True),
)
COMPUTE_OPS = ("Conv", "MatMul", "Gemm")
ACTIVATIONS = ("Clip", "Relu")


def convert_float(model) -> bytes:
    tf = require("tensorflow", "export", "exporting to ONNX")
    tf2onnx = require("tf2onnx", "export", "exporting to ONNX")
    onnx = require("onnx", "export", "exporting to ONNX")
    from onnx import version_converter

    graph = device_graph(model)
    spec = input_spec(graph)
    fn = tf.function(lambda x: graph(x, training=False), input_signature=[spec])
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=TF2ONNX_OPSET)
    proto = version_converter.convert_version(proto, OPSET)
    old = proto.graph.output[0].name  # tf2onnx names it after the TF tensor ("Identity:0")
    for node in proto.graph.node:
        node.output[:] = [OUTPUT_NAME if o == old else o for o in node.output]
    proto.graph.output[0].name = OUTPUT_NAME
    proto.producer_name = "fashion-edge"
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


class _Reader:
    """Feeds calibration images one at a time, as onnxruntime's CalibrationDataReader expects."""

    def __init__(self, calibration: np.ndarray) -> None:
        self._it = iter(calibration)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._it, None)
        return None if image is None else {INPUT_NAME: image[None].astype(np.float32)}

    def rewind(self) -> None:  # part of the reader protocol in newer onnxruntime releases
        pass


def quantize_int8(float_model: bytes, calibration: np.ndarray, recipe: Int8Recipe = INT8_RECIPES[0]) -> bytes:
    """Static QDQ quantization: int8 weights, uint8 activations, calibrated as `recipe` says."""
    onnx = require("onnx", "export", "quantizing ONNX models")
    require("onnxruntime.quantization", "export", "quantizing ONNX models")
    require("sympy", "export", "onnxruntime's quantization pre-processing")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {"minmax": CalibrationMethod.MinMax, "moving-average": CalibrationMethod.MinMax,
              "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}[recipe.method]
    extra = {"CalibMovingAverage": True} if recipe.method == "moving-average" else {}
    if recipe.method == "percentile":
        extra["CalibPercentile"] = 99.999

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = Path(tmp, "float.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(float_model)
        quant_pre_process(str(src), str(pre))
        exclude = _stem(onnx.load(str(pre)).graph) if recipe.float_stem else []
        quantize_static(str(pre), str(out), _Reader(calibration),
                        quant_format=QuantFormat.QDQ, per_channel=recipe.per_channel,
                        reduce_range=recipe.reduce_range, nodes_to_exclude=exclude,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=method, extra_options=extra)
        proto = onnx.load(str(out))
        onnx.checker.check_model(proto, full_check=True)
        return proto.SerializeToString()


def _stem(graph) -> list[str]:
    """Every node up to the first convolution / matmul (the graph is topologically sorted) and the
    activation that reads it: what a float-stem recipe keeps float (see export/calibration.py).

    The stem alone is not enough: with the input scaling before it quantized, ONNX Runtime's full
    graph optimization computed the model wrongly (measured: 93.8% agreement with all optimizations,
    99.7% with them off), while the same model with the whole input side float ran correctly at
    every level.
    """
    from fashion_edge.export.calibration import NotApplicable

    nodes = list(graph.node)
    compute = [i for i, node in enumerate(nodes) if node.op_type in COMPUTE_OPS]
    if len(compute) < 2:
        raise NotApplicable("the stem is the model's only compute node: nothing would be int8")
    stem = nodes[compute[0]]
    head = nodes[:compute[0] + 1]
    head += [n for n in nodes if n.op_type in ACTIVATIONS and stem.output[0] in n.input]
    if not all(n.name for n in head):
        raise NotApplicable("a node before the stem has no name to exclude it by")
    return [n.name for n in head]


def output_step(model: bytes) -> float:
    """The quantization step of a QDQ model's output (0.0 for a float output), read from the graph."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model).graph
    producers = {out: node for node in graph.node for out in node.output}
    inits = {t.name: t for t in graph.initializer}
    node = producers.get(graph.output[0].name)
    while node is not None and node.op_type != "DequantizeLinear" and node.input:
        node = producers.get(node.input[0])  # walk back through Identity/Reshape-like tails
    if node is None or node.op_type != "DequantizeLinear" or node.input[1] not in inits:
        return 0.0
    return float(numpy_helper.to_array(inits[node.input[1]]).max())
