"""The model zoo: the seed tutorial's linear model and a small CNN for devices.

Both take raw 0..255 pixels as NHWC (N, 28, 28, 1) and scale inside the model, so an exported
integer model can be fed camera-derived uint8 pixels with no float preprocessing on the device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    """How to build and train one model; defaults are what `make demo` uses."""

    name: str
    build: Callable[[], "object"]
    epochs: int
    batch_size: int
    learning_rate: float
    description: str
    cosine_decay: bool = False
    flip_augment: bool = False  # mirror images left-right while training (clothes are near-symmetric)


def _keras():
    from fashion_edge.runtime.extras import require

    return require("keras", "train", "building models")


def build_linear():
    """The seed tutorial's model exactly: Flatten + Dense(10) logits (plus input scaling)."""
    keras = _keras()
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="pixels"),
            keras.layers.Rescaling(1.0 / 255, name="scale"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(NUM_CLASSES, name="logits"),
        ],
        name="linear",
    )


def build_edge():
    """A small CNN for devices: two conv blocks, global pooling, no large dense layer.

    Under 100k parameters; batch norm folds into the convolutions at export, and ReLU keeps
    activations friendly to int8 quantization.
    """
    keras = _keras()
    layers = keras.layers

    def conv(filters: int, name: str) -> list:
        return [
            layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv"),
            layers.BatchNormalization(momentum=0.9, name=f"{name}_bn"),  # converges in short runs too
            layers.ReLU(name=f"{name}_relu"),
        ]

    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="pixels"),
            layers.Rescaling(1.0 / 255, name="scale"),
            *conv(32, "b1a"),
            *conv(32, "b1b"),
            layers.MaxPooling2D(name="b1_pool"),
            *conv(64, "b2a"),
            *conv(64, "b2b"),
            layers.MaxPooling2D(name="b2_pool"),
            layers.Dropout(0.3, name="dropout"),
            layers.Flatten(name="flatten"),
            layers.Dense(NUM_CLASSES, name="logits"),
        ],
        name="edge",
    )


MODELS: dict[str, ModelSpec] = {
    "linear": ModelSpec("linear", build_linear, epochs=10, batch_size=32, learning_rate=1e-3,
                        description="seed tutorial: Flatten + Dense(10) logits"),
    "edge": ModelSpec("edge", build_edge, epochs=10, batch_size=128, learning_rate=2e-3,
                      description="small CNN for devices: 4 conv + BN + ReLU, 2 max-pool, Dense(10)",
                      cosine_decay=True, flip_augment=True),
}


def compile_model(model, learning_rate: float) -> None:
    """The seed's training setup: Adam, SparseCategoricalCrossentropy(from_logits=True), accuracy."""
    keras = _keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
