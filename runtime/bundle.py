"""A bundle on disk: manifest.json, labels.txt, one model file per format, golden.json.

Everything here distrusts the files: paths must stay inside the bundle folder, formats must be
known, and a model file is handed to a native runtime only after its size and sha256 match the
manifest (a truncated or tampered file never reaches C++ code).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.formats import FORMATS, PREPROCESSING_ID

SCHEMA_VERSION = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_EP_NAMES = {"nnapi": "NNAPI", "coreml-neuralnetwork": "CoreML NeuralNetwork", "coreml-mlprogram": "CoreML MLProgram"}


def describe_device(report: dict[str, Any] | None) -> str:
    """One line from a manifest's `formats[F].device`: what mobile accelerators make of the file."""
    if not report:
        return "not recorded (bundle exported before accelerator checks)"
    try:
        return _describe(report)
    except (KeyError, TypeError, AttributeError, ValueError):  # a hand-edited manifest: say so, don't crash
        return "unreadable entry in manifest.json"


def _describe(report: dict[str, Any]) -> str:
    shape = "shape ops " + ",".join(report.get("shape_ops", [])) if report.get("shape_ops") else "no shape ops"
    if "gpu_delegate" in report:
        return f"{shape}; TFLite GPU delegate {'compatible' if report['gpu_delegate']['compatible'] else 'NOT compatible'}"
    eps = "; ".join(f"{_EP_NAMES.get(ep, ep)} {v['verdict']} ({v['partitions']} partition(s), "
                    f"{v['supported_nodes']}/{v['nodes']} nodes)" for ep, v in report.get("accelerators", {}).items())
    return f"{shape}; {eps}"


@dataclass(frozen=True)
class FormatEntry:
    """One format's line in the manifest."""

    name: str
    file: str
    bytes: int
    sha256: str
    input: dict[str, Any]
    output: dict[str, Any]
    parity: dict[str, Any]
    golden_atol: float


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict[str, Any]
    labels: tuple[str, ...]
    formats: dict[str, FormatEntry]

    @property
    def model(self) -> str:
        return self.manifest["model"]

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        path = Path(path)
        manifest_path = path / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"{path}: no manifest.json (is this a bundle folder? "
                              "`fashion-edge export artifacts/<model>` makes one)") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BundleError(f"{manifest_path}: not readable JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
            raise BundleError(f"{manifest_path}: schema_version must be {SCHEMA_VERSION}")
        if manifest.get("input", {}).get("preprocessing") != PREPROCESSING_ID:
            raise BundleError(f"{manifest_path}: preprocessing must be {PREPROCESSING_ID!r}")
        labels = tuple(manifest.get("labels") or ())
        if len(labels) != 10:
            raise BundleError(f"{manifest_path}: expected 10 labels, found {len(labels)}")
        formats = {}
        for name, raw in (manifest.get("formats") or {}).items():
            if name not in FORMATS:
                raise BundleError(f"{manifest_path}: unknown format {name!r}; known: {', '.join(FORMATS)}")
            try:
                entry = FormatEntry(name=name, file=str(raw["file"]), bytes=int(raw["bytes"]),
                                    sha256=str(raw["sha256"]), input=dict(raw["input"]),
                                    output=dict(raw["output"]), parity=dict(raw.get("parity", {})),
                                    golden_atol=float(raw.get("golden_atol", 1e-3)))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"{manifest_path}: format {name!r} entry is incomplete ({exc})") from exc
            target = (path / entry.file).resolve()
            if target.parent != path.resolve():
                raise BundleError(f"{manifest_path}: {name} file {entry.file!r} points outside the bundle")
            formats[name] = entry
        if not formats:
            raise BundleError(f"{manifest_path}: lists no formats")
        return cls(path, manifest, labels, formats)

    def entry(self, fmt: str) -> FormatEntry:
        if fmt not in self.formats:
            raise BundleError(f"{self.path}: has no {fmt!r}; it has {', '.join(self.formats)}")
        return self.formats[fmt]

    def read_model(self, fmt: str) -> bytes:
        """The model file's bytes, only if its size and sha256 match the manifest."""
        entry = self.entry(fmt)
        file = self.path / entry.file
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise BundleError(f"{file}: cannot read ({exc.strerror or exc})") from exc
        if len(data) != entry.bytes or sha256_bytes(data) != entry.sha256:
            raise BundleError(f"{file}: size/sha256 differ from manifest.json: the file is truncated, "
                              "corrupt or was replaced; re-export or re-copy the bundle")
        return data

    def golden(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "golden.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{self.path}/golden.json: not readable ({exc})") from exc
