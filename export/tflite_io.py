"""Reading a calibrated TFLite file's graph: which ops an int8 recipe may keep in float32, by name.

TensorFlow's quantizer keeps an op float when its output tensor's name is on the denylist
(`mlir_quantize(denylisted_nodes=...)`), so ops are named here by their output tensors. With uint8
ends requested, the quantizer itself puts a DEQUANTIZE before a float first op and a QUANTIZE after a
float last op: every int8 file keeps uint8 pixels in (scale 1, zero point 0) and uint8 outputs.
"""
from __future__ import annotations

from dataclasses import dataclass


def _parse(model: bytes):
    from tensorflow.lite.python import util

    return util._convert_model_from_bytearray_to_object(model)  # the helper modify_model_io_type uses


def _builtin(code) -> int:
    """An operator code's builtin op (new files keep small codes in the deprecated field too)."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def stem_output(model: bytes, compute_ops: tuple[str, ...]) -> str:
    """The output tensor name of the first of `compute_ops`, which a float-stem recipe keeps float."""
    from tensorflow.lite.python import schema_py_generated as schema

    from fashion_edge.export.calibration import NotApplicable

    m = _parse(model)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = m.subgraphs[0]
    compute = [op for op in graph.operators if names.get(_builtin(m.operatorCodes[op.opcodeIndex])) in compute_ops]
    if len(compute) < 2:
        raise NotApplicable("the stem is the model's only compute op: nothing would be int8")
    return _text(graph.tensors[compute[0].outputs[0]].name)


@dataclass(frozen=True)
class WeightedOp:
    """An op with constant float32 inputs (weights): the ops whose int8 rounding a recipe may undo."""

    op: str                      # TFLite builtin, e.g. CONV_2D
    tensor: str                  # its output tensor's name (what the quantizer's denylist takes)
    weights: tuple[str, ...]     # its constant inputs' names (they carry the Keras layer's name when the output does not)
    outlier_ratio: float         # max |w| / RMS(w) of its largest constant: how coarse int8's step is for a typical weight


def weighted_ops(model: bytes) -> tuple[WeightedOp, ...]:
    """Every op reading a constant float32 tensor, in graph order: convolutions, fully connected, and any
    other op with weights (a MUL or ADD by a learned constant, PRELU, TRANSPOSE_CONV, ...)."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    m = _parse(model)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = m.subgraphs[0]
    found = []
    for op in graph.operators:
        constants = {graph.tensors[i]: data for i in op.inputs if i >= 0
                     and graph.tensors[i].type == schema.TensorType.FLOAT32
                     and (data := m.buffers[graph.tensors[i].buffer].data) is not None and len(data)}
        if not constants:
            continue
        w = np.frombuffer(bytes(max(constants.values(), key=len)), np.float32).astype(np.float64)
        rms = float(np.sqrt(np.mean(w * w)))
        found.append(WeightedOp(names.get(_builtin(m.operatorCodes[op.opcodeIndex]), "CUSTOM"),
                                _text(graph.tensors[op.outputs[0]].name), tuple(_text(t.name) for t in constants),
                                float(np.abs(w).max()) / rms if rms else 0.0))
    return tuple(found)


def op_outputs(model: bytes) -> set[str]:
    """Every op's output tensor name: the names a denylist may hold."""
    m = _parse(model)
    graph = m.subgraphs[0]
    return {_text(graph.tensors[i].name) for op in graph.operators for i in op.outputs}


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name
