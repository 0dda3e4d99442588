"""The graph that gets exported: the trained model, traced for batch-of-one with no shape arithmetic.

Keras' Flatten reshapes to `(shape(x)[0], -1)`, which leaves SHAPE/STRIDED_SLICE/PACK (TFLite) or
Shape/Gather/Concat (ONNX) in every export. Mobile delegates take none of these: NNAPI and CoreML
split the graph around them and TFLite's GPU delegate falls back to the CPU. Reshaping to
`(-1, features)` computes the same values with a constant shape, so the exported files are fixed
batch-of-one graphs that a TFLite interpreter can still resize to a batch (nothing pins the batch).
"""
from __future__ import annotations

import math

from fashion_edge.runtime.preprocess import SIZE

INPUT_NAME = "pixels"
BATCH_OF_ONE = (1, SIZE, SIZE, 1)


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
    return copy


def input_spec():
    import tensorflow as tf

    return tf.TensorSpec(BATCH_OF_ONE, tf.float32, name=INPUT_NAME)
