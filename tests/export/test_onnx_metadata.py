"""ONNX metadata: labels and input contract inside the ONNX/ORT files, read back by ONNX Runtime.

Works on the committed tiny bundles only (no TensorFlow): tiny-shapes12 (32x48 RGB, photo-v1,
non-ASCII labels) and tiny-cnn (28x28 grey, with ORT files).
"""
from __future__ import annotations

import json
from importlib import metadata

import numpy as np
import pytest
from conftest import TINY

from fashion_edge.export.onnx_metadata import (OnnxMetadataError, properties, read_metadata,
                                               with_metadata)
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.golden import Golden
from fashion_edge.runtime.manifest import Manifest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

FILES = [("tiny-shapes12", "float32.onnx"), ("tiny-shapes12", "int8.onnx"),
         ("tiny-cnn", "float32.onnx"), ("tiny-cnn", "int8.onnx")]
SHAPES12, CNN = TINY / "tiny-shapes12" / "bundle", TINY / "tiny-cnn" / "bundle"
KEYS = {"labels", "input_contract", "output_contract", "preprocessing", "preprocessing_parameters",
        "producer", "producer_version", "model_name"}


def _manifest(bundle) -> Manifest:
    return Manifest.from_json(json.loads((bundle / "manifest.json").read_text()))


def _props(bundle) -> dict[str, str]:
    m = _manifest(bundle)
    return properties(m.labels, m.input, m.output, m.model)


def _run(model: bytes, frames: np.ndarray) -> np.ndarray:
    """One thread, the runtime's session options: the same graph must give the same bits."""
    from fashion_edge.runtime.backends.onnx import session_options
    from fashion_edge.runtime.options import EngineOptions

    session = ort.InferenceSession(model, session_options(ort, model, EngineOptions(threads=1)),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: f[None].astype(np.float32)})[0] for f in frames])


def _frames(bundle) -> np.ndarray:
    """Device frames: the bundle's preprocessed golden images (uint8, the contract's shape) and two extremes."""
    images = Golden.from_json(json.loads((bundle / "golden.json").read_text())).images[:4]
    assert images.shape[1:] == _manifest(bundle).input.shape[1:]
    return np.concatenate([images, np.zeros_like(images[:1]), np.full_like(images[:1], 255)])


def test_properties_are_the_manifest_as_compact_json():
    bundle = SHAPES12
    m, props = _manifest(bundle), _props(bundle)
    assert set(props) == KEYS and all(isinstance(v, str) for v in props.values())
    assert json.loads(props["labels"]) == list(m.labels)
    assert "círculo" in props["labels"] and "三角形" in props["labels"]     # raw, not \u escapes
    assert json.loads(props["input_contract"]) == m.input.to_json()
    assert json.loads(props["output_contract"]) == m.output.to_json() == {"classes": 12, "kind": "logits"}
    assert props["preprocessing"] == "photo-v1"
    assert json.loads(props["preprocessing_parameters"]) == m.input.preprocessing.to_json()["parameters"]
    assert props["producer"] == "fashion-edge" and props["model_name"] == "tiny-shapes12"
    assert props["producer_version"] == metadata.version("fashion-edge")
    assert props["input_contract"] == json.dumps(m.input.to_json(), ensure_ascii=False, sort_keys=True,
                                                 separators=(",", ":"))
    assert props == _props(bundle)                                          # deterministic


@pytest.mark.parametrize("model,file", FILES)
def test_metadata_reaches_onnx_runtime_and_the_model_is_unchanged(model, file):
    bundle = TINY / model / "bundle"
    before = (bundle / file).read_bytes()
    props = _props(bundle)
    after = with_metadata(before, props, doc="a doc")

    proto, original = onnx.load_from_string(after), onnx.load_from_string(before)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.SerializeToString() == original.graph.SerializeToString()
    assert list(proto.opset_import) == list(original.opset_import) and proto.ir_version == original.ir_version
    assert (proto.producer_name, proto.producer_version, proto.doc_string) == \
        ("fashion-edge", metadata.version("fashion-edge"), "a doc")

    found = read_metadata(after)
    assert {k: found[k] for k in props} == props                            # exact strings, non-ASCII too
    kept = {p.key: p.value for p in original.metadata_props}                 # the quantizer's own tags (int8)
    assert found == {**kept, **props}
    frames = _frames(bundle)
    assert np.array_equal(_run(before, frames), _run(after, frames))       # bit-identical outputs
    assert with_metadata(before, props, doc="a doc") == after               # deterministic bytes


def test_keys_of_the_same_name_are_replaced_and_others_kept():
    bundle = CNN
    source = (bundle / "float32.onnx").read_bytes()
    exported = [(p.key, p.value) for p in onnx.load_from_string(source).metadata_props]   # the bundle's own
    first = with_metadata(source, {"a": "1", "b": "2"}, doc="kept")
    second = onnx.load_from_string(with_metadata(first, {"b": "3", "c": "4"}))
    assert [(p.key, p.value) for p in second.metadata_props] == exported + [("a", "1"), ("b", "3"), ("c", "4")]
    assert second.doc_string == "kept"                                      # doc=None leaves it


@pytest.mark.parametrize("file", ["float32.onnx", "int8.onnx"])
def test_ort_format_conversion_keeps_the_metadata(file):
    from fashion_edge.export.ort_export import convert

    bundle = CNN
    props = _props(bundle)
    source = with_metadata((bundle / file).read_bytes(), props)
    converted = convert(source).model
    assert converted[4:8] == b"ORTM"
    assert read_metadata(converted) == read_metadata(source)
    session = ort.InferenceSession(converted, providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().producer_name == "fashion-edge"
    plain = convert((bundle / file).read_bytes()).model                     # the same file without metadata
    frames = _frames(bundle)
    assert np.array_equal(_run(converted, frames), _run(plain, frames))


def test_static_quantization_keeps_the_metadata():
    """quantize_static copies metadata_props (adding its own tags) but names itself producer
    ("onnx.quantize"): with_metadata goes after quantizing."""
    pytest.importorskip("sympy")
    from fashion_edge.export.onnx_export import quantize_int8

    bundle = SHAPES12
    props = _props(bundle)
    calibration = Golden.from_json(json.loads((bundle / "golden.json").read_text())).images
    quantized = quantize_int8(with_metadata((bundle / "float32.onnx").read_bytes(), props), calibration)
    proto = onnx.load_from_string(quantized)
    found = {p.key: p.value for p in proto.metadata_props}
    assert {k: found[k] for k in props} == props
    again = onnx.load_from_string(with_metadata(quantized, props))
    assert again.producer_name == "fashion-edge" and {p.key: p.value for p in again.metadata_props} == found


@pytest.mark.parametrize("props,named", [({"labels": 3}, "'labels'"), ({"labels": None}, "'labels'"),
                                          ({"": "x"}, "''"), ({7: "x"}, "7"),
                                          ({"labels": ["a", "b"]}, "'labels'")])
def test_a_non_string_value_or_an_empty_key_is_refused(props, named):
    bundle = CNN
    with pytest.raises(OnnxMetadataError, match="ONNX metadata") as info:
        with_metadata((bundle / "float32.onnx").read_bytes(), props)
    assert isinstance(info.value, FashionEdgeError) and named in str(info.value)


def test_a_model_onnx_checker_refuses_or_not_onnx_at_all_is_a_clear_error():
    bundle = CNN
    proto = onnx.load_from_string((bundle / "float32.onnx").read_bytes())
    proto.graph.node[0].input[0] = "no_such_tensor"
    with pytest.raises(OnnxMetadataError, match="onnx.checker refuses"):
        with_metadata(proto.SerializeToString(), {"a": "b"})
    with pytest.raises(OnnxMetadataError, match="not an ONNX model"):
        with_metadata((bundle / "float32.ort").read_bytes(), {"a": "b"})
    with pytest.raises(OnnxMetadataError, match="onnxruntime cannot load"):
        read_metadata(b"not a model at all, long enough")


def test_labels_must_match_the_output():
    m = _manifest(CNN)
    with pytest.raises(OnnxMetadataError, match="9 labels for a model with 10 classes"):
        properties(m.labels[:-1], m.input, m.output, m.model)
