"""Every input contract through the runtime and the CLI: 28x28x1 with 10 classes, 32x48x3 with 12
classes named in four scripts, 64x64x3 with 2 classes and probability outputs (the committed tiny
bundles), and a schema-2 bundle, which loads and predicts as it always did."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fashion_edge.runtime import BundleError, Classifier, InvalidImageError
from fashion_edge.runtime.backends import available_backends
from fashion_edge.runtime.bundle import Bundle

from contract_photos import photo_of


def test_every_format_on_every_backend_reproduces_the_golden_outputs(contract_bundle):
    bundle = Bundle.load(contract_bundle)
    golden = bundle.golden()
    assert golden.images.shape[1:] == bundle.manifest.input.shape[1:]
    for fmt in bundle.formats:
        for backend in available_backends(fmt):
            clf = Classifier(bundle, format=fmt, backend=backend)
            got = clf.logits(golden.images)
            assert got.shape == (len(golden.images), len(bundle.labels))
            assert np.abs(got - golden.outputs[fmt].logits).max() <= bundle.entry(fmt).golden_atol, (fmt, backend)


def test_a_frame_a_photo_and_a_batch_give_labels_of_the_bundle(contract_bundle):
    clf = Classifier(contract_bundle)
    golden = clf.bundle.golden()
    frames = golden.images.reshape(-1, *clf.contract.frame_shape)
    predictions = [clf.predict(frame) for frame in frames]
    for p in predictions:
        assert p.label == clf.labels[p.label_id] and len(p.probabilities) == len(clf.labels)
        assert sum(p.probabilities) == pytest.approx(1, abs=1e-6) and p.confidence == max(p.probabilities)
    assert [p.label_id for p in predictions] == list(golden.outputs[clf.format].top1)
    assert clf.predict_batch(frames) == predictions
    assert clf.predict_batch(golden.images) == predictions
    with pytest.raises(InvalidImageError, match="for one image use predict"):
        clf.predict_batch(frames[0])          # one frame is not a batch of its rows
    photos = [photo_of(frame) for frame in golden.images]
    assert all(clf.preprocess(photo).shape == clf.contract.frame_shape for photo in photos)
    same = np.mean([clf.predict(photo).label_id == p.label_id for photo, p in zip(photos, predictions)])
    assert same >= 0.75, same      # an enlarged frame comes back close to itself: mostly the same answer


@pytest.mark.parametrize("fmt", ["tflite-float32", "tflite-int8"])   # the general path, and the 8-bit table
def test_probability_outputs_are_taken_as_they_are_and_logits_get_a_softmax(contract_bundle, fmt):
    bundle = Bundle.load(contract_bundle)
    golden = bundle.golden()
    clf = Classifier(bundle, format=fmt)
    for frame in golden.images:
        outputs = clf.logits(frame[None])[0]          # the file's own outputs, dequantized
        p = clf.predict(frame)
        if bundle.manifest.output.is_logits:
            expected = np.exp(outputs - outputs.max()) / np.exp(outputs - outputs.max()).sum()
        else:
            assert outputs.min() >= -1e-6 and outputs.sum() == pytest.approx(1, abs=0.02)
            expected = np.clip(outputs, 0, None) / np.clip(outputs, 0, None).sum()
        np.testing.assert_allclose(p.probabilities, expected, atol=1e-6)


def test_a_preprocessed_frame_of_another_shape_is_a_clear_error(contract_bundle):
    clf = Classifier(contract_bundle)
    contract = clf.contract
    wrong = [np.zeros((contract.height + 1, contract.width, contract.channels), np.uint8),
             np.zeros((contract.height, contract.width, 4 - contract.channels), np.uint8),
             np.zeros(contract.frame_shape, np.float32), np.zeros(contract.values, np.uint8)]
    for frame in wrong:
        with pytest.raises(InvalidImageError, match=f"preprocessed uint8 {contract.height}x{contract.width}x"
                                                    f"{contract.channels} frame"):
            clf.predict_preprocessed(frame)
    assert clf.predict_preprocessed(clf.bundle.golden().images[0]).label in clf.labels


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fashion_edge.cli", *args], capture_output=True, text=True, timeout=120)


def test_cli_predict_lists_every_class_and_info_states_the_contract(contract_bundle, tmp_path):
    bundle = Bundle.load(contract_bundle)
    photo = tmp_path / "photo.png"
    photo.write_bytes(photo_of(bundle.golden().images[1]))
    done = run("predict", str(photo), "--bundle", str(contract_bundle), "--json", "--probabilities")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["label"] in bundle.labels and len(record["probabilities"]) == len(bundle.labels)
    info = run("info", str(contract_bundle))
    assert info.returncode == 0, info.stderr
    contract, output = bundle.manifest.input, bundle.manifest.output
    assert f"input    {contract.describe()}" in info.stdout and contract.preprocessing.id in info.stdout
    assert f"output   {output.classes} classes, {output.kind.value}" in info.stdout
    assert ", ".join(bundle.labels) in info.stdout


def _edited(bundle, tmp_path, edit) -> Bundle:
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    return copy


def test_a_contract_that_disagrees_with_the_model_file_is_refused(tiny_bundle, tmp_path):
    def three_channels(m):
        m["input"].update(channels=3, colour="rgb", preprocessing={"id": "photo-v1", "parameters": {}})
        m["input"]["tensor"]["shape"] = [1, 28, 28, 3]
        for entry in m["formats"].values():
            entry["input"]["shape"] = [1, 28, 28, 3]
    with pytest.raises(BundleError, match=r"takes \[1, 28, 28, 1\] but manifest.json's input contract is \[1, 28, 28, 3\]"):
        Classifier(_edited(tiny_bundle, tmp_path / "a", three_channels))

    def twelve_labels(m):
        m["labels"] += ["extra one", "extra two"]
        m["output"]["classes"] = 12
        m.pop("class_accuracy")        # consistent with the 12 labels; only the model files disagree
        for entry in m["formats"].values():
            entry["output"]["shape"] = [1, 12]
    with pytest.raises(BundleError, match="gives 10 outputs but manifest.json names 12 classes"):
        Classifier(_edited(tiny_bundle, tmp_path / "b", twelve_labels))


def test_a_schema_2_bundle_loads_and_predicts_as_before(schema2_bundle, tiny_bundle, data):
    old = Classifier(schema2_bundle)
    assert old.bundle.manifest.schema_version == 2 and old.contract.frame_shape == (28, 28)
    golden = old.bundle.golden()
    assert golden.images.shape == (8, 28, 28, 1)
    for fmt in old.bundle.formats:
        clf = Classifier(schema2_bundle, format=fmt)
        recorded = golden.outputs[fmt]
        top1 = np.array([p.label_id for p in clf.predict_batch(data.x_test)])
        assert np.array_equal(top1, recorded.test_top1)     # every test image, as the export measured
        assert np.abs(clf.logits(golden.images) - recorded.logits).max() <= clf.bundle.entry(fmt).golden_atol
