"""`ServedModel`: one bundle loaded for the service, everything that depends on it in one object.

The service swaps models while it serves (runtime/service/reload.py), so nothing bundle-specific lives
anywhere else: the interpreters (one per worker), the labels and the answer's encoding, the photo
limits for its input contract, the files /bundle/ hands out. A request binds the model that is current
when it starts and keeps it to the end; the previous model is freed when its last request finishes.

`load` is the whole admission check, run before a model may serve: the path resolved (a `current`
symlink is followed once, so a later switch cannot change files under a loaded model), the manifest
read and its schema checked, every file the manifest lists hashed, the golden self-check on every
interpreter, then a few batch-of-one calls so the first requests do not pay for lazy set-up.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from fashion_edge.runtime.bundle import Bundle, sha256_bytes
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.selfcheck import SelfCheck
from fashion_edge.runtime.service.answer import Answer
from fashion_edge.runtime.service.files import BundleFiles
from fashion_edge.runtime.service.limits import PhotoGate

log = logging.getLogger("fashion_edge.serve")

ID_CHARS = 12          # of the manifest's sha256: enough to tell a fleet's bundles apart, short enough to read
WARMUP_CALLS = 4       # per interpreter, on golden frames, after the self-check


def bundle_id(manifest: bytes) -> str:
    """The bundle's short id: its manifest lists every file's sha256, so the manifest's own hash names them all."""
    return sha256_bytes(manifest)[:ID_CHARS]


@dataclass(frozen=True, eq=False)
class ServedModel:
    bundle: Bundle                       # at the resolved path
    id: str
    version: str | None                  # the model's version (manifest `about.version`), when the export gave one
    classifiers: tuple[Classifier, ...]  # one per worker: interpreters are not thread-safe
    self_check: SelfCheck
    answer: Answer
    gate: PhotoGate
    files: BundleFiles
    loaded_s: float
    loaded_at: float = field(default_factory=time.time)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.bundle.labels

    @property
    def backend_name(self) -> str:
        return self.classifiers[0].backend_name

    def tag(self) -> dict:
        """What every answer carries: which bundle spoke."""
        return {"id": self.id, "version": self.version}

    def to_json(self) -> dict:
        m = self.bundle.manifest
        return {**self.tag(), "model": m.model, "path": str(self.bundle.path), "labels": len(m.labels),
                "input": m.input.describe(), "loaded_at": round(self.loaded_at, 3), "load_seconds": round(self.loaded_s, 3)}

    def describe(self) -> str:
        return f"{self.id} ({self.bundle.model}, version {self.version or '-'}, {self.bundle.path})"


def resolve(path: Path) -> Path:
    """The bundle folder a (possibly symlinked) path names now; BundleError when it is gone."""
    try:
        real = Path(path).resolve(strict=True)
    except (FileNotFoundError, RuntimeError):   # RuntimeError: a symlink loop
        raise BundleError(f"{path}: the bundle path does not exist (a link pointing nowhere, or a folder that was "
                          "removed)") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot resolve ({exc.strerror or exc})") from None
    if not real.is_dir():
        raise BundleError(f"{path}: not a bundle folder")
    return real


def load(path: Path, format: str, backend: str, workers: int) -> ServedModel:
    """The bundle at `path` ready to serve `format` on `backend`, or a typed error saying why not."""
    started = time.perf_counter()
    real = resolve(path)
    try:
        manifest = (real / "manifest.json").read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{path}: no manifest.json (is this a bundle folder?)") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot read manifest.json ({exc.strerror or exc})") from None
    bundle = Bundle.load(real)          # schema, contract, labels; the manifest read above must be this one
    try:
        unchanged = sha256_bytes((real / "manifest.json").read_bytes()) == sha256_bytes(manifest)
    except OSError:
        unchanged = False
    if not unchanged:
        raise BundleError(f"{path}: manifest.json changed or vanished while it was being loaded; try again")
    if format not in bundle.formats:    # a reload cannot change the format
        raise BundleError(f"{path}: has no {format!r} (it has {', '.join(bundle.formats)}); this service serves "
                          f"{format!r}: restart it with another --format to serve another format")
    for name in bundle.manifest.files():    # every file, not only the served one: /bundle/ hands them all out
        bundle.read_file(name)
    classifiers = tuple(Classifier(bundle, format=format, backend=backend, threads=1, self_check=True)
                        for _ in range(workers))
    golden = bundle.golden()
    for clf in classifiers:
        for i in range(WARMUP_CALLS):
            clf.predict_preprocessed(golden.images[i % len(golden.images)])
    about = bundle.manifest.about
    ident = bundle_id(manifest)
    version = about.version if about else None
    return ServedModel(bundle, ident, version, classifiers, classifiers[0].self_check_result,
                       Answer(bundle.labels, {"id": ident, "version": version}),
                       PhotoGate.for_contract(bundle.manifest.input), BundleFiles(bundle, manifest),
                       time.perf_counter() - started)
