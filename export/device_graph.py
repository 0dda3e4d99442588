"""The graph that gets exported: the trained model, traced for batch-of-one with no shape arithmetic.

Keras' Flatten reshapes to `(shape(x)[0], -1)`, which leaves SHAPE/STRIDED_SLICE/PACK (TFLite) or
Shape/Gather/Concat (ONNX) in every export. Mobile delegates take none of these: NNAPI and CoreML
split the graph around them and TFLite's GPU delegate falls back to the CPU. Reshaping to
`(-1, features)` computes the same values with a constant shape, so the exported files are fixed
batch-of-one graphs that a TFLite interpreter can still resize to a batch (nothing pins the batch).
"""
from __future__ import annotations

import math

INPUT_NAME = "pixels"


def _flatten_layer_class():
    import keras

    class ConstantShapeFlatten(keras.layers.Layer):
        """Flatten without reading the batch size at run time (used only for tracing, never saved)."""

        def __init__(self, features: int, **kwargs) -> None:
            super().__init__(**kwargs)
            self.features = features

        def call(self, x):
            return keras.ops.reshape(x, (-1, self.features))

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.features)

    return ConstantShapeFlatten


def device_graph(model):
    """A clone of `model` sharing its weights' values, with every Flatten made shape-free."""
    import keras

    flatten = _flatten_layer_class()

    def clone(layer):
        if isinstance(layer, keras.layers.Flatten):
            return flatten(math.prod(layer.input.shape[1:]), name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    if not any(isinstance(layer, keras.layers.Flatten) for layer in model.layers):
        return model
    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    _equalize_pixel_weights(copy)
    return copy


def _equalize_pixel_weights(model) -> None:
    """Rescale a dense layer that reads the scaled pixels directly (the linear model) so that
    int8 weight quantization loses less, computing the same function.

    Weight quantization gives each output class one step, set by its largest weight. A model on raw
    pixels trained with Adam has a few large weights on rarely-lit border pixels (here 2.5 against a
    median of 0.43), so that step is coarse for every other pixel. Moving a per-pixel factor s into
    the input scaling and dividing the weights by it (W x = (W / s)(s x), the cross-layer
    equalization of Nagel et al., 2019, with the pixel scaling as the first layer) evens the columns
    out; s = sqrt(column max / median) keeps the per-pixel constant itself easy to quantize.
    Measured on the demo's linear model (top-1 agreement with Keras, 10,000 test images):
    int8-weight files 99.49% -> 99.80% (dynamic) and 99.82% (16x8), uint8 file 97.81% -> 98.27%.
    Float formats compute the same logits (max |diff| 1e-5).
    """
    import keras
    import numpy as np

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) < 3 or not isinstance(layers[0], keras.layers.Rescaling) or layers[0].offset \
            or not isinstance(layers[2], keras.layers.Dense) or layers[1].__class__.__name__ != "ConstantShapeFlatten":
        return
    scaling, dense = layers[0], layers[2]
    weights, bias = dense.get_weights()
    column = np.abs(weights).max(axis=1)
    if not (column > 0).all():
        return
    s = np.sqrt(column / np.median(column)).astype(np.float32)
    scaling.scale = (np.float32(scaling.scale) * s).reshape(scaling.input.shape[1:])
    dense.set_weights([weights / s[:, None], bias])


def input_spec(model):
    """The exported graph's input: a batch of one image of the model's own (H, W, C), float32 pixels 0..255."""
    import tensorflow as tf

    return tf.TensorSpec((1, *model.inputs[0].shape[1:]), tf.float32, name=INPUT_NAME)


def split_stem(model):
    """`model` with its stem (the first convolution, batch norm folded in) computed as the sum of two
    convolutions: one with the stem's weights rounded to per-channel int8, which int8 then holds
    exactly, and one with the rounding's remainder, which int8 rounds again 127 times finer. The same
    function in float (checked here on random pixels before the model is returned).

    For 16x8 files, whose only 8-bit tensors are weights: the stem reads raw pixels through 9 weights
    per filter, too few for rounding errors to average out. Measured on a 20-epoch edge model (Keras,
    10,000 test images): rounding the stem's weights alone to int8 flipped 60 top-1 answers, every
    other layer's at most 9. The second convolution costs 2% more MACs and one ADD.
    Raises NotApplicable unless the model is a plain chain (Sequential) that starts with pixel
    scaling and a channels-last convolution.
    """
    import keras
    import numpy as np

    from fashion_edge.export.calibration import NotApplicable

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential) or len(layers) < 3 \
            or not isinstance(layers[0], keras.layers.Rescaling) or type(layers[1]) is not keras.layers.Conv2D \
            or layers[1].groups != 1 or layers[1].data_format != "channels_last":
        raise NotApplicable("the model is not a chain starting with a convolution on the scaled pixels")
    scaling, conv = layers[0], layers[1]
    rest = layers[2:]
    value = _float64
    linear = conv.activation is keras.activations.linear
    kernel = value(conv.kernel)
    bias = value(conv.bias) if conv.use_bias else np.zeros(kernel.shape[-1])
    if linear and rest and isinstance(rest[0], keras.layers.BatchNormalization) and rest[0].axis in (-1, 3):
        bn = rest.pop(0)   # y = gamma (x - mean) / sqrt(var + eps) + beta, folded: kernel * a, (bias - mean) * a + beta
        gamma = value(bn.gamma) if bn.scale else 1.0
        beta = value(bn.beta) if bn.center else 0.0
        a = gamma / np.sqrt(value(bn.moving_variance) + bn.epsilon)
        kernel, bias = kernel * a, (bias - value(bn.moving_mean)) * a + beta
    step = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0) / 127
    step[step == 0] = 1.0
    coarse = np.round(kernel / step) * step
    config = {k: v for k, v in conv.get_config().items()
              if k in ("filters", "kernel_size", "strides", "padding", "dilation_rate")}
    inputs = keras.Input(shape=model.inputs[0].shape[1:], name=INPUT_NAME)
    x = scaling(inputs)
    high = keras.layers.Conv2D(**config, use_bias=True, name=f"{conv.name}_int8")
    low = keras.layers.Conv2D(**config, use_bias=False, name=f"{conv.name}_remainder")
    y = keras.layers.Add(name=f"{conv.name}_sum")([high(x), low(x)])
    high.set_weights([coarse.astype(np.float32), bias.astype(np.float32)])
    low.set_weights([(kernel - coarse).astype(np.float32)])
    if not linear:
        y = keras.layers.Activation(conv.activation, name=f"{conv.name}_activation")(y)
    for layer in rest:
        y = layer(y)
    split = keras.Model(inputs, y, name=f"{model.name}_split_stem")
    pixels = np.random.default_rng(0).integers(0, 256, (8, *model.inputs[0].shape[1:])).astype(np.float32)
    want, got = np.asarray(model(pixels)), np.asarray(split(pixels))
    if not np.allclose(got, want, rtol=1e-3, atol=1e-3 * max(1.0, float(np.abs(want).max()))):
        raise NotApplicable(f"splitting the stem changed the model's outputs (max |diff| {np.abs(got - want).max():.3g})")
    return split


def _float64(variable):
    """A Keras variable's value as float64, so that folding batch norm adds no float32 rounding."""
    import keras
    import numpy as np

    return np.asarray(keras.ops.convert_to_numpy(variable), np.float64)
