"""`fashion-edge predict` and `info` as scripts call them."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from PIL import Image



def run(*args):
    return subprocess.run([sys.executable, "-m", "fashion_edge.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def images(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i in range(3):
        path = folder / f"test{i}.png"
        Image.fromarray(data.x_test[i]).save(path)
        paths.append(str(path))
    bad = folder / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return paths, str(bad)


def test_predict_json_prints_one_object_per_image(tiny_bundle, images):
    paths, _ = images
    result = run("predict", *paths, "--bundle", str(tiny_bundle), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == paths
    for r in records:
        assert {"path", "label_id", "label", "confidence", "format", "backend"} <= set(r)
        assert r["format"] == "tflite-int8" and r["backend"] == "litert"


def test_one_bad_image_is_reported_and_the_others_still_predicted(tiny_bundle, images):
    paths, bad = images
    result = run("predict", paths[0], bad, paths[1], "--bundle", str(tiny_bundle), "--json")
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in records] == [False, True, False]
    assert records[1]["path"] == bad


def test_plain_output_and_one_line_errors(tiny_bundle, images):
    paths, bad = images
    result = run("predict", paths[0], bad, "--bundle", str(tiny_bundle), "--format", "onnx-int8")
    assert result.returncode == 1
    assert result.stdout.startswith(paths[0] + ": ")
    assert result.stderr.count("\n") == 1 and "broken.jpg" in result.stderr


def test_missing_bundle_is_one_line(tmp_path, images):
    result = run("predict", images[0][0], "--bundle", str(tmp_path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "manifest.json" in result.stderr


def test_info_lists_formats_and_backends(tiny_bundle):
    result = run("info", str(tiny_bundle))
    assert result.returncode == 0, result.stderr
    for name in ("tflite-int8", "onnx-float32", "ort-int8", "litert", "onnxruntime", "fashion-mnist-v1"):
        assert name in result.stdout
    accelerators = result.stdout.split("accelerators", 1)[1]
    assert "tflite-int8     no shape ops; TFLite GPU delegate compatible" in accelerators
    assert "onnx-float32    no shape ops; NNAPI YES (1 partition(s)," in accelerators
    calibration = result.stdout.split("int8 calibration", 1)[1]
    assert "tflite-int8" in calibration and "onnx-int8" in calibration and "validation" in calibration


def test_info_names_the_field_of_a_hand_edited_manifest_in_one_line(tiny_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["formats"]["tflite-int8"]["device"]  # optional: an older export without accelerator checks
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run("info", str(bundle))
    assert result.returncode == 0, result.stderr
    assert "tflite-int8     not recorded" in result.stdout
    manifest["formats"]["onnx-int8"]["device"] = {"accelerators": "not a dict"}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = run("info", str(bundle))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "formats.onnx-int8.device" in result.stderr and "Traceback" not in result.stderr
