"""A user with only photos: `train --data DIR`, then `export`, `predict` and `serve`, with nothing but the folder.

Training records its folder, split and preprocessing; export reads them back, so the gate measures on
images training never saw and the service answers with the folder's class names.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from folder_data import make_shapes_folder
from serving import InProcess

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "fashion_edge.cli"]


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("folder-model")
    photos = work / "Fotos für das Modell"
    classes = make_shapes_folder(photos, classes=4, per_class=60, seed=2)
    result = run("train", "--data", photos, "--model", "edge", "--image-size", 32, 32, "--epochs", 4,
                 "--out", work / "artifacts", "--name", "shapes")
    assert result.returncode == 0, result.stderr[-2000:]
    model_dir = work / "artifacts" / "shapes"
    result = run("export", model_dir, "--formats", "tflite-float32,tflite-int8,onnx-float32", "--gate", "record")
    assert result.returncode == 0, result.stderr[-2000:]
    return model_dir, photos, classes


def test_export_reuses_trainings_folder_split_and_preprocessing(trained):
    from fashion_edge.runtime.bundle import Bundle

    model_dir, photos, classes = trained
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    manifest = Bundle.load(model_dir / "bundle").manifest
    assert manifest.labels == tuple(classes) == tuple(metrics["labels"])
    assert manifest.input.describe() == "32x32x3 rgb"
    assert manifest.data.name == metrics["data"]["root"]
    assert manifest.data.split == metrics["data"]["split"]          # the same seeded split: the gate is the test part
    assert manifest.data.gate_images == metrics["data"]["split"]["counts"]["test"]
    assert manifest.input.preprocessing.parameters["resize"].value == metrics["data"]["resize"]
    assert manifest.loader_check is not None and manifest.loader_check.images == manifest.data.gate_images


def test_predict_and_serve_answer_with_the_folders_classes(trained):
    model_dir, photos, classes = trained
    bundle = model_dir / "bundle"
    photo = sorted((photos / classes[1]).iterdir())[0]
    result = run("predict", "--bundle", bundle, "--json", "--probabilities", photo)
    assert result.returncode == 0, result.stderr
    predicted = json.loads(result.stdout)
    assert predicted["label"] in classes and len(predicted["probabilities"]) == len(classes)
    server = InProcess(["--bundle", str(bundle), "--workers", "1"])
    try:
        server.wait_healthy()
        info = server.request("GET", "/v1/info").json()
        assert info["labels"] == classes
        reply = server.classify(photo.read_bytes())
        assert reply.status == 200, reply.body
        assert reply.json()["label"] == predicted["label"]
    finally:
        server.stop()


def test_the_report_shows_the_folder_model_its_split_and_the_loader_check(trained):
    model_dir, photos, classes = trained
    result = run("report", "--artifacts", model_dir.parent)
    assert result.returncode == 0, result.stderr
    report = (model_dir.parent / "REPORT.md").read_text(encoding="utf-8")
    assert f"| shapes | image folder `{photos.name}`, 32x32 rgb |" in report
    assert "split by seed 0" in report and "Training against deployment preprocessing" in report
    assert "differ / allowed" in report
