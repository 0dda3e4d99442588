"""`fashion-edge export artifacts/<model>`: every format, checked against Keras, in one bundle.

The bundle is built in a staging folder and swapped in only when every format passed the parity
gate, so a failed or killed export leaves the previous bundle exactly as it was.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from fashion_edge.export import evaluate, preprocessing_vectors
from fashion_edge.export.calibration import HeldOut
from fashion_edge.export.converters import BuildContext
from fashion_edge.train.macs import count_macs
from fashion_edge.export.parity import compare, size_checks
from fashion_edge.runtime.backends import choose_backend, open_backend
from fashion_edge.runtime.backends.onnx import session_config as onnx_session_config
from fashion_edge.runtime.bundle import describe_device, sha256_bytes
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.formats import FORMATS, PREPROCESSING_ID, calibrated_as, get_format
from fashion_edge.runtime.golden import Golden, GoldenOutput, PreprocessingVectors
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.manifest import Asset, Calibration, FormatEntry, InputContract, Manifest
from fashion_edge.runtime.preprocess import SIZE, as_batch
from fashion_edge.runtime.quiet import captured_native_output
from fashion_edge.runtime.session import Session
from fashion_edge.train.artifacts import ArtifactError, library_versions, staged_dir
from fashion_edge.train.data import FashionMNIST, load_fashion_mnist

GOLDEN_IMAGES = 32
BATCH_NOTE = ("fixed at 1: no operator reads the batch size, so a TFLite interpreter may resize the input "
              "to N; ONNX/ORT files take one image per run")


class ParityError(FashionEdgeError):
    """At least one format breached the gate; the previous bundle was kept."""


@dataclass(frozen=True)
class ExportConfig:
    model_dir: Path
    formats: tuple[str, ...] = tuple(FORMATS)
    seed: int = 0                       # order of the calibration pool
    data_dir: Path | None = None
    # Studies only: write the bundle even when the gate fails (failures stay recorded in the manifest).
    enforce_gate: bool = True
    # golden.json's preprocessing vectors and their photos (~0.5 MB): for apps porting the preprocessing.
    preprocessing_vectors: bool = True
    # Testing hook: replaces the calibration pool (e.g. with wrong data, to prove the gate bites).
    calibration_override: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ExportResult:
    bundle: Path
    manifest: Manifest


@dataclass(frozen=True)
class Reference:
    """What every format is compared with: Keras on the test set, and the held-out data for calibration."""

    test: np.ndarray             # uint8 (10000, 28, 28, 1)
    labels: np.ndarray
    keras_logits: np.ndarray
    held_out: HeldOut
    training_seed: int

    @property
    def keras_accuracy(self) -> float:
        return float((self.keras_logits.argmax(1) == self.labels).mean())


def export(config: ExportConfig, log: Callable[[str], None] = print) -> ExportResult:
    model_dir = Path(config.model_dir)
    _check(config, model_dir)
    model = _load_keras_model(model_dir / "model.keras")
    data = load_fashion_mnist(config.data_dir)
    reference = _reference(model, data, model_dir, config)
    log(f"{model_dir.name}: Keras test accuracy {100 * reference.keras_accuracy:.2f}%; int8 recipes judged on "
        f"{len(reference.held_out.images):,} validation images")
    with tempfile.TemporaryDirectory() as tmp, staged_dir(model_dir / "bundle") as stage:
        ctx = BuildContext(model, Path(tmp), reference.held_out)
        entries, outputs = {}, {}
        for name in config.formats:
            entries[name], outputs[name] = _export_format(ctx, name, model_dir.name, reference, stage, log)
        manifest = _manifest(model, model_dir.name, ctx, reference, entries, config)
        if config.enforce_gate:
            _gate(manifest)
        vectors = preprocessing_vectors.build(data.x_test) if config.preprocessing_vectors else None
        manifest = _write(stage, manifest, _golden(reference, outputs, vectors and vectors.vectors),
                          vectors.files if vectors else {})
    return ExportResult(model_dir / "bundle", manifest)


def _check(config: ExportConfig, model_dir: Path) -> None:
    for name in config.formats:
        get_format(name)  # UsageError naming the known formats
    if not (model_dir / "model.keras").is_file():
        raise ArtifactError(f"{model_dir / 'model.keras'}: not found; train first: "
                            f"fashion-edge train --model {model_dir.name}")
    require("tensorflow", "export", "exporting")


def _load_keras_model(path: Path):
    keras = require("keras", "export", "exporting")
    try:
        return keras.saving.load_model(path, compile=False)  # inference only: no optimizer or loss needed
    except Exception as exc:  # zip, h5 and deserialisation errors all mean "not a usable model"
        raise ArtifactError(f"{path}: not a loadable Keras model ({exc.__class__.__name__}); retrain it") from exc


def _training_seed(model_dir: Path) -> int:
    """The seed training split its validation images with (metrics.json), so they stay held out here."""
    try:
        return int(json.loads((model_dir / "metrics.json").read_text())["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _reference(model, data: FashionMNIST, model_dir: Path, config: ExportConfig) -> Reference:
    test = as_batch(data.x_test)
    keras_logits = model.predict(test.astype(np.float32), batch_size=1000, verbose=0)
    seed = _training_seed(model_dir)
    x_fit, _, x_val, y_val = data.split_validation(seed=seed)
    pool = config.calibration_override
    if pool is None:
        pool = as_batch(x_fit[np.random.default_rng(config.seed).permutation(len(x_fit))])
    images = as_batch(x_val)
    keras_val = model.predict(images.astype(np.float32), batch_size=1000, verbose=0).argmax(1)
    return Reference(test, data.y_test, keras_logits, HeldOut(pool, images, y_val, keras_val), seed)


def _export_format(ctx: BuildContext, name: str, model: str, reference: Reference, stage: Path,
                   log: Callable[[str], None]) -> tuple[FormatEntry, GoldenOutput]:
    """Build one file, run it in its runtime on all test images, and describe it for the manifest."""
    fmt = FORMATS[name]
    start = time.perf_counter()
    with captured_native_output():
        built = ctx.build(name)
        device = ctx.device_report(name)
    (stage / fmt.filename).write_bytes(built.model)
    backend = choose_backend(name)
    session = Session(open_backend(backend, built.model))  # its tensors describe the file in the manifest
    logits = evaluate.logits(backend, built.model, reference.test)
    parity = compare(name, model, reference.keras_logits, logits, reference.labels)
    inp, out = session.backend.input, session.backend.output
    recipe_of = calibrated_as(name)
    entry = FormatEntry(
        name, fmt.filename, len(built.model), sha256_bytes(built.model),
        inp, out,
        backend, parity, fmt.golden_atol(out.scale or built.output_step), device,
        ctx.build(recipe_of).choice.recipe.name if recipe_of else None, built.ort,
        onnx_session_config(built.model) if fmt.family != "tflite" else {})
    verdict = "ok" if parity.passed else "FAIL: " + "; ".join(parity.failures)
    log(f"  {name:15s} {entry.bytes:>9,} B  acc {100 * parity.accuracy:.2f}%  agree {100 * parity.agreement:.2f}%  "
        f"max|Δ| {parity.max_abs_logit_diff:.2e}  [{backend}, {time.perf_counter() - start:.1f} s]  {verdict}")
    log(f"  {'':15s} {describe_device(device)}")
    if built.choice:
        log(f"  {'':15s} calibration: " + ", ".join(
            f"{c.recipe} {100 * c.validation_agreement:.2f}%" for c in built.choice.candidates)
            + f" (validation agreement) -> {built.choice.recipe.name}")
    golden = logits[:GOLDEN_IMAGES]
    return entry, GoldenOutput(golden, tuple(int(i) for i in golden.argmax(1)),
                               "".join(map(str, logits.argmax(1).tolist())))


def _manifest(model, name: str, ctx: BuildContext, reference: Reference, entries: dict[str, FormatEntry],
              config: ExportConfig) -> Manifest:
    calibrated = sorted({calibrated_as(f) for f in entries} - {None}, key=list(FORMATS).index)
    choices = {f: ctx.build(f).choice.record(len(reference.held_out.images)) for f in calibrated}
    return Manifest(
        model=name, labels=LABELS,
        input=InputContract((1, SIZE, SIZE, 1), "NHWC", (0, 255), BATCH_NOTE, PREPROCESSING_ID),
        keras_test_accuracy=reference.keras_accuracy, keras_test_images=len(reference.labels),
        macs_per_image=count_macs(model),
        calibration=Calibration("training set minus its validation split", config.seed, reference.training_seed, choices),
        formats=entries, size_checks=size_checks(name, {f: e.bytes for f, e in entries.items()}),
        versions=library_versions(), created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _golden(reference: Reference, outputs: dict[str, GoldenOutput], vectors: PreprocessingVectors | None) -> Golden:
    return Golden(PREPROCESSING_ID, reference.test[:GOLDEN_IMAGES, ..., 0], tuple(int(y) for y in reference.labels[:GOLDEN_IMAGES]),
                  reference.keras_logits[:GOLDEN_IMAGES], outputs, vectors)


def _write(stage: Path, manifest: Manifest, golden: Golden, files: dict[str, bytes]) -> Manifest:
    """Assets first (their hashes go into the manifest), the manifest last."""
    assets = {"labels.txt": ("\n".join(manifest.labels) + "\n").encode(), "golden.json": json.dumps(golden.to_json()).encode(),
              **files}
    for name, data in assets.items():
        (stage / name).parent.mkdir(exist_ok=True)
        (stage / name).write_bytes(data)
    manifest = replace(manifest, assets=tuple(Asset(n, len(d), sha256_bytes(d)) for n, d in assets.items()))
    raw = manifest.to_json()
    Manifest.from_json(raw)  # the exporter writes only what every reader accepts
    (stage / "manifest.json").write_text(json.dumps(raw, indent=2))
    return manifest


def _gate(manifest: Manifest) -> None:
    failures = [f"{name}: {f}" for name, e in manifest.formats.items() for f in e.parity.failures]
    failures += [f"{c.format} is {100 * c.ratio:.0f}% of {c.of} (max {100 * c.max:.0f}%)"
                 for c in manifest.size_checks if not c.passed]
    if failures:
        raise ParityError("parity gate failed, previous bundle kept: " + "; ".join(failures))
