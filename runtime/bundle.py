"""A bundle on disk: manifest.json, labels.txt, one model file per format, golden.json.

Everything here distrusts the files: the manifest is validated once into types (runtime/manifest.py),
paths must stay inside the bundle folder, and a model file is handed to a native runtime only
after its size and sha256 match the manifest (a truncated or tampered file never reaches C++ code).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from fashion_edge.runtime import jsonio
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.manifest import Accelerator, DeviceReport, FormatEntry, Manifest

if TYPE_CHECKING:
    from fashion_edge.runtime.golden import Golden

MAX_MANIFEST_BYTES = 4 * 1024 * 1024      # a real one is ~40 kB
MAX_GOLDEN_BYTES = 64 * 1024 * 1024       # golden images, every held-out image's top-1 per format, the vectors


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_EP_NAMES = {"nnapi": "NNAPI", "coreml-neuralnetwork": "CoreML NeuralNetwork", "coreml-mlprogram": "CoreML MLProgram"}


def describe_accelerator(ep: str, v: Accelerator) -> str:
    return f"{_EP_NAMES.get(ep, ep)} {v.verdict} ({v.partitions} partition(s), {v.supported_nodes}/{v.nodes} nodes)"


def describe_device(report: DeviceReport | None) -> str:
    """One line: what mobile accelerators make of the file."""
    if report is None:
        return "not recorded (bundle exported without accelerator checks)"
    shape = "shape ops " + ",".join(report.shape_ops) if report.shape_ops else "no shape ops"
    if report.gpu_delegate is not None:
        return f"{shape}; TFLite GPU delegate {'compatible' if report.gpu_delegate.compatible else 'NOT compatible'}"
    return f"{shape}; " + "; ".join(describe_accelerator(ep, v) for ep, v in report.accelerators.items())


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: Manifest

    @property
    def model(self) -> str:
        return self.manifest.model

    @property
    def labels(self) -> tuple[str, ...]:
        return self.manifest.labels

    @property
    def formats(self) -> Mapping[str, FormatEntry]:
        return self.manifest.formats

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        path = Path(path)
        manifest_path = path / "manifest.json"
        try:
            raw = jsonio.read(manifest_path, MAX_MANIFEST_BYTES)
        except FileNotFoundError:
            raise BundleError(f"{path}: no manifest.json (is this a bundle folder? "
                              "`fashion-edge export artifacts/<model>` makes one)") from None
        manifest = Manifest.from_json(raw, str(manifest_path))
        root = path.resolve()
        for name, entry in manifest.formats.items():
            if (path / entry.file).resolve().parent != root:
                raise BundleError(f"{manifest_path}: formats.{name}.file {entry.file!r} points outside the bundle")
        return cls(path, manifest)

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

    def read_file(self, name: str) -> bytes:
        """Any file the manifest lists (model or asset), only if its sha256 matches."""
        expected = self.manifest.files().get(name)
        if expected is None:
            raise BundleError(f"{self.path}: {name!r} is not a file of this bundle")
        try:
            data = (self.path / name).read_bytes()
        except OSError as exc:
            raise BundleError(f"{self.path / name}: cannot read ({exc.strerror or exc})") from exc
        if sha256_bytes(data) != expected:
            raise BundleError(f"{self.path / name}: sha256 differs from manifest.json; re-export or re-copy the bundle")
        return data

    def golden(self) -> Golden:
        path = self.path / "golden.json"
        if not path.is_file():
            raise BundleError(f"{path}: missing; re-export or re-copy the bundle")
        if len(self.read_file("golden.json")) > MAX_GOLDEN_BYTES:
            raise BundleError(f"{path}: larger than a bundle's golden.json can be")
        from fashion_edge.runtime.golden import Golden   # apps' tests and verify read it; loading a model does not

        golden = Golden.from_json(jsonio.read(path, MAX_GOLDEN_BYTES), str(path))
        contract = self.manifest.input
        if golden.images.shape[1:] != contract.shape[1:]:
            raise BundleError(f"{path}: images of shape {list(golden.images.shape[1:])}, not the input contract's "
                              f"{list(contract.shape[1:])}")
        if golden.preprocessing != contract.preprocessing.id:
            raise BundleError(f"{path}: preprocessing {golden.preprocessing!r} is not manifest.json's "
                              f"{contract.preprocessing.id!r}")
        return golden
