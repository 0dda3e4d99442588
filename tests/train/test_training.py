"""Real (short) training runs: they learn, they are reproducible, they write everything atomically."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.errors import DataError
from fashion_edge.train.artifacts import ArtifactError
from fashion_edge.train.trainer import TrainConfig, train

pytestmark = pytest.mark.slow


def test_linear_learns_well_above_chance_on_real_test_images(trained_linear):
    assert trained_linear.test_accuracy > 0.80  # chance is 0.10; the quick recipe reaches ~84%
    metrics = json.loads((trained_linear.model_dir / "metrics.json").read_text())
    assert metrics["test_images"] == 10000 and metrics["params"] == 7850
    assert len(metrics["per_class_accuracy"]) == 10
    assert np.array(metrics["confusion_matrix"]).sum() == 10000
    assert metrics["data_sha256"]["t10k-labels-idx1-ubyte"].startswith("0402a96d")
    assert {"tensorflow", "keras", "numpy", "python"} <= set(metrics["versions"])


def test_training_writes_model_history_and_pictures(trained_linear):
    d = trained_linear.model_dir
    assert (d / "model.keras").stat().st_size > 10_000
    history = json.loads((d / "history.json").read_text())
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    for name in ("training_curves.png", "confusion_matrix.png", "flashcards.png"):
        with Image.open(d / name) as img:
            assert img.format == "PNG" and img.width > 300
    assert [p.name for p in d.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_same_seed_gives_identical_weights(tmp_path):
    import keras

    runs = [train(TrainConfig(model="linear", out=tmp_path / str(i), epochs=1, limit=3000, verbose=0))
            for i in range(2)]
    w = [keras.saving.load_model(r.model_dir / "model.keras", compile=False).get_weights() for r in runs]
    assert all(np.array_equal(a, b) for a, b in zip(w[0], w[1]))


def test_edge_cnn_learns_in_a_short_run(trained_edge):
    assert trained_edge.test_accuracy > 0.85  # the quick recipe; chance is 0.10
    assert trained_edge.params <= 100_000
    metrics = json.loads((trained_edge.model_dir / "metrics.json").read_text())
    assert metrics["macs_per_image"] <= 6_000_000 and metrics["recipe"]["quick"] is True


def test_failed_run_leaves_previous_artifacts_intact(trained_linear, tmp_path):
    before = (trained_linear.model_dir / "metrics.json").read_text()
    with pytest.raises(DataError):
        train(TrainConfig(model="linear", out=trained_linear.model_dir.parent, epochs=1,
                          data_dir=tmp_path, verbose=0))
    assert (trained_linear.model_dir / "metrics.json").read_text() == before


def test_unwritable_out_is_a_clear_error_and_writes_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ArtifactError, match="cannot write"):
        train(TrainConfig(model="linear", out=blocker / "artifacts", epochs=1, limit=100, verbose=0))
