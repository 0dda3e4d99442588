"""manifest.json as types: what the exporter writes and every reader (runtime, apps' docs, report) reads.

`Manifest.from_json` validates everything once; a missing or wrongly typed field, an unknown
schema version, format or preprocessing recipe, a file name that would leave the bundle, or labels and
tensors that disagree with the input and output contract raise `BundleError` naming the field.
`to_json` writes the same structure, so the exporter and the readers cannot drift apart.

Schema 3 describes the input and output completely (contract.py). Schema 2, every bundle written
before it, is read as what it always meant: 28x28x1 grayscale, fashion-mnist-v1, logits.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeVar

from fashion_edge.runtime.contract import Colour, InputContract, OutputContract, OutputKind, Preprocessing
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.formats import FORMATS, Gate
from fashion_edge.runtime.provenance import DataRecord, LoaderCheck
from fashion_edge.runtime.recipes import FASHION_MNIST
from fashion_edge.runtime.sensitivity_record import Sensitivity
from fashion_edge.runtime.tasks_record import About, ClassAccuracy, Tasks

SCHEMA_VERSION = 3
READABLE_SCHEMAS = (2, 3)
FILE = "manifest.json"
DTYPES = ("float32", "float16", "uint8", "int8", "int16")
_SHA256 = re.compile(r"[0-9a-f]{64}")
T = TypeVar("T")


@dataclass(frozen=True)
class TensorSpec:
    """dtype, shape and affine quantization (real = scale * (q - zero_point)); scale 0: not quantized."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype in ("uint8", "int8", "int16")

    @classmethod
    def read(cls, o: Obj) -> "TensorSpec":
        dtype = o.str("dtype")
        if dtype not in DTYPES:
            raise o.fail("dtype", f"must be one of {', '.join(DTYPES)}, not {dtype!r}")
        return cls(o.str("name"), dtype, o.ints("shape"), o.float("scale", minimum=0.0), o.int("zero_point"))

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "scale": self.scale,
                "zero_point": self.zero_point}


def _gate_read(o: Obj) -> Gate:
    return Gate(o.float("min_agreement"), o.float("max_accuracy_drop", optional=True),
                o.float("max_abs_logit_diff", optional=True), o.str("why", optional=True) or "")


def _gate_json(g: Gate) -> dict:
    return {"min_agreement": g.min_agreement, "max_accuracy_drop": g.max_accuracy_drop,
            "max_abs_logit_diff": g.max_abs_logit_diff, "why": g.why}


@dataclass(frozen=True)
class Parity:
    """One format against Keras on the test set, and the gate's verdict."""

    images: int
    accuracy: float
    keras_accuracy: float
    agreement: float                # top-1 agreement with Keras
    max_abs_logit_diff: float       # dequantized for quantized formats (NaN-free: the gate fails NaN)
    thresholds: Gate
    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def accuracy_delta(self) -> float:
        return self.accuracy - self.keras_accuracy

    @property
    def flips(self) -> int:
        """Held-out images whose top-1 differs from Keras'."""
        return round((1 - self.agreement) * self.images)

    @property
    def allowed_flips(self) -> int:
        """The agreement gate in images: at most this many of `images` may differ from Keras."""
        return allowed_flips(self.thresholds.min_agreement, self.images)

    @property
    def agreement_interval(self) -> tuple[float, float]:
        """Wilson's 95% interval for the agreement: what a few hundred images can and cannot show."""
        return wilson_interval(self.images - self.flips, self.images)

    @classmethod
    def read(cls, o: Obj) -> "Parity":
        return cls(o.int("images", minimum=1), o.float("accuracy"), o.float("keras_accuracy"), o.float("agreement"),
                   o.float("max_abs_logit_diff"), _gate_read(o.obj("thresholds")), o.strs("failures"))

    def to_json(self) -> dict:
        return {"images": self.images, "accuracy": self.accuracy, "keras_accuracy": self.keras_accuracy,
                "accuracy_delta": self.accuracy_delta, "agreement": self.agreement,
                "max_abs_logit_diff": self.max_abs_logit_diff, "thresholds": _gate_json(self.thresholds),
                "flips": self.flips, "allowed_flips": self.allowed_flips,
                "agreement_wilson95": list(self.agreement_interval),
                "failures": list(self.failures), "passed": self.passed}


def allowed_flips(min_agreement: float, images: int) -> int:
    """floor((1 - min_agreement) x images): 50 of 10,000 at 99.5%, 2 of 400 (the epsilon absorbs float error)."""
    return int((1 - min_agreement) * images + 1e-9)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's score interval for a proportion (95% for the default z): unlike the normal approximation
    it stays inside [0, 1] and is honest at 100% agreement on few images."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Accelerator:
    """ONNX Runtime's mobile usability checker on one execution provider."""

    partitions: int
    supported_nodes: int
    nodes: int
    unsupported_ops: tuple[str, ...]
    verdict: str

    @classmethod
    def read(cls, _name: str, o: Obj) -> "Accelerator":
        return cls(o.int("partitions", minimum=0), o.int("supported_nodes", minimum=0), o.int("nodes", minimum=0),
                   o.strs("unsupported_ops"), o.str("verdict"))

    def to_json(self) -> dict:
        return {"partitions": self.partitions, "supported_nodes": self.supported_nodes, "nodes": self.nodes,
                "unsupported_ops": list(self.unsupported_ops), "verdict": self.verdict}


@dataclass(frozen=True)
class GpuDelegate:
    compatible: bool
    warnings: tuple[str, ...]
    tool: str


@dataclass(frozen=True)
class DeviceReport:
    """What mobile accelerators make of a file, in the vendors' tools' own words (see export/device_checks.py)."""

    ops: tuple[str, ...]
    shape_ops: tuple[str, ...]             # operators that read a shape at run time
    tool: str
    gpu_delegate: GpuDelegate | None = None                      # TFLite files
    accelerators: Mapping[str, Accelerator] = field(default_factory=dict)  # ONNX/ORT files: EP -> verdict
    checked_as: str | None = None          # an ORT file is judged by the ONNX file it was converted from

    @classmethod
    def read(cls, o: Obj) -> "DeviceReport":
        gpu = o.obj("gpu_delegate", optional=True)
        return cls(o.strs("ops"), o.strs("shape_ops"), o.str("tool"),
                   GpuDelegate(gpu.bool("compatible"), gpu.strs("warnings"), gpu.str("tool")) if gpu else None,
                   o.mapping("accelerators", Accelerator.read, optional=True) or {}, o.str("checked_as", optional=True))

    def to_json(self) -> dict:
        out: dict[str, Any] = {"ops": list(self.ops), "shape_ops": list(self.shape_ops), "tool": self.tool}
        if self.gpu_delegate:
            g = self.gpu_delegate
            out["gpu_delegate"] = {"compatible": g.compatible, "warnings": list(g.warnings), "tool": g.tool}
        if self.accelerators:
            out["accelerators"] = {k: v.to_json() for k, v in self.accelerators.items()}
        if self.checked_as:
            out["checked_as"] = self.checked_as
        return out


@dataclass(frozen=True)
class OrtBuild:
    """How an ORT-format file was converted, and the operators a custom minimal ONNX Runtime needs."""

    optimization_style: str
    required_operators: str

    @classmethod
    def read(cls, o: Obj) -> "OrtBuild":
        return cls(o.str("optimization_style"), o.str("required_operators"))

    def to_json(self) -> dict:
        return {"optimization_style": self.optimization_style, "required_operators": self.required_operators}


def check_sha256(o: Obj, key: str = "sha256") -> str:
    sha = o.str(key)
    if not _SHA256.fullmatch(sha):
        raise o.fail(key, "must be 64 lowercase hex digits")
    return sha


def check_relative_file(o: Obj, key: str, value: str, subfolders: bool = False) -> str:
    """A file name inside the bundle: no absolute path, no '..', no hidden names (and no folders unless allowed)."""
    parts = value.split("/")
    if (not value or "\\" in value or "\0" in value or any(not p or p.startswith(".") for p in parts)
            or (len(parts) > 1 and not subfolders) or len(parts) > 2):
        raise o.fail(key, f"must be a plain file name inside the bundle, not {value!r}")
    return value


@dataclass(frozen=True)
class Asset:
    """A bundle file other than a model (labels.txt, golden.json, preprocessing vectors), with its hash."""

    file: str
    bytes: int
    sha256: str

    @classmethod
    def read(cls, o: Obj) -> "Asset":
        return cls(check_relative_file(o, "file", o.str("file"), subfolders=True), o.int("bytes", minimum=0),
                   check_sha256(o))

    def to_json(self) -> dict:
        return {"file": self.file, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class FormatEntry:
    name: str
    file: str
    bytes: int
    sha256: str
    input: TensorSpec
    output: TensorSpec
    parity_backend: str
    parity: Parity
    golden_atol: float
    device: DeviceReport | None = None
    calibration_recipe: str | None = None
    ort: OrtBuild | None = None
    # ONNX Runtime session config entries the file needs to compute what the export measured
    session_config: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, name: str, o: Obj) -> "FormatEntry":
        if name not in FORMATS:
            raise BundleError(f"{o.file}: unknown format {name!r} in formats; known: {', '.join(FORMATS)}")
        file = check_relative_file(o, "file", o.str("file"))
        sha = check_sha256(o)
        device = o.obj("device", optional=True)
        ort = o.obj("ort", optional=True)
        return cls(name, file, o.int("bytes", minimum=1), sha, TensorSpec.read(o.obj("input")),
                   TensorSpec.read(o.obj("output")), o.str("parity_backend"), Parity.read(o.obj("parity")),
                   o.float("golden_atol", minimum=0.0), DeviceReport.read(device) if device else None,
                   o.str("calibration_recipe", optional=True), OrtBuild.read(ort) if ort else None,
                   o.str_mapping("session_config", optional=True) or {})

    def to_json(self) -> dict:
        out: dict[str, Any] = {"file": self.file, "bytes": self.bytes, "sha256": self.sha256,
                               "input": self.input.to_json(), "output": self.output.to_json(),
                               "parity_backend": self.parity_backend, "parity": self.parity.to_json(),
                               "golden_atol": self.golden_atol}
        if self.device:
            out["device"] = self.device.to_json()
        if self.calibration_recipe:
            out["calibration_recipe"] = self.calibration_recipe
        if self.ort:
            out["ort"] = self.ort.to_json()
        if self.session_config:
            out["session_config"] = dict(self.session_config)
        return out


@dataclass(frozen=True)
class Recipe:
    """An int8 calibration recipe (see export/calibration.py).

    `method`: "minmax" (both converters), "percentile" / "moving-average" / "entropy" (onnxruntime).
    `reduce_range` (onnxruntime): 7-bit weights, so x86 CPUs without VNNI cannot saturate the int16
    intermediate sums of their u8 x s8 kernels (ONNX Runtime's advice for such CPUs).
    `float_stem` (both converters): the first convolution stays float32 (see export/calibration.py);
    absent in bundles written before it existed, which read as False.
    `split_stem` (TFLite 16x8): the first convolution computed as two whose int8 weights sum to its own
    (export/device_graph.split_stem); absent in older bundles, read as False.
    `float_layers` (TFLite int8): output tensor names of the ops kept float32 besides the stem (the
    quantizer's denylist; export/sensitivity.py picks them); written only when non-empty, absent reads as ().
    """

    name: str
    images: int = 1000
    method: str = "minmax"
    per_channel: bool = True
    reduce_range: bool = False
    float_stem: bool = False
    split_stem: bool = False
    float_layers: tuple[str, ...] = ()

    @classmethod
    def read(cls, o: Obj) -> "Recipe":
        return cls(o.str("name"), o.int("images", minimum=1), o.str("method"), o.bool("per_channel"),
                   o.bool("reduce_range"), bool(o.bool("float_stem", optional=True)),
                   bool(o.bool("split_stem", optional=True)), o.strs("float_layers", optional=True) or ())

    def to_json(self) -> dict:
        out = {"name": self.name, "images": self.images, "method": self.method, "per_channel": self.per_channel,
               "reduce_range": self.reduce_range, "float_stem": self.float_stem, "split_stem": self.split_stem}
        if self.float_layers:
            out["float_layers"] = list(self.float_layers)
        return out


@dataclass(frozen=True)
class RecipeScore:
    recipe: str
    validation_agreement: float   # top-1 agreement with Keras on the validation split
    validation_accuracy: float

    @classmethod
    def read(cls, o: Obj) -> "RecipeScore":
        return cls(o.str("recipe"), o.float("validation_agreement"), o.float("validation_accuracy"))

    def to_json(self) -> dict:
        return {"recipe": self.recipe, "validation_agreement": self.validation_agreement,
                "validation_accuracy": self.validation_accuracy}


CRITERION = ("highest top-1 agreement with Keras on the validation split; ties go to the earlier recipe "
             "in the declared list")


@dataclass(frozen=True)
class CalibrationChoice:
    chosen: Recipe
    validation_images: int
    candidates: tuple[RecipeScore, ...]
    criterion: str = CRITERION
    sensitivity: Sensitivity | None = None   # when every declared recipe missed the gate (export/sensitivity.py)

    @classmethod
    def read(cls, _name: str, o: Obj) -> "CalibrationChoice":
        sensitivity = o.obj("sensitivity", optional=True)
        return cls(Recipe.read(o.obj("chosen")), o.int("validation_images", minimum=1),
                   o.objs("candidates", RecipeScore.read), o.str("criterion"),
                   Sensitivity.read(sensitivity) if sensitivity else None)

    def to_json(self) -> dict:
        out = {"chosen": self.chosen.to_json(), "validation_images": self.validation_images,
               "criterion": self.criterion, "candidates": [c.to_json() for c in self.candidates]}
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity.to_json()
        return out


@dataclass(frozen=True)
class Calibration:
    source: str
    pool_seed: int
    validation_split_seed: int
    formats: Mapping[str, CalibrationChoice]

    @classmethod
    def read(cls, o: Obj) -> "Calibration":
        return cls(o.str("source"), o.int("pool_seed"), o.int("validation_split_seed"),
                   o.mapping("formats", CalibrationChoice.read))

    def to_json(self) -> dict:
        return {"source": self.source, "pool_seed": self.pool_seed, "validation_split_seed": self.validation_split_seed,
                "formats": {k: v.to_json() for k, v in self.formats.items()}}


@dataclass(frozen=True)
class SizeCheck:
    """A file's size against another's (e.g. int8 at most 30% of float32), and whether it is enforced."""

    format: str
    of: str
    ratio: float
    max: float
    enforced: bool

    @property
    def passed(self) -> bool:
        return self.ratio <= self.max or not self.enforced

    @classmethod
    def read(cls, o: Obj) -> "SizeCheck":
        return cls(o.str("format"), o.str("of"), o.float("ratio", minimum=0.0), o.float("max", minimum=0.0),
                   o.bool("enforced"))

    def to_json(self) -> dict:
        return {"format": self.format, "of": self.of, "ratio": self.ratio, "max": self.max, "enforced": self.enforced}


def _schema2_input(o: Obj) -> InputContract:
    """A schema-2 bundle's input: 28x28x1 pixels and fashion-mnist-v1, the only contract it could state."""
    shape = o.ints("shape")
    if shape != (1, 28, 28, 1):
        raise o.fail("shape", f"must be [1, 28, 28, 1] in a schema-2 manifest, not {list(shape)}")
    preprocessing = o.str("preprocessing")
    if preprocessing != FASHION_MNIST:
        raise o.fail("preprocessing", f"is {preprocessing!r}; a schema-2 bundle can only be {FASHION_MNIST!r}")
    return InputContract(28, 28, 1, Colour.GRAYSCALE, Preprocessing(FASHION_MNIST))


@dataclass(frozen=True)
class Manifest:
    model: str
    labels: tuple[str, ...]
    input: InputContract
    output: OutputContract
    keras_test_accuracy: float
    keras_test_images: int
    macs_per_image: int
    calibration: Calibration
    formats: Mapping[str, FormatEntry]
    size_checks: tuple[SizeCheck, ...]
    versions: Mapping[str, str]
    created: str
    assets: tuple[Asset, ...] = ()       # every non-model file of the bundle, hashed
    schema_version: int = SCHEMA_VERSION
    data: DataRecord | None = None             # the images export measured on (optional: older bundles lack it)
    loader_check: LoaderCheck | None = None    # Keras' loader against the recipe, for image-folder exports
    about: About | None = None                 # description, version, author, licence (the model card's header)
    class_accuracy: ClassAccuracy | None = None  # per-class top-1 accuracy on the held-out images
    tasks: Tasks | None = None                 # MediaPipe Tasks: metadata, per-file verdicts, Tasks-ready variants

    def files(self) -> dict[str, str]:
        """Every file of the bundle (models, Tasks-ready variants, assets) -> its sha256: what may be served."""
        variants = {f.file: f.sha256 for f in self.tasks.files} if self.tasks else {}
        return {**{e.file: e.sha256 for e in self.formats.values()}, **variants,
                **{a.file: a.sha256 for a in self.assets}}

    def tasks_ready_files(self) -> tuple[str, ...]:
        """Every file MediaPipe Tasks' ImageClassifier loads as it is: those that passed their parity gate first
        (the variants made for it, then format files; int8 first in each), then those that did not (exported
        with --gate record). The web app picks the first the same way (apps/web/mediapipe.js)."""
        if not self.tasks or not self.tasks.written:
            return ()
        int8_first = lambda name: name != "tflite-int8"  # noqa: E731  (the file an app wants on a phone)
        found = [(f.file, f.passed) for f in sorted(self.tasks.files, key=lambda f: int8_first(f.based_on))] + [
            (self.formats[name].file, self.formats[name].parity.passed)
            for name in sorted(self.tasks.formats, key=int8_first)
            if self.tasks.formats[name].ready and name in self.formats]
        return tuple(file for file, passed in found if passed) + tuple(file for file, passed in found if not passed)

    @classmethod
    def from_json(cls, raw: Any, file: str = FILE) -> "Manifest":
        o = Obj(raw, "", file)
        version = o.int("schema_version")
        if version not in READABLE_SCHEMAS:
            newer = version > max(READABLE_SCHEMAS)
            raise o.fail("schema_version", f"is {version}; this runtime reads {', '.join(map(str, READABLE_SCHEMAS))} ("
                         + ("a newer fashion-edge exported it: upgrade this runtime, or re-export with this version)"
                            if newer else "re-export the bundle with this version of fashion-edge)"))
        keras = o.obj("keras")
        formats = o.mapping("formats", FormatEntry.read)
        if not formats:
            raise o.fail("formats", "lists no formats")
        labels = o.strs("labels")
        if len(labels) < 2:
            raise o.fail("labels", f"must name at least 2 classes, not {len(labels)}")
        if len(set(labels)) != len(labels) or not all(label.strip() and label.isprintable() for label in labels):
            raise o.fail("labels", "must be distinct, non-empty names of printable characters (one line each)")
        if version == 2:
            contract, output = _schema2_input(o.obj("input")), OutputContract(len(labels), OutputKind.LOGITS)
        else:
            contract, output = InputContract.read(o.obj("input")), OutputContract.read(o.obj("output"))
        if output.classes != len(labels):
            raise o.fail("labels", f"has {len(labels)} names but output.classes is {output.classes}")
        for name, entry in formats.items():
            if not entry.output.shape or entry.output.shape[-1] != len(labels):
                raise BundleError(f"{file}: labels has {len(labels)} names but formats.{name}.output.shape "
                                  f"{list(entry.output.shape)} does not end in {len(labels)}")
            if tuple(entry.input.shape) != contract.shape:
                raise BundleError(f"{file}: formats.{name}.input.shape {list(entry.input.shape)} is not the input "
                                  f"contract's {list(contract.shape)}")
        per_class, tasks = _optional(o, "class_accuracy", ClassAccuracy.read), _optional(o, "tasks", Tasks.read)
        if per_class and any(len(v) != len(labels) for v in (per_class.images, per_class.keras,
                                                              *per_class.formats.values())):
            raise o.fail("class_accuracy", f"must give one figure per class ({len(labels)})")
        if tasks:   # verdicts on files the bundle no longer lists (a trimmed bundle) say nothing: dropped
            tasks = replace(tasks, formats=MappingProxyType({k: v for k, v in tasks.formats.items() if k in formats}))
        return cls(o.str("model"), labels, contract, output, keras.float("test_accuracy"),
                   keras.int("test_images", minimum=1), o.int("macs_per_image", minimum=0),
                   Calibration.read(o.obj("calibration")), formats, o.objs("size_checks", SizeCheck.read),
                   o.str_mapping("versions"), o.str("created"), o.objs("assets", Asset.read), version,
                   _optional(o, "data", DataRecord.read), _optional(o, "loader_check", LoaderCheck.read),
                   _optional(o, "about", About.read), per_class, tasks)

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "labels": list(self.labels),
                "input": self.input.to_json(), "output": self.output.to_json(),
                "keras": {"test_accuracy": self.keras_test_accuracy, "test_images": self.keras_test_images},
                "macs_per_image": self.macs_per_image, "calibration": self.calibration.to_json(),
                "formats": {k: v.to_json() for k, v in self.formats.items()},
                "size_checks": [c.to_json() for c in self.size_checks], "versions": dict(self.versions),
                "created": self.created, "assets": [a.to_json() for a in self.assets],
                **({"data": self.data.to_json()} if self.data else {}),
                **({"loader_check": self.loader_check.to_json()} if self.loader_check else {}),
                **({"about": self.about.to_json()} if self.about else {}),
                **({"class_accuracy": self.class_accuracy.to_json()} if self.class_accuracy else {}),
                **({"tasks": self.tasks.to_json()} if self.tasks else {})}


def _optional(o: Obj, key: str, read: Callable[[Obj], T]) -> T | None:
    found = o.obj(key, optional=True)
    return None if found is None else read(found)
