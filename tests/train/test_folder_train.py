"""`fashion-edge train --data DIR` on an image folder: flags checked before TensorFlow loads, a model that
learns from colour alone, its artifacts recording the split and preprocessing, and the ImageNet-style bases."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from folder_data import make_shapes_folder
from PIL import Image

from fashion_edge.cli.main import main
from fashion_edge.train.folder_train import FINE_TUNE_RATE, training_phases
from fashion_edge.train.models import MODELS, TrainingRecipe


def train(capsys, *args: str) -> tuple[int, str, str]:
    """`fashion-edge train ARGS` in this process: (exit code, stdout, stderr)."""
    code = main(["train", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> tuple[Path, list[str]]:
    """4 classes x 20 images, their class decided by colour (tests/folder_data.py)."""
    root = tmp_path_factory.mktemp("folder") / "shapes"
    return root, make_shapes_folder(root, classes=4, per_class=20)


@pytest.fixture
def idx_folder(tmp_path) -> Path:
    """A folder of Fashion-MNIST's IDX file names: --data reads it as Fashion-MNIST, never as an image folder."""
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    return tmp_path


@pytest.fixture
def no_tensorflow():
    """The flags are checked before TensorFlow loads: a mistake costs no import."""
    loaded = "tensorflow" in sys.modules
    yield
    if not loaded:
        assert "tensorflow" not in sys.modules


@pytest.mark.parametrize("flags", [["--image-size", "32", "32"], ["--color", "grayscale"], ["--resize", "crop"],
                                   ["--weights", "none"]])
def test_image_folder_flags_with_fashion_mnist_are_a_usage_error(flags, idx_folder, tmp_path, capsys, no_tensorflow):
    code, _, err = train(capsys, "--model", "edge", "--data", str(idx_folder), "--out", str(tmp_path / "out"), *flags)
    assert code == 2
    assert f"{flags[0]} applies only to an image folder" in one_line(err)
    assert not (tmp_path / "out").exists()


def test_image_folder_flags_without_data_are_a_usage_error(tmp_path, capsys, no_tensorflow):
    code, _, err = train(capsys, "--model", "edge", "--image-size", "32", "32", "--out", str(tmp_path))
    assert code == 2 and "Fashion-MNIST (no --data) is not one" in one_line(err)


def test_a_missing_data_folder_is_one_line(tmp_path, capsys, no_tensorflow):
    code, _, err = train(capsys, "--model", "edge", "--data", str(tmp_path / "nowhere"), "--image-size", "32", "32")
    assert code == 1 and "nowhere: no such folder" in one_line(err)


def test_a_folder_of_one_class_is_one_line(tmp_path, capsys, no_tensorflow):
    make_shapes_folder(tmp_path / "one", classes=1, per_class=3)
    code, _, err = train(capsys, "--model", "edge", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "out"))
    assert code == 1 and "a classifier needs 2 or more" in one_line(err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", [m for m, spec in MODELS.items() if spec.min_size > 28])
def test_a_base_on_fashion_mnist_says_it_needs_32_pixels(model, capsys, no_tensorflow):
    code, _, err = train(capsys, "--model", model)
    assert code == 2 and "at least 32x32 pixels, not 28x28" in one_line(err)


@pytest.mark.parametrize("args, message", [
    (["--model", "mobilenet-v2", "--image-size", "24", "24"], "at least 32x32 pixels, not 24x24"),
    (["--model", "edge", "--weights", "imagenet"], "--weights applies to the pretrainable bases"),
    (["--model", "edge", "--workers", "a:1,b:2", "--worker-index", "0"], "Fashion-MNIST only"),
    (["--model", "edge", "--epochs", "0"], "--epochs must be at least 1"),
])
def test_impossible_folder_settings_are_usage_errors(args, message, shapes, tmp_path, capsys, no_tensorflow):
    code, _, err = train(capsys, *args, "--data", str(shapes[0]), "--out", str(tmp_path))
    assert code == 2 and message in one_line(err)


def test_a_pretrained_base_trains_its_head_first_then_fine_tunes():
    recipe = TrainingRecipe(epochs=5, batch_size=32, learning_rate=1e-3)
    head, tune = training_phases(recipe, pretrained=True)
    assert (head.recipe.epochs, head.frozen_base, head.recipe.learning_rate) == (3, True, 1e-3)
    assert (tune.recipe.epochs, tune.frozen_base) == (2, False)
    assert tune.recipe.learning_rate == pytest.approx(1e-3 * FINE_TUNE_RATE)
    one = TrainingRecipe(epochs=1, batch_size=32, learning_rate=1e-3)
    assert [p.frozen_base for p in training_phases(one, pretrained=True)] == [True]   # --epochs 1: the head only
    assert training_phases(recipe, pretrained=False)[0].recipe == recipe


@pytest.mark.slow   # builds Keras models: TensorFlow
@pytest.mark.parametrize("name", [m for m, spec in MODELS.items() if spec.pretrainable])
@pytest.mark.parametrize("channels", [1, 3])
def test_bases_take_raw_grey_or_rgb_pixels(name, channels):
    model = MODELS[name].build((32, 40, channels), 5)
    assert model.input_shape == (None, 32, 40, channels) and model.output_shape == (None, 5)
    assert ("grey_to_rgb" in [layer.name for layer in model.layers]) == (channels == 1)
    layers = [*model.layers, *model.get_layer("base").layers]
    (scale,) = [layer for layer in layers if type(layer).__name__ == "Rescaling"]   # 0..255 -> -1..1, once
    assert scale.scale == pytest.approx(1 / 127.5) and scale.offset == pytest.approx(-1)
    assert np.all(np.isfinite(model(np.full((2, 32, 40, channels), 255, np.float32), training=False)))


@pytest.mark.slow   # trains: TensorFlow
def test_edge_learns_colour_classes_from_a_folder_and_records_how(tmp_path, capsys):
    import keras

    root = tmp_path / "shapes150"
    names = make_shapes_folder(root, classes=4, per_class=150)   # 3 epochs of 14 steps settle batch norm
    code, out, err = train(capsys, "--model", "edge", "--data", str(root), "--out", str(tmp_path / "art"),
                           "--image-size", "32", "32", "--epochs", "3")
    assert code == 0, err
    folder = tmp_path / "art" / "edge"
    assert out.strip().splitlines()[-1].startswith("edge: test accuracy ") and out.strip().endswith(str(folder))
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["labels"] == names and list(metrics["per_class_accuracy"]) == names
    assert metrics["test_accuracy"] > 0.6   # chance is 0.25; 89-98% over seeds 0-2
    data = metrics["data"]
    assert data == {"kind": "image-folder", "root": str(root.resolve()), "split": data["split"], "image_size": [32, 32],
                    "color": "rgb", "resize": "stretch", "interpolation": "bilinear"}
    assert data["split"]["source"] == "seeded" and data["split"]["seed"] == 0
    assert data["split"]["counts"] == {"train": 420, "val": 60, "test": 120}
    assert (metrics["train_images"], metrics["validation_images"], metrics["test_images"]) == (420, 60, 120)
    assert np.array(metrics["confusion_matrix"]).shape == (4, 4)
    assert metrics["recipe"]["batch_size"] == 32 and metrics["epochs"] == 3
    history = json.loads((folder / "history.json").read_text())
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history) and len(history["loss"]) == 3
    for name in ("training_curves.png", "confusion_matrix.png", "flashcards.png"):
        with Image.open(folder / name) as img:
            assert img.format == "PNG" and img.width > 300
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 4)
    assert not [layer for layer in model.layers if type(layer).__name__.startswith("Random")]  # augmentation: tf.data
    assert [p.name for p in (tmp_path / "art").iterdir()] == ["edge"]   # no staging left


@pytest.mark.slow   # trains: TensorFlow
def test_an_image_tensorflow_cannot_decode_is_one_line_and_writes_nothing(shapes, tmp_path, capsys):
    import shutil

    from folder_data import corrupt_image

    root = Path(shutil.copytree(shapes[0], tmp_path / "shapes"))
    corrupt_image(root / shapes[1][0] / "zz cut off.jpg")
    code, _, err = train(capsys, "--model", "edge", "--data", str(root), "--out", str(tmp_path / "art"),
                         "--image-size", "32", "32", "--epochs", "1")
    assert code == 1 and "TensorFlow cannot decode one of its images (jpeg::Uncompress failed" in one_line(err)
    assert not (tmp_path / "art" / "edge").exists()


@pytest.mark.slow   # trains: TensorFlow
def test_mobilenet_v3_small_trains_from_random_weights(shapes, tmp_path, capsys):
    import keras

    code, _, err = train(capsys, "--model", "mobilenet-v3-small", "--weights", "none", "--data", str(shapes[0]),
                         "--out", str(tmp_path), "--image-size", "32", "32", "--epochs", "1")
    assert code == 0, err
    metrics = json.loads((tmp_path / "mobilenet-v3-small" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["transfer"] == {"weights": "none", "frozen_base_epochs": 0, "fine_tune_learning_rate": None}
    model = keras.saving.load_model(tmp_path / "mobilenet-v3-small" / "model.keras", compile=False)
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 4)
    assert (tmp_path / "mobilenet-v3-small" / "flashcards.png").is_file()


@pytest.mark.slow   # trains: TensorFlow
def test_a_base_starts_from_a_weights_file_and_stays_frozen_in_its_first_epoch(shapes, tmp_path, capsys):
    import keras

    base = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), include_top=False, pooling="avg",
                                               weights=None)
    weights = tmp_path / "base.weights.h5"
    base.save_weights(weights)
    code, _, err = train(capsys, "--model", "mobilenet-v3-small", "--weights", str(weights), "--data", str(shapes[0]),
                         "--out", str(tmp_path / "art"), "--image-size", "32", "32", "--epochs", "1")
    assert code == 0, err
    folder = tmp_path / "art" / "mobilenet-v3-small"
    trained = keras.saving.load_model(folder / "model.keras", compile=False).get_layer("base")
    assert len(trained.get_weights()) == len(base.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(trained.get_weights(), base.get_weights()))
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["transfer"]["weights"] == str(weights.resolve()) and metrics["transfer"]["frozen_base_epochs"] == 1

    code, _, err = train(capsys, "--model", "mobilenet-v2", "--weights", str(weights), "--data", str(shapes[0]),
                         "--out", str(tmp_path / "art"), "--image-size", "32", "32", "--epochs", "1")
    assert code == 1 and "not weights of mobilenet-v2's base" in one_line(err)
    assert not (tmp_path / "art" / "mobilenet-v2").exists()
