"""The model zoo: the linear baseline exactly, and an edge CNN within its parameter budget."""
from __future__ import annotations

import numpy as np
import pytest

from fashion_edge.train.macs import count_macs
from fashion_edge.train.models import MODELS, build_edge, build_linear, compile_model

pytestmark = pytest.mark.slow   # builds Keras models: TensorFlow


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def test_linear_is_flatten_and_dense_logits():
    model = build_linear()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Rescaling", "Flatten", "Dense"]
    assert model.layers[0].scale == pytest.approx(1 / 255)
    dense = model.layers[-1]
    assert dense.units == 10 and dense.activation.__name__ == "linear"  # logits, not softmax
    assert model.count_params() == 28 * 28 * 10 + 10
    assert model.input_shape == (None, 28, 28, 1)


def test_loss_is_sparse_crossentropy_on_logits_with_accuracy(keras):
    model = build_linear()
    compile_model(model, MODELS["linear"].recipe, steps=100)
    assert isinstance(model.optimizer, keras.optimizers.Adam) and not isinstance(model.optimizer, keras.optimizers.AdamW)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.loss.get_config()["from_logits"] is True
    model.evaluate(np.zeros((2, 28, 28, 1), np.float32), np.zeros(2), verbose=0)  # builds metrics
    assert "accuracy" in [m.name for m in model.metrics] + list(model.get_metrics_result())


def test_edge_fits_the_device_budget():
    model = build_edge()
    assert model.count_params() <= 100_000
    assert count_macs(model) <= 6_000_000
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert type(model.layers[0]).__name__ == "Rescaling"


def test_mac_counter_counts_every_conv_depthwise_separable_and_dense_layer(keras):
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, padding="same"),                  # 28*28*8*9*1   = 56,448
        layers.DepthwiseConv2D(3, padding="same"),            # 28*28*8*9     = 56,448
        layers.SeparableConv2D(16, 3, strides=2, padding="same"),  # 14*14*8*9 + 14*14*8*16 = 39,200
        layers.Conv2D(16, 1, groups=2),                       # 14*14*16*8    = 25,088
        layers.GlobalAveragePooling2D(),
        layers.Dense(10),                                     # 160
    ])
    assert count_macs(model) == 56_448 + 56_448 + 39_200 + 25_088 + 160


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_take_raw_pixels(name):
    side = max(28, MODELS[name].min_size)          # the transfer bases take 32x32 and up
    shape = (side, side, 1)
    model = MODELS[name].build(shape, 10)
    white = model(np.full((1, *shape), 255, np.float32), training=False)
    black = model(np.zeros((1, *shape), np.float32), training=False)
    assert np.all(np.isfinite(white)) and not np.allclose(white, black, rtol=1e-3, atol=0)  # random bases: tiny outputs
