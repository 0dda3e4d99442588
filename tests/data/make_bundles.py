"""The fast tier's tiny bundles: committed Keras models, exported by the project's own exporter.

    python tests/data/make_bundles.py             # re-export every tiny model into its bundle/
    python tests/data/make_bundles.py --retrain   # retrain the models first (changes every file)

Three input contracts, each a model of a few thousand parameters trained for seconds, so its answers
mean something while its bundle stays small:

- tiny-cnn: 28x28x1, 10 classes, fashion-mnist-v1, logits; real Fashion-MNIST; every format.
- tiny-shapes12: 32x48x3, 12 classes with non-ASCII names, photo-v1 (stretch, bilinear), logits;
  synthetic.shapes12; four formats (float and 8-bit TFLite and ONNX).
- tiny-stripes2: 64x64x3, 2 classes, photo-v1 (crop, bicubic, black background), probabilities
  (the model ends in a softmax); synthetic.stripes2; the same four formats.

The model files (`model.keras`) are committed beside their bundles: re-exporting never retrains,
and `tests/test_tiny_bundles.py` (slow) re-exports them with today's exporter and checks the
committed bundles still match. `tests/data/schema2/` is a bundle of the previous manifest schema,
kept as it was written. The fast tier reads the bundles and never imports TensorFlow.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SEED = 0
FOUR_FORMATS = ("tflite-float32", "tflite-int8", "onnx-float32", "onnx-int8")


@dataclass(frozen=True)
class TinyModel:
    name: str
    build: Callable[[object], object]          # keras -> an untrained model
    data: Callable[[], object]                 # () -> ImageSet (device frames)
    epochs: int
    why: str
    preprocessing: dict = field(default_factory=dict)   # photo-v1's parameters (empty: the default recipe)
    formats: tuple[str, ...] | None = None     # None: every format


def _tiny_cnn(keras):
    """Conv stem (the float-stem and split-stem candidates apply), BN, ReLU6, a second conv, Dense."""
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), name="pixels"),
        layers.Rescaling(1.0 / 255, name="scale"),
        layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="s0c0_conv"),
        layers.BatchNormalization(momentum=0.9, name="s0c0_bn"),
        layers.ReLU(max_value=6.0, name="s0c0_relu6"),
        layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="s1c0_conv"),
        layers.BatchNormalization(momentum=0.9, name="s1c0_bn"),
        layers.ReLU(max_value=6.0, name="s1c0_relu6"),
        layers.Flatten(name="flatten"),
        layers.Dense(10, name="logits"),
    ], name="tiny-cnn")


def _rgb_cnn(shape: tuple[int, int, int], classes: int, softmax: bool):
    def build(keras):
        layers = keras.layers
        stack = [keras.Input(shape=shape, name="pixels"), layers.Rescaling(1.0 / 255, name="scale")]
        for i, filters in enumerate((8, 16, 24)):
            stack += [layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"c{i}_conv"),
                      layers.BatchNormalization(momentum=0.9, name=f"c{i}_bn"),
                      layers.ReLU(max_value=6.0, name=f"c{i}_relu6")]
        stack += [layers.GlobalAveragePooling2D(name="pool"), layers.Dense(classes, name="logits")]
        if softmax:
            stack.append(layers.Softmax(name="probabilities"))
        return keras.Sequential(stack, name="rgb-cnn")
    return build


def _fashion_mnist():
    from fashion_edge.train.data import load_fashion_mnist

    return load_fashion_mnist().image_set()


def _shapes12():
    import synthetic

    return synthetic.shapes12()


def _stripes2():
    import synthetic

    return synthetic.stripes2()


MODELS = (
    TinyModel("tiny-cnn", _tiny_cnn, _fashion_mnist, epochs=2, why="the edge model's layer kinds at 1/20 of its size"),
    TinyModel("tiny-shapes12", _rgb_cnn((32, 48, 3), 12, softmax=False), _shapes12, epochs=12,
              why="a 32x48 RGB contract with 12 non-ASCII class names", formats=FOUR_FORMATS),
    TinyModel("tiny-stripes2", _rgb_cnn((64, 64, 3), 2, softmax=True), _stripes2, epochs=6,
              why="a 64x64 RGB contract with 2 classes and probability outputs", formats=FOUR_FORMATS,
              preprocessing={"resize": "crop", "interpolation": "bicubic", "background": (0, 0, 0)}),
)
BY_NAME = {m.name: m for m in MODELS}


def retrain(model: TinyModel, folder: Path) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    data = model.data()
    x_fit, y_fit, _, _ = data.split_validation(seed=SEED)    # the exporter holds the validation images out again
    net = model.build(keras)
    net.compile(optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"],
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=net.layers[-1].name != "probabilities"))
    net.fit(x_fit, y_fit, batch_size=64, epochs=model.epochs, verbose=0)
    _, accuracy = net.evaluate(data.test, data.test_labels, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    bare = model.build(keras)            # saved without the optimizer's state: a third of the file
    bare.set_weights(net.get_weights())
    bare.save(folder / "model.keras")
    (folder / "metrics.json").write_text(json.dumps({"seed": SEED, "test_accuracy": round(float(accuracy), 4),
                                                     "epochs": model.epochs, "why": model.why}, indent=2) + "\n")


def export_bundle(folder: Path, into: Path | None = None, vectors: bool = False) -> Path:
    """Export `folder/model.keras` (a model of MODELS) with its data, gate recorded; returns the bundle folder.

    `into`: export a copy of the model folder there instead (the committed bundle stays untouched).
    `vectors`: with the preprocessing vectors' photos (too large to commit; tests that need them export).
    """
    from fashion_edge.export.exporter import ExportConfig, export
    from fashion_edge.runtime.recipes import PHOTO, preprocessing

    model = BY_NAME[folder.name]
    if into is not None:
        into.mkdir(parents=True, exist_ok=True)
        for name in ("model.keras", "metrics.json"):
            shutil.copy2(folder / name, into / name)
        folder = into
    config = ExportConfig(model_dir=folder, enforce_gate=False, preprocessing_vectors=vectors, dataset=model.data(),
                          preprocessing=preprocessing(PHOTO, **model.preprocessing) if model.preprocessing else None)
    if model.formats:
        config = ExportConfig(**{**config.__dict__, "formats": model.formats})
    return export(config, log=lambda _: None).bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="retrain the tiny models before exporting")
    parser.add_argument("models", nargs="*", help=f"default: every tiny model ({', '.join(BY_NAME)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(BY_NAME))
    if unknown:
        parser.error(f"unknown tiny model {unknown[0]!r}; choose from {', '.join(BY_NAME)}")
    for model in [BY_NAME[name] for name in args.models] or MODELS:
        folder = HERE / model.name
        if args.retrain or not (folder / "model.keras").is_file():
            retrain(model, folder)
        bundle = export_bundle(folder)
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        print(f"{model.name}: {bundle.relative_to(HERE.parents[1])} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
