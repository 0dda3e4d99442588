"""What a bundle offers the mobile standards (manifest.json's `about`, `class_accuracy` and `tasks`).

MediaPipe Tasks' ImageClassifier (Android, iOS, web, Python) and Android Studio's model binding read
TFLite Metadata inside the file: labels, normalisation, colour space. They accept a 1xHxWx3 RGB input,
uint8 or float32, and apply no softmax. `tasks` records which TFLite files they load as they are, why
the others are not, and the Tasks-ready variants export adds for those (parity-gated like every file).
All three fields are optional: bundles exported before them read as None.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from fashion_edge.runtime.fields import Obj

METADATA_EXTRA = "metadata"     # pip install 'fashion-edge[metadata]': mediapipe's metadata writer


@dataclass(frozen=True)
class About:
    """Who made the model and on what terms: the TFLite metadata's general fields and the model card's header."""

    description: str
    version: str
    author: str
    licence: str

    @classmethod
    def read(cls, o: Obj) -> "About":
        return cls(o.str("description"), o.str("version"), o.str("author"), o.str("licence"))

    def to_json(self) -> dict:
        return {"description": self.description, "version": self.version, "author": self.author,
                "licence": self.licence}


@dataclass(frozen=True)
class ClassAccuracy:
    """Top-1 accuracy per class on the held-out images, in label order: Keras' and each exported file's."""

    images: tuple[int, ...]                      # held-out images of each class
    keras: tuple[float, ...]
    formats: Mapping[str, tuple[float, ...]]     # format name -> its per-class accuracy

    @classmethod
    def read(cls, o: Obj) -> "ClassAccuracy":
        formats = o.obj("formats")
        return cls(o.ints("images"), o.numbers("keras"),
                   MappingProxyType({k: formats.numbers(k) for k in formats.raw}))

    def to_json(self) -> dict:
        return {"images": list(self.images), "keras": list(self.keras),
                "formats": {k: list(v) for k, v in self.formats.items()}}


@dataclass(frozen=True)
class TasksVerdict:
    """Whether MediaPipe's ImageClassifier loads one TFLite format's file as it is, and if not, why not."""

    ready: bool
    reasons: tuple[str, ...] = ()    # empty when ready
    variant: str | None = None       # the Tasks-ready file to use instead (a `tasks.files` entry's file)

    @classmethod
    def read(cls, o: Obj) -> "TasksVerdict":
        return cls(o.bool("ready"), o.strs("reasons"), o.str("variant", optional=True))

    def to_json(self) -> dict:
        return {"ready": self.ready, "reasons": list(self.reasons), "variant": self.variant}


@dataclass(frozen=True)
class TasksFile:
    """A Tasks-ready variant: uint8 RGB in, probabilities out, metadata inside; gated against Keras."""

    file: str
    bytes: int
    sha256: str
    based_on: str                    # the format it was made from (its precision and calibration recipe)
    changes: tuple[str, ...]         # what was added to the graph, e.g. "softmax appended"
    agreement: float                 # top-1 agreement with Keras on the held-out images
    accuracy: float
    images: int
    max_abs_diff: float              # largest |probability difference| from Keras' softmax
    passed: bool                     # the gate of `based_on`
    failures: tuple[str, ...] = ()

    @classmethod
    def read(cls, o: Obj) -> "TasksFile":
        from fashion_edge.runtime.manifest import check_relative_file, check_sha256   # manifest imports this module

        return cls(check_relative_file(o, "file", o.str("file")), o.int("bytes", minimum=1), check_sha256(o),
                   o.str("based_on"),
                   o.strs("changes"), o.float("agreement"), o.float("accuracy"), o.int("images", minimum=1),
                   o.float("max_abs_diff"), o.bool("passed"), o.strs("failures"))

    def to_json(self) -> dict:
        return {"file": self.file, "bytes": self.bytes, "sha256": self.sha256, "based_on": self.based_on,
                "changes": list(self.changes), "agreement": self.agreement, "accuracy": self.accuracy,
                "images": self.images, "max_abs_diff": self.max_abs_diff, "passed": self.passed,
                "failures": list(self.failures)}


@dataclass(frozen=True)
class Tasks:
    """The bundle's MediaPipe Tasks story: metadata written or skipped, per-file verdicts, variants, recipe."""

    metadata: str                                 # "written" or "skipped"
    note: str                                     # why skipped (and the extra to install), or what was written
    recipe: str                                   # how MediaPipe's own resize relates to the bundle's recipe
    formats: Mapping[str, TasksVerdict]           # every exported TFLite format
    files: tuple[TasksFile, ...] = ()

    @property
    def written(self) -> bool:
        return self.metadata == "written"

    @classmethod
    def read(cls, o: Obj) -> "Tasks":
        metadata = o.str("metadata")
        if metadata not in ("written", "skipped"):
            raise o.fail("metadata", f"must be 'written' or 'skipped', not {metadata!r}")
        return cls(metadata, o.str("note"), o.str("recipe"),
                   MappingProxyType(o.mapping("formats", lambda _, v: TasksVerdict.read(v))), o.objs("files", TasksFile.read))

    def to_json(self) -> dict:
        return {"metadata": self.metadata, "note": self.note, "recipe": self.recipe,
                "formats": {k: v.to_json() for k, v in self.formats.items()},
                "files": [f.to_json() for f in self.files]}
