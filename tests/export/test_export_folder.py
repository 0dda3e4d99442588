"""`fashion-edge export MODEL.keras --data DIR`: a user's own Keras classifier and a folder of their photos.

The folder holds coloured shapes whose colour decides the class (tests/folder_data.py), so a channel
swap or a grey conversion anywhere between the folder and the device would cost accuracy at once.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from folder_data import DEFAULT_NAMES_12, make_shapes_folder

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "fashion_edge.cli"]
SIZE = (32, 32)


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=900)


def last_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("fashion-edge")][-1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("photos") / "my photos"
    classes = make_shapes_folder(root, classes=12, per_class=40, names=DEFAULT_NAMES_12, seed=1)
    return root, classes


def _frames(root: Path, channels: int = 3):
    """The folder as the bundle's recipe reads it (photo-v1, stretch, bilinear): what the model trains on."""
    from fashion_edge.runtime.recipes import contract_for
    from fashion_edge.train.folder import image_set, scan_folder

    images, _ = image_set(scan_folder(root), contract_for(*SIZE, channels))
    return images


def _residual_model(classes: int):
    """Functional: Rescaling inside, a residual block, a depthwise-separable convolution, global pooling, Dropout."""
    import keras

    inputs = keras.Input((*SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(16, 3, padding="same")(x)
    y = keras.layers.BatchNormalization()(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.SeparableConv2D(24, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.1)(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x), name="residual")


def _fit(model, x: np.ndarray, y: np.ndarray, epochs: int = 25) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)


@pytest.fixture(scope="module")
def residual_bundle(folder, tmp_path_factory) -> Path:
    root, classes = folder
    images = _frames(root)
    model = _residual_model(len(classes))
    _fit(model, images.train.astype(np.float32), images.train_labels)
    work = tmp_path_factory.mktemp("residual")
    model.save(work / "shapes model.keras")
    out = work / "bündle"
    result = run("export", work / "shapes model.keras", "--data", root, "--out", out, "--gate", "record",
                 "--formats", "tflite-float32,tflite-int8,onnx-float32,onnx-int8")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"wrote {out}" in result.stdout
    return out


def test_a_functional_model_exports_with_the_folders_classes_and_split(residual_bundle, folder):
    from fashion_edge.runtime.bundle import Bundle

    root, classes = folder
    manifest = Bundle.load(residual_bundle).manifest
    assert manifest.model == "shapes model"
    assert manifest.labels == tuple(classes) and len(classes) == 12
    assert manifest.input.describe() == "32x32x3 rgb" and manifest.input.preprocessing.id == "photo-v1"
    data = manifest.data
    assert data.kind == "image-folder" and data.name == str(root)
    assert data.split["source"] == "seeded" and data.split["counts"]["test"] == data.gate_images
    assert data.calibration_images + data.gate_images == 12 * 40
    assert manifest.keras_test_images == data.gate_images
    assert manifest.keras_test_accuracy > 0.9     # colour decides the class: a channel swap would not get here


def test_the_gate_is_stated_in_images_with_an_interval(residual_bundle):
    from fashion_edge.runtime.bundle import Bundle

    manifest = Bundle.load(residual_bundle).manifest
    raw = json.loads((residual_bundle / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest.formats.items():
        parity = entry.parity
        n = manifest.data.gate_images
        assert parity.images == n and parity.allowed_flips == int((1 - parity.thresholds.min_agreement) * n + 1e-9)
        lo, hi = raw["formats"][name]["parity"]["agreement_wilson95"]
        assert lo <= parity.agreement <= hi and hi - lo > 0.005     # a few hundred images cannot pin 99.5%
        assert raw["formats"][name]["parity"]["flips"] == parity.flips
        assert parity.passed == (parity.flips <= parity.allowed_flips and not parity.failures)
    assert manifest.formats["tflite-float32"].parity.flips == 0


def test_keras_loader_and_the_recipe_are_compared_on_the_held_out_images(residual_bundle):
    from fashion_edge.runtime.bundle import Bundle

    manifest = Bundle.load(residual_bundle).manifest
    check = manifest.loader_check
    assert check is not None and check.images == manifest.data.gate_images
    assert check.recipe_accuracy == pytest.approx(manifest.keras_test_accuracy)
    assert check.loader_accuracy > 0.8 and check.agreement > 0.8     # flat-coloured shapes: both read the colour
    assert "bilinear" in check.loader and "stretch" in check.loader


def test_the_exported_bundle_predicts_the_folders_photos(residual_bundle, folder):
    root, classes = folder
    photos = sorted((root / classes[3]).glob("*.*"))[:3]
    result = run("predict", "--bundle", residual_bundle, "--format", "tflite-int8", "--json", *photos)
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line)["label"] for line in result.stdout.splitlines()]
    assert answers.count(classes[3]) >= 2


def test_verify_re_reads_the_folders_held_out_images(residual_bundle):
    result = run("verify", residual_bundle)
    assert result.returncode == 0, result.stderr
    assert "formats verified" in result.stdout


def test_mediapipe_runs_the_folder_models_tasks_ready_files_on_its_held_out_photos(residual_bundle):
    """`verify --mediapipe`: MediaPipe's Python ImageClassifier on the variants (a logits model: softmax
    appended), on the held-out frames (gated: >= 99% the runtime's class) and on the photos at their own
    size, which MediaPipe resizes itself (measured and printed, with both sides' accuracy)."""
    result = run("verify", residual_bundle, "--mediapipe")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if "MediaPipe's ImageClassifier" in line]
    assert sorted(line.split(":")[0].strip() for line in lines) == ["tasks-float32.tflite", "tasks-int8.tflite"]
    for line in lines:
        assert "labels match" in line and "photos at their own size" in line and "accuracy" in line
        # one of the 96 held-out photos is the margin for another CPU's kernels on a near-tie
        same = float(line.split("same class as LiteRT on this file ")[1].split("%")[0])
        assert same >= 100 * 95 / 96, line


def test_normalised_pixels_fold_into_the_graph(folder, tmp_path):
    """A model trained on (pixel - 127.5) / 127.5 with no scaling inside: --mean/--std put it in the graph,
    and the int8 file still takes plain uint8 pixels."""
    import keras

    from fashion_edge.export import evaluate
    from fashion_edge.runtime.bundle import Bundle

    root, classes = folder
    images = _frames(root)
    model = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
                              keras.layers.Conv2D(24, 3, strides=2, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(len(classes))])
    _fit(model, (images.train.astype(np.float32) - 127.5) / 127.5, images.train_labels)
    x = images.test.astype(np.float32)
    on_normalised, on_raw = model.predict((x - 127.5) / 127.5, verbose=0), model.predict(x, verbose=0)
    model.save(tmp_path / "normalised.keras")
    result = run("export", tmp_path / "normalised.keras", "--data", root, "--mean", "127.5", "--std", "127.5",
                 "--formats", "tflite-float32,tflite-int8", "--gate", "record")
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = Bundle.load(tmp_path / "normalised-bundle").manifest
    assert manifest.keras_test_accuracy > 0.9
    float32 = (tmp_path / "normalised-bundle" / manifest.formats["tflite-float32"].file).read_bytes()
    device = evaluate.logits("litert", float32, images.test)
    assert np.abs(device - on_normalised).max() < 1e-3 < np.abs(device - on_raw).max() / 100
    assert dict(manifest.data.normalisation)["mean"] == [127.5, 127.5, 127.5]
    int8 = manifest.formats["tflite-int8"]
    assert int8.input.dtype == "uint8" and tuple(int8.input.shape) == (1, *SIZE, 3)
    assert manifest.formats["tflite-float32"].parity.max_abs_logit_diff < 1e-3


def _save(model, path: Path) -> Path:
    model.save(path)
    return path


def test_models_that_are_not_image_classifiers_are_one_line(folder, tmp_path):
    import keras

    root, classes = folder
    a, b = keras.Input((*SIZE, 3)), keras.Input((*SIZE, 3))
    two_inputs = keras.Model([a, b], keras.layers.Dense(12)(keras.layers.Flatten()(keras.layers.Add()([a, b]))))
    vector = keras.Sequential([keras.Input((10,)), keras.layers.Dense(12)])
    wrong_width = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    rank3 = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Dense(12)])
    (tmp_path / "notes.keras").write_text("not a model")
    cases = {_save(two_inputs, tmp_path / "two.keras"): "2 inputs",
             _save(vector, tmp_path / "vector.keras"): "export takes images",
             _save(wrong_width, tmp_path / "five.keras"): "scores 5 classes",
             _save(rank3, tmp_path / "rank3.keras"): "one score per class",
             tmp_path / "notes.keras": "not a loadable Keras model",
             tmp_path / "model.h5": "not a Keras model file"}
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n")
    for path, message in cases.items():
        result = run("export", path, "--data", root, "--out", tmp_path / "out")
        assert result.returncode == 1, (path, result.stderr[-500:])
        assert message in last_line(result.stderr), (path, result.stderr[-500:])
        assert not (tmp_path / "out").exists()


def test_bad_options_are_usage_errors(folder, tmp_path):
    import keras

    root, _ = folder
    model = _save(keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(12)]),
                  tmp_path / "m.keras")
    for args, message in ((["--color", "grayscale"], "--color grayscale needs a model with 1"),
                          (["--mean", "1,2", "--std", "1"], "--mean takes 1 or 3"),
                          (["--mean", "1"], "--mean and --std go together"),
                          (["--mean", "0", "--std", "0"], "--std values must be above 0")):
        result = run("export", model, "--data", root, "--out", tmp_path / "out", *args)
        assert result.returncode == 2, (args, result.stderr[-500:])
        assert message in last_line(result.stderr)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    result = run("export", model, "--data", root, "--labels", labels, "--out", tmp_path / "out")
    assert result.returncode == 1 and "2 labels for a model with 12 outputs" in last_line(result.stderr)
    assert not (tmp_path / "out").exists()
