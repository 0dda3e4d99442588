"""Flatbuffer edits for an int8 TFLite file whose first layer stays float (a float-stem recipe).

The converter gives a fully quantized file uint8 ends (`inference_input_type`), but when the first
op reads float32 there is no QUANTIZE op at the input for it to retype, and the file would take
float32 pixels: a different contract from every other int8 file. This adds what it would have
added: a uint8 input tensor (scale 1, zero point 0: the raw pixel values) and a DEQUANTIZE op that
turns it into the float32 tensor the stem reads. Same arithmetic, 784 values converted per call.
"""
from __future__ import annotations


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
    name = graph.tensors[compute[0].outputs[0]].name
    return name.decode() if isinstance(name, bytes) else name


def uint8_pixel_input(model: bytes) -> bytes:
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python import util

    m = _parse(model)
    graph = m.subgraphs[0]
    (float_input,) = graph.inputs
    old = graph.tensors[float_input]
    if old.type != schema.TensorType.FLOAT32:
        return model

    pixels = schema.TensorT()
    pixels.name = old.name
    old.name = old.name + (b"_float" if isinstance(old.name, bytes) else "_float")
    pixels.shape, pixels.shapeSignature = old.shape, old.shapeSignature
    pixels.type = schema.TensorType.UINT8
    pixels.buffer = _empty_buffer(m, schema)
    pixels.quantization = schema.QuantizationParametersT()
    pixels.quantization.scale, pixels.quantization.zeroPoint = [1.0], [0]
    graph.tensors.append(pixels)
    index = len(graph.tensors) - 1

    dequantize = schema.OperatorT()
    dequantize.opcodeIndex = _opcode(m, schema, schema.BuiltinOperator.DEQUANTIZE)
    dequantize.inputs, dequantize.outputs = [index], [float_input]
    graph.operators.insert(0, dequantize)
    graph.inputs = [index]
    for signature in m.signatureDefs or []:
        for tensor in signature.inputs:
            if tensor.tensorIndex == float_input:
                tensor.tensorIndex = index
    return util._convert_model_from_object_to_bytearray(m)


def _empty_buffer(m, schema) -> int:
    """Activation tensors point at an empty buffer (by convention buffer 0)."""
    for i, buffer in enumerate(m.buffers):
        if not buffer.data and not getattr(buffer, "size", 0):
            return i
    m.buffers.append(schema.BufferT())
    return len(m.buffers) - 1


def _opcode(m, schema, builtin: int) -> int:
    for i, code in enumerate(m.operatorCodes):
        if _builtin(code) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1  # DEQUANTIZE of uint8: the op's first version, run by every TFLite runtime
    m.operatorCodes.append(code)
    return len(m.operatorCodes) - 1
