"""The typed manifest: a well-formed one reads back equal; every malformed one is a BundleError that
names the field, never a KeyError/TypeError from deep inside; schema-2 manifests still read. No
trained model needed."""
from __future__ import annotations

import copy
import json
import re

import pytest

from fashion_edge.runtime import jsonio
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.contract import OutputContract, OutputKind
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.manifest import (Accelerator, Asset, Calibration, CalibrationChoice, DeviceReport, FormatEntry,
                                           GpuDelegate, Manifest, OrtBuild, Parity, Recipe, RecipeScore, SizeCheck,
                                           TensorSpec)
from fashion_edge.runtime.recipes import PHOTO, contract_for, preprocessing


def sample_manifest(shape: tuple[int, int, int] = (28, 28, 1), labels: tuple[str, ...] = LABELS,
                    kind: OutputKind = OutputKind.LOGITS, prep=None) -> Manifest:
    def entry(name: str) -> FormatEntry:
        fmt = FORMATS[name]
        quantized_io = name == "tflite-int8"
        dtype = "uint8" if quantized_io else "float32"
        device = (DeviceReport(("CONV_2D",), (), "analyzer", gpu_delegate=GpuDelegate(True, (), "analyzer"))
                  if fmt.family == "tflite" else
                  DeviceReport(("Conv",), (), "checker", accelerators={"nnapi": Accelerator(1, 9, 9, (), "YES")}))
        return FormatEntry(name, fmt.filename, 1000, "a" * 64,
                           TensorSpec("pixels", dtype, (1, *shape), 1.0 if quantized_io else 0.0, 0),
                           TensorSpec("logits", dtype, (1, len(labels)), 0.1 if quantized_io else 0.0,
                                      128 if quantized_io else 0),
                           "litert", Parity(10000, 0.93, 0.93, 0.999, 0.5, fmt.gate), 0.2, device,
                           "minmax-1k" if fmt.calibrated else None,
                           OrtBuild("Runtime", "ai.onnx;21;Conv\n") if fmt.family == "ort" else None)

    recipe = Recipe("minmax-1k")
    choice = CalibrationChoice(recipe, 6000, (RecipeScore("minmax-1k", 0.998, 0.93),))
    split = CalibrationChoice(Recipe("minmax-1k", split_stem=True), 6000, (RecipeScore("minmax-1k", 0.999, 0.93),))
    return Manifest("edge", labels, contract_for(*shape, prep), OutputContract(len(labels), kind), 0.93, 10000, 5_000_000, Calibration("training set", 0, 0, {"tflite-int8": choice, "tflite-int16x8": split}),
                    {name: entry(name) for name in FORMATS}, (SizeCheck("tflite-int8", "tflite-float32", 0.27, 0.3, True),),
                    {"python": "3.11"}, "2026-11-29T00:00:00+00:00",
                    (Asset("labels.txt", 10, "b" * 64), Asset("preprocessing/a.jpg", 10, "c" * 64)))


SHAPES12 = tuple(f"{s} {c}" for s in ("círculo", "квадрат", "三角形", "cruz") for c in ("rojo", "grün", "синий"))


@pytest.mark.parametrize("manifest", [
    sample_manifest(),
    sample_manifest((32, 48, 3), SHAPES12),
    sample_manifest((64, 64, 3), ("horizontal stripes", "polka dots"), OutputKind.PROBABILITIES,
                    preprocessing(PHOTO, resize="crop", interpolation="bicubic", background=(0, 0, 0))),
    sample_manifest((40, 30, 1), ("a", "b", "c"), prep=preprocessing(PHOTO, resize="pad")),
], ids=["28x28x1", "32x48x3-12-classes", "64x64x3-probabilities", "grey-photo"])
def test_a_manifest_reads_back_equal_to_what_was_written(manifest):
    raw = json.loads(json.dumps(manifest.to_json(), ensure_ascii=False))
    assert raw["schema_version"] == 3 and Manifest.from_json(raw) == manifest


def test_a_schema_2_manifest_reads_as_the_contract_it_always_meant():
    raw = sample_manifest().to_json()
    raw.update(schema_version=2, input={"shape": [1, 28, 28, 1], "layout": "NHWC", "pixel_range": [0, 255],
                                        "batch": "fixed at 1", "preprocessing": "fashion-mnist-v1"})
    raw.pop("output")
    manifest = Manifest.from_json(raw)
    assert manifest == sample_manifest().__class__(**{**sample_manifest().__dict__, "schema_version": 2})
    assert manifest.to_json()["schema_version"] == 3 and manifest.output.kind is OutputKind.LOGITS


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
    (lambda m: m["input"]["preprocessing"].update(id="imagenet"), "input.preprocessing.id is 'imagenet'"),
    (lambda m: m["input"]["preprocessing"].update(parameters={"resize": "crop"}),
     "input.preprocessing.parameters.resize is not a parameter of fashion-mnist-v1"),
    (lambda m: m["input"].update(channels=3), "input.colour is grayscale, which has 1 channel"),
    (lambda m: m["input"].update(colour="rgb", channels=3), "input.tensor.shape must be [1, 28, 28, 3]"),
    (lambda m: m["input"].update(height=32), "input.tensor.shape must be [1, 32, 28, 1]"),
    (lambda m: m["input"]["tensor"].update(dtype="float32"), "input.tensor.dtype must be 'uint8'"),
    (lambda m: m["input"].update(channels=4), "input.channels must be 1 or 3"),
    (lambda m: m["input"].update(colour="cmyk"), "input.colour must be one of"),
    (lambda m: m.update(labels=["a", "a"] + m["labels"][2:]), "labels must be distinct, non-empty names"),
    (lambda m: m.update(labels=[""] + m["labels"][1:]), "labels must be distinct, non-empty names"),
    (lambda m: m.update(labels=["line\nbreak"] + m["labels"][1:]), "labels must be distinct, non-empty names"),
    (lambda m: m.update(labels=["only"]), "labels must name at least 2 classes"),
    (lambda m: m["output"].update(classes=12), "labels has 10 names but output.classes is 12"),
    (lambda m: m["output"].update(kind="softmax"), "output.kind must be one of 'logits', 'probabilities'"),
    (lambda m: m["formats"]["onnx-int8"]["input"].update(shape=[1, 28, 28, 3]),
     "formats.onnx-int8.input.shape [1, 28, 28, 3] is not the input contract's [1, 28, 28, 1]"),
    (lambda m: m["formats"]["ort-int8"]["parity"]["thresholds"].update(min_agreement="high"),
     "formats.ort-int8.parity.thresholds.min_agreement must be a finite number"),
])
def test_the_error_names_the_field(mutate, field):
    raw = json.loads(json.dumps(sample_manifest().to_json()))
    mutate(raw)
    with pytest.raises(BundleError, match=re.escape(field)):
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
