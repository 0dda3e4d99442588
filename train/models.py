"""The model zoo: a linear baseline, a small CNN for devices and two ImageNet bases, each with its recipe.

Every model takes raw 0..255 pixels as NHWC (N, H, W, C) and scales inside the model, so an exported
integer model can be fed camera-derived uint8 pixels with no float preprocessing on the device. The
builders take the input shape and class count, by default Fashion-MNIST's (28, 28, 1) and 10.
Importing this module is cheap (Keras is imported when a model is built), so the CLI can list the
zoo without loading TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, Union

from fashion_edge.runtime.errors import DataError, UsageError

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
IMAGENET = "imagenet"
BASE = "base"                          # the layer name of a keras.applications base inside its model
Weights = Union[str, Path, None]       # IMAGENET, a weights file of the base, or None (random initialisation)


@dataclass(frozen=True)
class TrainingRecipe:
    """How a model is trained; the defaults are the linear baseline's (Adam, nothing else)."""

    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "adam"              # "adam" or "adamw"
    weight_decay: float = 0.0            # AdamW's decoupled decay
    warmup_epochs: float = 0.0           # linear warm-up before the cosine decay
    cosine_decay: bool = False
    label_smoothing: float = 0.0
    flip: bool = False                   # mirror left-right (clothes are near-symmetric)
    shift: int = 0                       # random translation by up to this many pixels
    ema_momentum: float | None = None    # evaluate and export an exponential moving average of the weights


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., "object"]       # (input_shape, classes[, weights]) -> an uncompiled Keras model
    recipe: TrainingRecipe               # what `make demo` trains
    quick: TrainingRecipe                # a short run for smoke tests and CI (`train --quick`)
    description: str
    folder_size: tuple[int, int] = (64, 64)   # (H, W) when trained on an image folder without --image-size
    min_size: int = 1                         # the smallest height and width the architecture takes
    pretrainable: bool = False                # a keras.applications base: build(..., weights=), frozen at first


def check_input(model: str, input_shape: Sequence[int]) -> tuple[int, int, int]:
    """(H, W, C) when `model` can take that input; otherwise a UsageError that says what it takes."""
    h, w, c = (int(v) for v in input_shape)
    if c not in (1, 3):
        raise UsageError(f"{model} takes 1 (grey) or 3 (RGB) channels, not {c}")
    least = MODELS[model].min_size
    if min(h, w) < least:
        raise UsageError(f"{model} needs images of at least {least}x{least} pixels, not {h}x{w}: "
                         f"train it on an image folder (--data DIR) with --image-size {least} {least} or more")
    return h, w, c


def _keras():
    from fashion_edge.runtime.extras import require

    return require("keras", "train", "building models")


def build_linear(input_shape: Sequence[int] = INPUT_SHAPE, classes: int = NUM_CLASSES):
    """The linear baseline: Flatten + Dense(classes) logits (plus input scaling)."""
    keras = _keras()
    return keras.Sequential(
        [
            keras.Input(shape=check_input("linear", input_shape), name="pixels"),
            keras.layers.Rescaling(1.0 / 255, name="scale"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="linear",
    )


# edge: width grows as resolution falls (16 channels at 28x28, 32 at 14x14, 56 at 7x7), so the costly
# full-resolution stage is one thin convolution (most of the 5.0M MACs are at 14x14). ReLU6 bounds
# every activation to [0, 6], the range int8 calibration then uses: measured on the same recipe, it
# raised int8 agreement with Keras (99.57% -> 99.72% of test images) at equal accuracy. A flatten
# head kept 0.5 pp of accuracy that global average pooling lost (92.85% vs 92.38%, 12 vs 15 epochs).
EDGE_STAGES = ((16, 1), (32, 2), (56, 2))   # (filters, 3x3 convolutions) per resolution
# The head's map for photos larger than 28x28: a 64x64 input's 16x16x56 map flattened is 14.3k weights
# per class; pooled to 8x8 the head is a quarter of that. Measured on the example folder (6,000 photos,
# 64x64x3, 30 epochs, seed 0; 1,200 held-out images): test accuracy 85.25% -> 84.92%, 202,746 -> 95,226
# parameters, tflite-int8 agreement with Keras 98.42% -> 99.08% (max |Δlogit| 1.88 -> 0.53).
HEAD_SIDE = 8


def build_edge(input_shape: Sequence[int] = INPUT_SHAPE, classes: int = NUM_CLASSES):
    """A small CNN for devices: 5 conv (3x3, BN, ReLU6) over three resolutions, Dense(classes) on the last map.

    At 28x28x1 and 10 classes: 86.5k parameters and 5.0M MACs, Dense on the 7x7 map; batch norm folds
    into the convolutions at export, and bounded activations keep int8 quantization faithful. Larger
    inputs are max-pooled further before the head until the map is at most HEAD_SIDE pixels a side
    (64x64x3: an 8x8x56 map, 3,584 weights per class, 94k parameters in all).
    """
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=check_input("edge", input_shape), name="pixels"),
             layers.Rescaling(1.0 / 255, name="scale")]
    for stage, (filters, convs) in enumerate(EDGE_STAGES):
        if stage:
            stack.append(layers.MaxPooling2D(name=f"s{stage}_pool"))
        for i in range(convs):
            name = f"s{stage}c{i}"
            stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv"),
                      layers.BatchNormalization(momentum=0.9, name=f"{name}_bn"),  # converges in short runs
                      layers.ReLU(max_value=6.0, name=f"{name}_relu6")]
    side, extra = min(input_shape[0], input_shape[1]) // 2 ** (len(EDGE_STAGES) - 1), 0
    while side > HEAD_SIDE:
        stack.append(layers.MaxPooling2D(name=f"head_pool{extra}" if extra else "head_pool"))
        side, extra = side // 2, extra + 1
    stack += [layers.Flatten(name="flatten"), layers.Dense(classes, name="logits")]
    return keras.Sequential(stack, name="edge")


def build_mobilenet_v3_small(input_shape: Sequence[int] = INPUT_SHAPE, classes: int = NUM_CLASSES,
                             weights: Weights = None):
    """MobileNetV3-Small (keras.applications, its own 0..255 -> -1..1 scaling), avg-pooled, Dropout, Dense logits."""
    keras = _keras()
    return _on_base(keras, "mobilenet-v3-small", keras.applications.MobileNetV3Small, input_shape, classes, weights,
                    scale=False, include_preprocessing=True)


def build_mobilenet_v2(input_shape: Sequence[int] = INPUT_SHAPE, classes: int = NUM_CLASSES, weights: Weights = None):
    """MobileNetV2 (keras.applications) behind a 0..255 -> -1..1 Rescaling, avg-pooled, Dropout, Dense logits."""
    keras = _keras()
    return _on_base(keras, "mobilenet-v2", keras.applications.MobileNetV2, input_shape, classes, weights, scale=True)


def _on_base(keras, name: str, application, input_shape: Sequence[int], classes: int, weights: Weights, *,
             scale: bool, **options):
    """A classifier head on a keras.applications base (layer BASE), taking raw 0..255 pixels.

    A grey input is repeated to three channels inside the model, so ImageNet weights (which expect
    colour) apply and the device still feeds one channel. A pretrained base runs in inference mode
    (training=False): its batch norm statistics stay ImageNet's while the head trains, and also when
    the base is unfrozen to fine-tune; a random base trains its batch norm as usual.
    """
    layers = keras.layers
    h, w, c = check_input(name, input_shape)
    inputs = keras.Input(shape=(h, w, c), name="pixels")
    x = layers.Concatenate(name="grey_to_rgb")([inputs, inputs, inputs]) if c == 1 else inputs
    if scale:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(x)
    base = _base(application, name, (h, w, 3), weights, **options)
    x = base(x, training=False) if weights is not None else base(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    return keras.Model(inputs, layers.Dense(classes, name="logits")(x), name=name)


def _base(application, name: str, shape: tuple[int, int, int], weights: Weights, **options):
    """The headless, avg-pooled base with its starting weights; a download or file problem is a DataError."""
    def build(start: str | None):
        return application(input_shape=shape, include_top=False, pooling="avg", weights=start, name=BASE, **options)

    if weights is None:
        return build(None)
    if weights == IMAGENET:
        try:
            return build(IMAGENET)
        except Exception as exc:  # Keras' download raises a bare Exception ("URL fetch failure ...")
            raise DataError(f"cannot get {name}'s ImageNet weights ({_first_line(exc)}); without internet pass "
                            "--weights PATH (a weights file of the base) or --weights none") from exc
    path = Path(weights)
    if not path.is_file():
        raise DataError(f"{path}: no such weights file (--weights takes imagenet, none or a .weights.h5 file)")
    base = build(None)
    try:
        base.load_weights(path)
    except Exception as exc:  # h5py, shape and layer-count errors all mean "not this base's weights"
        raise DataError(f"{path}: not weights of {name}'s base at this input ({_first_line(exc)})") from exc
    return base


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def base_weights(text: str) -> Weights:
    """--weights' value: "imagenet", "none" (random initialisation) or the path of a weights file of the base."""
    if text == "none":
        return None
    return IMAGENET if text == IMAGENET else Path(text)


_SEED_RECIPE = TrainingRecipe(epochs=10, batch_size=32, learning_rate=1e-3)
# 30 epochs: 743 s for 93.88% test accuracy, against 93.38% for 20 and 92.85% for 10 (seed 0; Intel
# Xeon, 2 cores). They fit in 15 minutes because train/augment.py turns tf.data's autotune off (with it
# on, 20 epochs take 656-768 s). Label smoothing cost accuracy in runs this short, and so did random
# erasing (p 0.5, 20 epochs: 93.15%; training accuracy fell to validation's).
_EDGE_RECIPE = TrainingRecipe(epochs=30, batch_size=128, learning_rate=3e-3, optimizer="adamw", weight_decay=5e-4,
                              warmup_epochs=1, cosine_decay=True, flip=True, shift=1, ema_momentum=0.998)
# The bases train on image folders only (they need 32x32 or more). 96x96 by default: the smallest size
# MobileNetV2 has ImageNet weights for, and cheap on a device; --image-size 224 224 is ImageNet's own.
_BASE_RECIPE = TrainingRecipe(epochs=10, batch_size=32, learning_rate=1e-3, flip=True)
_BASE_QUICK = TrainingRecipe(epochs=2, batch_size=32, learning_rate=1e-3, flip=True)

MODELS: dict[str, ModelSpec] = {
    "linear": ModelSpec("linear", build_linear, _SEED_RECIPE, TrainingRecipe(epochs=2, batch_size=32, learning_rate=1e-3),
                        description="linear baseline: Flatten + Dense(10) logits"),
    "edge": ModelSpec("edge", build_edge, _EDGE_RECIPE,
                      TrainingRecipe(epochs=3, batch_size=128, learning_rate=3e-3, optimizer="adamw", weight_decay=5e-4,
                                     cosine_decay=True, flip=True),
                      description="small CNN for devices: 5 conv + BN + ReLU6 at 28/14/7 px, Dense(10) on 7x7x56",
                      min_size=4),
    "mobilenet-v3-small": ModelSpec("mobilenet-v3-small", build_mobilenet_v3_small, _BASE_RECIPE, _BASE_QUICK,
                                    description="MobileNetV3-Small base (keras.applications), avg pool, Dropout, "
                                                "Dense logits; image folders, 32x32 or more",
                                    folder_size=(96, 96), min_size=32, pretrainable=True),
    "mobilenet-v2": ModelSpec("mobilenet-v2", build_mobilenet_v2, _BASE_RECIPE, _BASE_QUICK,
                              description="MobileNetV2 base (keras.applications), avg pool, Dropout, Dense logits; "
                                          "image folders, 32x32 or more",
                              folder_size=(96, 96), min_size=32, pretrainable=True),
}


def compile_model(model, recipe: TrainingRecipe, steps: int) -> None:
    """The loss and metric (SparseCategoricalCrossentropy(from_logits=True), accuracy) with the recipe's optimizer."""
    keras = _keras()
    lr = recipe.learning_rate
    if recipe.cosine_decay:
        warmup = min(int(recipe.warmup_epochs * steps / recipe.epochs), steps // 2)  # short runs: half at most
        lr = keras.optimizers.schedules.CosineDecay(0.0 if warmup else recipe.learning_rate, decay_steps=steps - warmup,
                                                    warmup_target=recipe.learning_rate if warmup else None,
                                                    warmup_steps=warmup)
    ema = {"use_ema": True, "ema_momentum": recipe.ema_momentum} if ema_applies(recipe, steps) else {}
    if recipe.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay, **ema)
    else:
        optimizer = keras.optimizers.Adam(lr, **ema)
    model.compile(optimizer=optimizer, loss=_loss(keras, recipe.label_smoothing, int(model.output_shape[-1])),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def ema_applies(recipe: TrainingRecipe, steps: int) -> bool:
    """An undebiased moving average needs several time constants of steps, or it returns weights close
    to their random start (e.g. `--epochs 1` of a recipe tuned for 13): below 5, train without it."""
    return bool(recipe.ema_momentum) and steps * (1 - recipe.ema_momentum) >= 5


def _loss(keras, label_smoothing: float, classes: int):
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ops = keras.ops

    class SmoothedSparseCrossentropy(keras.losses.Loss):
        """Integer labels with label smoothing (Keras' sparse loss has no smoothing option)."""

        def call(self, y_true, y_pred):
            one_hot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), classes)
            return keras.losses.categorical_crossentropy(one_hot, y_pred, from_logits=True,
                                                         label_smoothing=label_smoothing)

    return SmoothedSparseCrossentropy(name="smoothed_sparse_crossentropy")
