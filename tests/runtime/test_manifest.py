"""The typed manifest: a well-formed one reads back equal; every malformed one is a BundleError that
names the field, never a KeyError/TypeError from deep inside. No trained model needed."""
from __future__ import annotations

import copy
import json

import pytest

from fashion_edge.runtime import jsonio
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.formats import FORMATS, PREPROCESSING_ID
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.manifest import (Accelerator, Asset, Calibration, CalibrationChoice, DeviceReport, FormatEntry,
                                           GpuDelegate, InputContract, Manifest, OrtBuild, Parity, Recipe,
                                           RecipeScore, SizeCheck, TensorSpec)


def sample_manifest() -> Manifest:
    def entry(name: str) -> FormatEntry:
        fmt = FORMATS[name]
        quantized_io = name == "tflite-int8"
        dtype = "uint8" if quantized_io else "float32"
        device = (DeviceReport(("CONV_2D",), (), "analyzer", gpu_delegate=GpuDelegate(True, (), "analyzer"))
                  if fmt.family == "tflite" else
                  DeviceReport(("Conv",), (), "checker", accelerators={"nnapi": Accelerator(1, 9, 9, (), "YES")}))
        return FormatEntry(name, fmt.filename, 1000, "a" * 64,
                           TensorSpec("pixels", dtype, (1, 28, 28, 1), 1.0 if quantized_io else 0.0, 0),
                           TensorSpec("logits", dtype, (1, 10), 0.1 if quantized_io else 0.0, 128 if quantized_io else 0),
                           "litert", Parity(10000, 0.93, 0.93, 0.999, 0.5, fmt.gate), 0.2, device,
                           "minmax-1k" if fmt.calibrated else None,
                           OrtBuild("Runtime", "ai.onnx;21;Conv\n") if fmt.family == "ort" else None)

    recipe = Recipe("minmax-1k")
    choice = CalibrationChoice(recipe, 6000, (RecipeScore("minmax-1k", 0.998, 0.93),))
    split = CalibrationChoice(Recipe("minmax-1k", split_stem=True), 6000, (RecipeScore("minmax-1k", 0.999, 0.93),))
    return Manifest("edge", LABELS, InputContract((1, 28, 28, 1), "NHWC", (0, 255), "fixed", PREPROCESSING_ID),
                    0.93, 10000, 5_000_000, Calibration("training set", 0, 0, {"tflite-int8": choice, "tflite-int16x8": split}),
                    {name: entry(name) for name in FORMATS}, (SizeCheck("tflite-int8", "tflite-float32", 0.27, 0.3, True),),
                    {"python": "3.11"}, "2026-11-29T00:00:00+00:00",
                    (Asset("labels.txt", 10, "b" * 64), Asset("preprocessing/a.jpg", 10, "c" * 64)))


def test_a_manifest_reads_back_equal_to_what_was_written():
    manifest = sample_manifest()
    raw = json.loads(json.dumps(manifest.to_json()))
    assert Manifest.from_json(raw) == manifest


def _paths(node, prefix=()):
    """Every (path, value) in a JSON tree, so each field can be deleted and retyped in turn."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + (key,), value
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):
            yield prefix + (i,), value
            yield from _paths(value, prefix + (i,))


def _set(tree, path, value=None, delete=False):
    node = tree
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


ABSURD = [None, True, -1, 1e308, "", "x" * 10_000, [], {}, [[[]]], {"a": {"b": {}}}, float("nan")]


def _mutations():
    base = sample_manifest().to_json()
    for path, value in _paths(base):
        deleted = copy.deepcopy(base)
        _set(deleted, path, delete=True)
        yield f"delete {path}", deleted
        for absurd in ABSURD:
            if type(absurd) is type(value) and absurd == value:
                continue
            changed = copy.deepcopy(base)
            _set(changed, path, absurd)
            yield f"{path} = {str(absurd)[:20]}", changed


def test_every_field_deleted_or_retyped_is_a_bundle_error_or_a_valid_manifest():
    """The fuzz behind the structure issue's count: no case may raise anything but BundleError."""
    cases = untyped = 0
    for what, raw in _mutations():
        cases += 1
        try:
            Manifest.from_json(json.loads(json.dumps(raw, allow_nan=True), parse_constant=lambda c: float(c)))
        except BundleError:
            pass
        except Exception as exc:  # noqa: BLE001 - what the test counts
            untyped += 1
            pytest.fail(f"{what}: {type(exc).__name__}: {exc}")
    assert cases > 1000 and untyped == 0


@pytest.mark.parametrize("mutate, field", [
    (lambda m: m.pop("schema_version"), "schema_version is missing"),
    (lambda m: m.update(schema_version=1), "schema_version is 1"),
    (lambda m: m.update(labels=7), "labels must be a list of strings"),
    (lambda m: m.update(labels=m["labels"][:9]), "labels has 9 names"),
    (lambda m: m["formats"]["tflite-int8"]["input"].pop("scale"), "formats.tflite-int8.input.scale is missing"),
    (lambda m: m["formats"]["onnx-int8"].update(file="../../etc/passwd"), "formats.onnx-int8.file must be a plain"),
    (lambda m: m["formats"]["onnx-int8"].update(file="/etc/passwd"), "formats.onnx-int8.file must be a plain"),
    (lambda m: m["formats"]["onnx-int8"].update(sha256="0" * 63), "formats.onnx-int8.sha256"),
    (lambda m: m["formats"].update({"tflite-int4": m["formats"]["tflite-int8"]}), "unknown format 'tflite-int4'"),
    (lambda m: m["input"].update(preprocessing="imagenet"), "input.preprocessing is 'imagenet'"),
    (lambda m: m["formats"]["ort-int8"]["parity"]["thresholds"].update(min_agreement="high"),
     "formats.ort-int8.parity.thresholds.min_agreement must be a finite number"),
])
def test_the_error_names_the_field(mutate, field):
    raw = sample_manifest().to_json()
    mutate(raw)
    with pytest.raises(BundleError, match=field.replace("(", r"\(").replace(".", r"\.")):
        Manifest.from_json(raw)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": NaN}', "not valid JSON"),
    ('{"schema_version": 2', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    ("[]", "must be an object"),
])
def test_unparseable_json_is_a_bundle_error(tmp_path, text, message):
    (tmp_path / "manifest.json").write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(BundleError, match=message):
        Bundle.load(tmp_path)


def test_an_oversized_manifest_is_refused_before_it_is_parsed(tmp_path):
    (tmp_path / "manifest.json").write_text(" " * (5 * 1024 * 1024) + "{}")
    with pytest.raises(BundleError, match="more than a bundle's manifest.json can be"):
        Bundle.load(tmp_path)


def test_loads_refuses_nan_and_infinity():
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(BundleError):
            jsonio.loads(f"[{constant}]", "x")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b/c.jpg", ".hidden", "preprocessing/../x", "", "a\\b"])
def test_asset_names_stay_inside_the_bundle(name):
    raw = sample_manifest().to_json()
    raw["assets"][0]["file"] = name
    with pytest.raises(BundleError, match=r"assets\[0\]\.file must be a plain file name"):
        Manifest.from_json(raw)
