"""The split-stem 16x8 recipe on small constructed models: the same function in float, two convolutions
whose weights int8 holds exactly, a 16x8 file built from it, and where it does not apply."""
from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.export.calibration import NotApplicable
from fashion_edge.export.tflite_export import INT16X8_RECIPES

pytestmark = [pytest.mark.slow, pytest.mark.numeric]   # the 16x8 comparison depends on the float kernels too

SPLIT_STEM = next(r for r in INT16X8_RECIPES if r.split_stem)


def _model(conv: bool):
    """A conv + batch norm (with trained-looking statistics) + ReLU6 stem, pooling and a Dense(10) whose
    weights int8 holds exactly, so that the stem's are the only weights 16x8 rounds; or the linear model."""
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((28, 28, 1), name="pixels"), keras.layers.Rescaling(1 / 255)]
    if conv:
        layers += [keras.layers.Conv2D(8, 3, padding="same", use_bias=False), keras.layers.BatchNormalization(),
                   keras.layers.ReLU(max_value=6.0), keras.layers.MaxPooling2D(4)]
    layers += [keras.layers.Flatten(), keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    if conv:
        rng = np.random.default_rng(1)
        model.layers[1].set_weights([rng.normal(0, 1, (3, 3, 1, 8)) * rng.uniform(0.01, 3, 8)])  # filters of very different size
        model.layers[2].set_weights([rng.uniform(0.5, 2, 8), rng.normal(0, 0.3, 8), rng.normal(0, 0.2, 8),
                                     rng.uniform(0.01, 0.5, 8)])
        dense = rng.integers(-127, 128, (392, 10)).astype(np.float32)
        dense[0] = 127                                        # every column's largest weight: an exact int8 step
        model.layers[-1].set_weights([dense / 500, np.zeros(10, np.float32)])
    return model


def test_split_stem_computes_the_same_function_with_int8_exact_weights(data):
    import keras

    from fashion_edge.export.device_graph import device_graph, split_stem

    model = _model(conv=True)
    split = split_stem(device_graph(model))
    x = data.x_test[:200, ..., None].astype(np.float32)
    want, got = np.asarray(model(x)), np.asarray(split(x))
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())

    convs = [layer for layer in split.layers if isinstance(layer, keras.layers.Conv2D)]
    high, low = convs[0], convs[1]
    assert high.name.endswith("_int8") and low.name.endswith("_remainder")
    coarse = high.get_weights()[0].reshape(-1, 8)
    step = np.abs(coarse).max(axis=0) / 127            # what per-channel int8 quantization will use
    levels = coarse / step
    assert np.allclose(levels, np.round(levels), atol=1e-3) and np.abs(levels).max() <= 127 + 1e-3
    remainder = low.get_weights()[0].reshape(-1, 8)
    assert (np.abs(remainder) <= step / 2 * (1 + 1e-5)).all()
    assert np.abs(remainder).max() > 0                  # the remainder carries something: not a no-op split


def test_split_stem_16x8_file_is_closer_to_keras_than_the_plain_one(tmp_path, data):
    from ai_edge_litert.interpreter import Interpreter

    from fashion_edge.export.tflite_export import convert, write_saved_model

    model = _model(conv=True)
    x = data.x_test[:300, ..., None]
    want = np.asarray(model(x.astype(np.float32)))
    errors = {}
    for recipe in INT16X8_RECIPES:
        saved = write_saved_model(model, tmp_path / recipe.name, split=recipe.split_stem)
        blob = convert(saved, "int16x8", data.x_train[:200, ..., None], recipe)
        it = Interpreter(model_content=blob)
        it.resize_tensor_input(it.get_input_details()[0]["index"], x.shape)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x.astype(np.float32))
        it.invoke()
        errors[recipe.split_stem] = np.abs(it.get_tensor(it.get_output_details()[0]["index"]) - want).mean()
        if recipe.split_stem:
            ops = [op["op_name"] for op in it._get_ops_details()]
            assert ops.count("CONV_2D") == 2 and "ADD" in ops
    # The stem's weights are the only coarse rounding left in 16x8: splitting it must show.
    assert errors[True] < 0.5 * errors[False], errors


def test_split_stem_is_not_offered_without_a_convolution_stem(tmp_path):
    from fashion_edge.export.tflite_export import write_saved_model

    with pytest.raises(NotApplicable):
        write_saved_model(_model(conv=False), tmp_path / "saved", split=True)


def _variant(kind: str):
    """Stems the edge model does not have, each of which a careless fold would get wrong."""
    import keras

    keras.utils.set_random_seed(0)
    layers = [keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255)]
    if kind == "bias-and-activation-then-bn":        # BN(relu(conv + b)): nothing may be folded
        layers += [keras.layers.Conv2D(4, 3, padding="same", activation="relu"), keras.layers.BatchNormalization()]
    elif kind == "bn-without-center-or-scale":
        layers += [keras.layers.Conv2D(4, 3, padding="same"), keras.layers.BatchNormalization(center=False, scale=False)]
    elif kind == "strided-conv-with-bias-and-bn":
        layers += [keras.layers.Conv2D(4, 3, strides=2, padding="valid"), keras.layers.BatchNormalization()]
    layers += [keras.layers.ReLU(max_value=6.0), keras.layers.Flatten(), keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.3, 4).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.05, 2, 4).astype(np.float32))
            if layer.scale:
                layer.gamma.assign(rng.uniform(0.5, 2, 4).astype(np.float32))
            if layer.center:
                layer.beta.assign(rng.normal(0, 0.5, 4).astype(np.float32))
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.5, 4).astype(np.float32))
    return model


@pytest.mark.parametrize("kind", ["bias-and-activation-then-bn", "bn-without-center-or-scale",
                                  "strided-conv-with-bias-and-bn"])
def test_split_stem_keeps_the_function_of_other_stems(kind, data):
    from fashion_edge.export.device_graph import device_graph, split_stem

    model = _variant(kind)
    x = data.x_test[:100, ..., None].astype(np.float32)
    want, got = np.asarray(model(x)), np.asarray(split_stem(device_graph(model))(x))
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_split_stem_is_not_offered_for_a_functional_graph():
    import keras

    from fashion_edge.export.device_graph import split_stem

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(x * 2.0))    # an op that model.layers does not list
    with pytest.raises(NotApplicable):
        split_stem(keras.Model(inputs, outputs))
