"""The fast tier's tiny bundles: committed Keras models, exported by the project's own exporter.

    python tests/data/make_bundles.py             # re-export every tiny model into its bundle/
    python tests/data/make_bundles.py --retrain   # retrain the models first (changes every file)

Each tiny model is a few thousand parameters trained for a few seconds on real Fashion-MNIST, so
its answers mean something (test image 0 is an ankle boot to it too) while the whole bundle, every
format included, stays a few hundred kB. The model files (`model.keras`) are committed beside their
bundles: retraining is never needed to re-export, and `tests/test_tiny_bundles.py` (slow) re-exports
them with today's exporter and checks the committed bundles still match. The fast tier reads the
bundles and never imports TensorFlow.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
SEED = 0


@dataclass(frozen=True)
class TinyModel:
    name: str
    build: Callable[[object], object]   # keras -> an untrained model
    epochs: int
    why: str


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


MODELS = (
    TinyModel("tiny-cnn", _tiny_cnn, epochs=2, why="the edge model's layer kinds at 1/20 of its size"),
)


def retrain(model: TinyModel, folder: Path) -> None:
    import keras

    from fashion_edge.train.data import load_fashion_mnist

    keras.utils.set_random_seed(SEED)
    data = load_fashion_mnist()
    x_fit, y_fit, x_val, y_val = data.split_validation(seed=SEED)   # the exporter holds x_val out again
    net = model.build(keras)
    net.compile(optimizer=keras.optimizers.Adam(3e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    net.fit(x_fit[..., None], y_fit, batch_size=128, epochs=model.epochs, verbose=0)
    _, accuracy = net.evaluate(data.x_test[..., None], data.y_test, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    bare = model.build(keras)            # saved without the optimizer's state: a third of the file
    bare.set_weights(net.get_weights())
    bare.save(folder / "model.keras")
    (folder / "metrics.json").write_text(json.dumps({"seed": SEED, "test_accuracy": round(float(accuracy), 4),
                                                     "epochs": model.epochs, "why": model.why}, indent=2) + "\n")


def export_bundle(folder: Path, into: Path | None = None) -> Path:
    """Export `folder/model.keras` with every format, gate recorded; returns the bundle folder.

    `into`: export a copy of the model folder there instead (the committed bundle stays untouched).
    """
    import shutil

    from fashion_edge.export.exporter import ExportConfig, export

    if into is not None:
        into.mkdir(parents=True, exist_ok=True)
        for name in ("model.keras", "metrics.json"):
            shutil.copy2(folder / name, into / name)
        folder = into
    config = ExportConfig(model_dir=folder, enforce_gate=False, preprocessing_vectors=False)  # their photos: 0.5 MB
    return export(config, log=lambda _: None).bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="retrain the tiny models before exporting")
    args = parser.parse_args(argv)
    for model in MODELS:
        folder = HERE / model.name
        if args.retrain or not (folder / "model.keras").is_file():
            retrain(model, folder)
        bundle = export_bundle(folder)
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        print(f"{model.name}: {bundle.relative_to(HERE.parents[1])} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
