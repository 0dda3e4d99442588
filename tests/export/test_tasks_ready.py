"""MediaPipe Tasks-ready TFLite files: metadata, verdicts, variants, and MediaPipe's own ImageClassifier.

The committed tiny bundles cover the three cases: tiny-stripes2 (RGB, probabilities: its own files are
Tasks-ready), tiny-shapes12 (RGB, logits, non-ASCII labels: variants with a softmax) and tiny-cnn (grey,
fashion-mnist-v1: variants with RGB-to-grey in the graph, checked on dataset-style frames).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import UsageError

DATA = Path(__file__).resolve().parents[1] / "data"


def _bundle(name: str) -> Bundle:
    return Bundle.load(DATA / name / "bundle")


def test_the_manifest_says_which_files_mediapipe_loads_and_why_not():
    stripes = _bundle("tiny-stripes2").manifest
    assert stripes.tasks.written and not stripes.tasks.files
    assert all(v.ready and not v.reasons for v in stripes.tasks.formats.values())
    assert set(stripes.tasks_ready_files()) == {"float32.tflite", "int8.tflite"}
    assert "crop" in stripes.tasks.recipe and "stretches" in stripes.tasks.recipe

    shapes = _bundle("tiny-shapes12").manifest
    assert {f.file: f.changes for f in shapes.tasks.files} == {
        "tasks-int8.tflite": ("uint8 RGB input", "softmax appended"),
        "tasks-float32.tflite": ("uint8 RGB input", "softmax appended")}
    verdict = shapes.tasks.formats["tflite-int8"]
    assert not verdict.ready and verdict.variant == "tasks-int8.tflite"
    assert any("logits" in r for r in verdict.reasons)

    cnn = _bundle("tiny-cnn").manifest
    assert all(any("grey input" in r for r in v.reasons) for v in cnn.tasks.formats.values())
    assert all("RGB to grey in the graph" in f.changes for f in cnn.tasks.files)
    assert "dataset-style frames" in cnn.tasks.recipe and "not for shop photos" in cnn.tasks.recipe
    for manifest in (shapes, cnn):
        for f in manifest.tasks.files:     # gated against Keras like every file, with the base format's gate
            assert f.images == manifest.keras_test_images and 0.9 < f.agreement <= 1.0
    assert cnn.tasks.files[1].based_on == "tflite-float32" and cnn.tasks.files[1].passed


def test_variants_are_served_and_hashed_like_every_bundle_file():
    bundle = _bundle("tiny-shapes12")
    files = bundle.manifest.files()
    for variant in bundle.manifest.tasks.files:
        assert files[variant.file] == variant.sha256
        assert bundle.read_file(variant.file)[:8]     # hash-checked read


def test_onnx_and_ort_files_carry_labels_and_the_contract():
    from fashion_edge.export.onnx_metadata import read_metadata

    for name in ("tiny-cnn", "tiny-shapes12"):
        bundle = _bundle(name)
        for fmt, entry in bundle.formats.items():
            if not entry.file.endswith((".onnx", ".ort")):
                continue
            props = read_metadata(bundle.read_model(fmt))
            assert json.loads(props["labels"]) == list(bundle.labels), (name, fmt)
            assert json.loads(props["input_contract"]) == bundle.manifest.input.to_json()
            assert props["preprocessing"] == bundle.manifest.input.preprocessing.id
            assert props["producer"] == "fashion-edge"


def test_label_names_that_would_break_the_label_file_are_refused():
    from fashion_edge.export.tflite_metadata import check_labels

    check_labels(("círculo rojo", "T-shirt/top", "三角形"))
    for bad in (("a", "b\nc"), ("a", ""), ("a", "  "), ("a", "b\x00"), ("a", "tab\there")):
        with pytest.raises(UsageError, match="label file"):
            check_labels(bad)


@pytest.mark.slow
def test_metadata_reads_back_as_mediapipe_reads_it():
    from fashion_edge.export.tflite_metadata import read

    for name in ("tiny-stripes2", "tiny-shapes12", "tiny-cnn"):
        bundle = _bundle(name)
        for file in bundle.manifest.tasks_ready_files():
            found = read(bundle.read_file(file))
            meta = found["metadata"]
            assert found["labels"] == bundle.labels, (name, file)
            about = bundle.manifest.about
            assert (meta["name"], meta["version"], meta["author"], meta["license"]) == (
                bundle.model, about.version, about.author, about.licence)
            image = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]
            assert image["content"]["content_properties"]["color_space"] == "RGB"
            units = image["process_units"][0]["options"]
            assert units == {"mean": [0.0], "std": [1.0]}
            assert image["stats"] == {"max": [255.0], "min": [0.0]}


def _frames(name: str, n: int = 200) -> np.ndarray:
    import make_bundles

    return np.ascontiguousarray(make_bundles.BY_NAME[name].data().test[:n])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny-stripes2", "tiny-shapes12", "tiny-cnn"])
def test_mediapipe_python_image_classifier_agrees_with_the_runtime(name):
    """MediaPipe's own ImageClassifier on the runtime's frames (tiny-cnn: dataset-style Fashion-MNIST frames,
    as RGB) gives LiteRT's class on the same file, the runtime's class with the float files, and the bundle's
    labels, non-ASCII names included. Margins: MediaPipe ships its own TFLite kernels, which may round a
    near-tie the other way on another CPU (measured here: 200 of 200 frames alike on every file), so one
    frame in 200; an int8 variant against the int8 format file is two int8 files, each about 1% off Keras
    on these tiny models (measured: 99.0-99.5% alike), so 97%."""
    from fashion_edge.export.mediapipe_check import check

    found = check(DATA / name / "bundle", _frames(name))
    assert {a.file for a in found} == set(_bundle(name).manifest.tasks_ready_files())
    for a in found:
        assert a.labels_match and a.passed and a.same_file >= 0.995, a.describe()
        assert a.frames >= (0.995 if "float32" in a.runtime_format else 0.97), a.describe()
        if "float32" in a.runtime_format:
            assert a.max_score_diff < 1e-3, a.describe()      # the same float graph plus a softmax


@pytest.mark.slow
def test_without_the_metadata_extra_export_completes_and_says_so(tmp_path, monkeypatch):
    import make_bundles

    from fashion_edge.export import exporter, tflite_metadata

    def missing():
        raise ImportError("No module named 'mediapipe'", name="mediapipe")

    monkeypatch.setattr(tflite_metadata, "_writer", missing)
    lines: list[str] = []
    config = exporter.ExportConfig(model_dir=DATA / "tiny-stripes2" / "model.keras", out=tmp_path / "b",
                                   formats=("tflite-float32",), enforce_gate=False, preprocessing_vectors=False,
                                   dataset=make_bundles.BY_NAME["tiny-stripes2"].data())
    config = replace(config, preprocessing=_bundle("tiny-stripes2").manifest.input.preprocessing)
    manifest = exporter.export(config, log=lines.append).manifest
    assert manifest.tasks.metadata == "skipped" and "fashion-edge[metadata]" in manifest.tasks.note
    assert not manifest.tasks_ready_files() and not manifest.tasks.files
    assert any("fashion-edge[metadata]" in line for line in lines)
    committed = _bundle("tiny-stripes2").read_model("tflite-float32")
    assert len((tmp_path / "b" / "float32.tflite").read_bytes()) < len(committed)   # no metadata inside


@pytest.mark.slow
def test_a_label_that_would_break_the_label_file_stops_export_before_writing(tmp_path):
    import make_bundles

    from fashion_edge.export import exporter

    data = make_bundles.BY_NAME["tiny-stripes2"].data()
    data = replace(data, classes=("stripes", "bars\nwide"))
    config = exporter.ExportConfig(model_dir=DATA / "tiny-stripes2" / "model.keras", out=tmp_path / "b",
                                   formats=("tflite-float32",), preprocessing_vectors=False, dataset=data,
                                   preprocessing=_bundle("tiny-stripes2").manifest.input.preprocessing)
    with pytest.raises(UsageError, match="label file"):
        exporter.export(config, log=lambda _: None)
    assert not (tmp_path / "b").exists()


def test_the_report_says_what_mediapipe_loads():
    from fashion_edge.benchmarks.report import tasks_lines
    from fashion_edge.runtime.tasks_record import Tasks

    manifest = _bundle("tiny-shapes12").manifest
    text = "\n".join(tasks_lines(manifest))
    assert "MediaPipe Tasks loads `tasks-float32.tflite`, `tasks-int8.tflite` (TFLite metadata inside)" in text
    assert "| tasks-int8.tflite | tflite-int8 |" in text and "softmax appended | FAIL |" in text
    skipped = replace(manifest, tasks=Tasks("skipped", "TFLite metadata skipped: pip install "
                                                       "'fashion-edge[metadata]'", "r", {}))
    assert tasks_lines(skipped) == ["", "MediaPipe Tasks: TFLite metadata skipped: pip install "
                                        "'fashion-edge[metadata]'."]
