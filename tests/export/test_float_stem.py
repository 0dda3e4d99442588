"""The float-stem int8 recipe on small constructed models: the file's contract and where it applies.

The session fixtures may or may not pick this recipe (the validation split decides), so its file
layout is checked here directly: uint8 pixels in (scale 1, zero point 0), uint8 logits out, the
first convolution float32 behind a DEQUANTIZE, and logits close to Keras.
"""
from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.export.calibration import NotApplicable
from fashion_edge.export.tflite_export import INT8_RECIPES

pytestmark = pytest.mark.slow

FLOAT_STEM = next(r for r in INT8_RECIPES if r.float_stem)


def _model(conv: bool):
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((28, 28, 1), name="pixels"), keras.layers.Rescaling(1 / 255)]
    if conv:
        layers += [keras.layers.Conv2D(8, 3, padding="same", activation="relu6"), keras.layers.MaxPooling2D(4),
                   keras.layers.Conv2D(8, 3, padding="same", activation="relu6")]
    layers += [keras.layers.Flatten(), keras.layers.Dense(10)]
    return keras.Sequential(layers)


def _saved(model, tmp_path):
    from fashion_edge.export.tflite_export import write_saved_model

    return write_saved_model(model, tmp_path / "saved")


def test_float_stem_file_takes_uint8_pixels_and_keeps_only_the_first_conv_float(tmp_path, data):
    from ai_edge_litert.interpreter import Interpreter

    from fashion_edge.export.tflite_export import convert

    model = _model(conv=True)
    blob = convert(_saved(model, tmp_path), "int8", data.x_train[:200, ..., None], FLOAT_STEM)
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)
    assert out["dtype"] == np.uint8 and out["quantization"][0] > 0
    ops = it._get_ops_details()
    assert [op["op_name"] for op in ops[:3]] == ["DEQUANTIZE", "CONV_2D", "QUANTIZE"]
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    assert tensors[ops[1]["outputs"][0]]["dtype"] == np.float32                     # the stem computes in float
    assert any(op["op_name"] == "CONV_2D" and tensors[op["outputs"][0]]["dtype"] == np.int8 for op in ops[2:])

    x = data.x_test[:50, ..., None]
    keras_logits = np.asarray(model(x.astype(np.float32)))
    scale, zero = out["quantization"]
    got = []
    for image in x:
        it.set_tensor(inp["index"], image[None])
        it.invoke()
        got.append((it.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale)
    # A wrong input scale or zero point moves logits by the whole range; int8 rounding by a few steps.
    assert np.abs(np.array(got) - keras_logits).max() <= 4 * scale + 0.05 * np.ptp(keras_logits)


def test_float_stem_is_not_offered_when_the_stem_is_the_only_layer(tmp_path, data):
    from fashion_edge.export.tflite_export import convert

    with pytest.raises(NotApplicable):
        convert(_saved(_model(conv=False), tmp_path), "int8", data.x_train[:50, ..., None], FLOAT_STEM)


def test_onnx_float_stem_excludes_everything_up_to_the_stem_and_its_activation():
    from onnx import helper

    from fashion_edge.export.onnx_export import _stem

    nodes = [helper.make_node("Mul", ["x", "s"], ["m"], name="scale"),
             helper.make_node("Conv", ["m", "w"], ["c"], name="stem"),
             helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="stem_relu6"),
             helper.make_node("Conv", ["r", "w2"], ["c2"], name="next"),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"], name="next_relu6"),
             helper.make_node("MatMul", ["r2", "w3"], ["y"], name="head")]
    graph = helper.make_graph(nodes, "g", [], [])
    assert _stem(graph) == ["scale", "stem", "stem_relu6"]
    with pytest.raises(NotApplicable):
        _stem(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="only")], "g", [], []))
