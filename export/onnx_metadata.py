"""The bundle's labels and input contract inside its ONNX and ORT files (ONNX `metadata_props`).

An app handed only the model file still learns what to feed it and what its outputs mean: ONNX
Runtime returns these entries as `InferenceSession.get_modelmeta().custom_metadata_map`. They
survive onnxruntime's static quantization and its ORT-format conversion (tests/export/test_onnx_metadata.py).
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from fashion_edge.runtime.contract import InputContract, OutputContract
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.options import EngineOptions
from fashion_edge.runtime.versions import version_of

PRODUCER = "fashion-edge"


class OnnxMetadataError(FashionEdgeError, ValueError):
    """Metadata that cannot go into an ONNX file, or a model that is not valid ONNX once it has it."""


def producer_version() -> str:
    return version_of(PRODUCER) or "dev"   # "dev": running from a source tree that is not installed


def _json(value: Any) -> str:
    """Compact and deterministic, so the same bundle always writes byte-identical files."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def properties(labels: tuple[str, ...], contract: InputContract, output: OutputContract,
               model_name: str) -> dict[str, str]:
    """The metadata_props entries: everything a consumer of the bare file needs besides the file."""
    if len(labels) != output.classes:
        raise OnnxMetadataError(f"{len(labels)} labels for a model with {output.classes} classes")
    recipe = contract.preprocessing.to_json()
    return {"labels": _json(list(labels)), "input_contract": _json(contract.to_json()),
            "output_contract": _json(output.to_json()), "preprocessing": recipe["id"],
            "preprocessing_parameters": _json(recipe["parameters"]), "producer": PRODUCER,
            "producer_version": producer_version(), "model_name": model_name}


def _check(props: Mapping[str, str]) -> None:
    """onnx.checker accepts an empty key and set_model_props fails on a number with a bare TypeError."""
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise OnnxMetadataError(f"ONNX metadata keys must be non-empty strings, not {key!r}")
        if not isinstance(value, str):
            raise OnnxMetadataError(f"ONNX metadata {key!r} must be a string, not {type(value).__name__} {value!r}")


def with_metadata(model: bytes, props: Mapping[str, str], doc: str | None = None) -> bytes:
    """`model` with `props` set (keys of the same name replaced, others kept) and fashion-edge as its
    producer; the graph is left as it is, so the model computes exactly what it did."""
    _check(props)
    onnx = require("onnx", "export", "writing ONNX metadata")
    try:
        proto = onnx.load_from_string(model)
    except Exception as exc:  # protobuf's DecodeError: not an ONNX file (an ORT-format one, say)
        raise OnnxMetadataError(f"not an ONNX model: {exc}") from exc
    onnx.helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props}, **props})
    proto.producer_name, proto.producer_version = PRODUCER, producer_version()
    if doc is not None:
        proto.doc_string = doc
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise OnnxMetadataError(f"onnx.checker refuses the model: {str(exc).splitlines()[0]}") from exc
    return proto.SerializeToString()


def read_metadata(model: bytes) -> dict[str, str]:
    """The entries as ONNX Runtime hands them to an app, from an ONNX or an ORT-format file."""
    ort = require("onnxruntime", "onnx", "reading ONNX metadata")
    from fashion_edge.runtime.backends.onnx import session_options   # the runtime's own (ORT files included)

    try:
        session = ort.InferenceSession(model, session_options(ort, model, EngineOptions()),
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own Fail/InvalidGraph/... types
        raise OnnxMetadataError(f"onnxruntime cannot load this model: {str(exc).splitlines()[0]}") from exc
    return dict(session.get_modelmeta().custom_metadata_map)
