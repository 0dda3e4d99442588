"""`fashion-edge export SOURCE`: every format of a Keras classifier, checked against Keras, in one bundle.

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

from fashion_edge.export import evaluate, onnx_metadata, tasks_ready, tflite_metadata, vectors
from fashion_edge.export.calibration import HeldOut
from fashion_edge.export.converters import BuildContext
from fashion_edge.export.export_data import DataOptions, ExportData, export_data
from fashion_edge.export.sources import Normalisation, classifier_shape, load_model, resolve, with_normalisation
from fashion_edge.train.macs import count_macs
from fashion_edge.export.parity import compare, size_checks
from fashion_edge.runtime.sensitivity_record import format_report
from fashion_edge.runtime.backends import choose_backend, open_backend
from fashion_edge.runtime.backends.onnx import session_config as onnx_session_config
from fashion_edge.runtime.bundle import describe_device, sha256_bytes
from fashion_edge.runtime import model_card
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.contract import InputContract, OutputContract, OutputKind, Preprocessing
from fashion_edge.runtime.formats import FORMATS, calibrated_as, get_format
from fashion_edge.runtime.golden import Golden, GoldenOutput, PreprocessingVectors
from fashion_edge.runtime.manifest import Asset, Calibration, FormatEntry, Manifest
from fashion_edge.runtime.quiet import captured_native_output
from fashion_edge.runtime.session import Session
from fashion_edge.runtime.provenance import LoaderCheck
from fashion_edge.train.artifacts import library_versions, staged_dir
from fashion_edge.runtime.tasks_record import About, ClassAccuracy, Tasks, TasksFile
from fashion_edge.train.datasets import ImageSet

GOLDEN_IMAGES = 32              # golden.json's images: at most this many,
GOLDEN_VALUES = 50_000          # ... and at most about this many pixel values (a 64x64x3 contract gets 4)
GOLDEN_MIN = 4
PROBABILITY_SLACK = 1e-3        # outputs that are >= 0 and sum to 1 within this on every test image: probabilities


class ParityError(FashionEdgeError):
    """At least one format breached the gate; the previous bundle was kept."""


@dataclass(frozen=True)
class ExportConfig:
    model_dir: Path                     # a training artifacts folder (model.keras inside) or a .keras file
    formats: tuple[str, ...] = tuple(FORMATS)
    seed: int = 0                       # order of the calibration pool
    data_dir: Path | None = None        # an image folder, or Fashion-MNIST's IDX files
    out: Path | None = None             # default: <artifacts>/bundle, or <name>-bundle beside a .keras file
    # Studies only: write the bundle even when the gate fails (failures stay recorded in the manifest).
    enforce_gate: bool = True
    # golden.json's preprocessing vectors and their photos (~0.5 MB): for apps porting the preprocessing.
    preprocessing_vectors: bool = True
    # The images export measures on, as device frames (default: the image folder, or Fashion-MNIST).
    dataset: ImageSet | None = field(default=None, compare=False, repr=False)
    # The recipe the manifest records (default: fashion-mnist-v1 for 28x28x1 models, photo-v1 otherwise).
    preprocessing: Preprocessing | None = None
    # An image folder's resize mode, filter, colour, label file, bad images (export_data.DataOptions).
    data: DataOptions = DataOptions()
    normalisation: Normalisation | None = None   # --mean/--std: folded into the graph before the model
    # Who made the model and on what terms: the TFLite metadata and the model card (empty fields: about_for).
    about: About | None = None
    # Testing hook: replaces the calibration pool (e.g. with wrong data, to prove the gate bites).
    calibration_override: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ExportResult:
    bundle: Path
    manifest: Manifest


@dataclass(frozen=True)
class Reference:
    """What every format is compared with: Keras on the test set, and the held-out data for calibration."""

    test: np.ndarray             # uint8 (N, H, W, C) device frames
    labels: np.ndarray
    keras_logits: np.ndarray     # Keras' outputs: logits, or probabilities (output_kind)
    held_out: HeldOut
    training_seed: int

    @property
    def keras_accuracy(self) -> float:
        return float((self.keras_logits.argmax(1) == self.labels).mean())


def export(config: ExportConfig, log: Callable[[str], None] = print) -> ExportResult:
    for name in config.formats:
        get_format(name)  # UsageError naming the known formats
    source = resolve(Path(config.model_dir))
    require("tensorflow", "export", "exporting")
    model = load_model(source.model_path)
    if config.normalisation is not None:
        model = with_normalisation(model, config.normalisation)
    shape, classes = classifier_shape(model)
    options = replace(config.data, data_dir=config.data.data_dir or config.data_dir,
                      preprocessing=config.data.preprocessing or config.preprocessing)
    data = export_data(options, source, shape, classes, config.dataset, config.normalisation)
    contract = data.contract
    reference = _reference(model, data.images, source.training_seed, config)
    output = OutputContract(classes, output_kind(reference.keras_logits))
    log(f"{source.name}: {contract.describe()} input, {classes} classes ({output.kind.value}), "
        f"{contract.preprocessing.id}; Keras test accuracy {100 * reference.keras_accuracy:.2f}% on "
        f"{len(reference.labels):,} held-out images; int8 recipes judged on {len(reference.held_out.images):,} "
        f"validation images")
    labels = tuple(data.images.classes)
    tflite_metadata.check_labels(labels)          # before anything is written
    about = about_for(config.about, source.name, contract, labels)
    skipped = tflite_metadata.missing()
    checked = _loader_check(model, data, reference, log)
    golden_n = golden_count(contract, len(reference.test))
    out = Path(config.out) if config.out else source.default_out
    with tempfile.TemporaryDirectory() as tmp, staged_dir(out) as stage:
        props = onnx_metadata.properties(labels, contract, output, source.name)
        ctx = BuildContext(model, Path(tmp), reference.held_out, source.name, onnx_properties=props)
        stamp = None if skipped else (lambda blob: tflite_metadata.write(blob, source.name, about, labels))
        entries, outputs = {}, {}
        for name in config.formats:
            entries[name], outputs[name] = _export_format(ctx, name, source.name, reference, golden_n, stage, log,
                                                          contract, output, stamp)
        tasks = _tasks(ctx, entries, contract, output, reference, stage, stamp, skipped, log)
        manifest = _manifest(model, source.name, labels, contract, output, ctx, reference, entries, config)
        manifest = replace(manifest, data=data.record, loader_check=checked, about=about, tasks=tasks,
                           class_accuracy=_class_accuracy(reference, outputs, len(labels)))
        if config.enforce_gate:
            _gate(manifest)
        built = vectors.build(contract, reference.test) if config.preprocessing_vectors else None
        golden = _golden(contract, reference, golden_n, outputs, built and built.vectors)
        manifest = _write(stage, manifest, golden, built.files if built else {})
    return ExportResult(out, manifest)


def about_for(given: About | None, name: str, contract: InputContract, labels: tuple[str, ...]) -> About:
    """The given fields, each empty one from the defaults: a description from the contract, version 1,
    author unknown, licence unspecified (a model's author and licence are its owner's to state)."""
    shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    default = About(f"{name}: classifies a {contract.height}x{contract.width} {contract.colour.value} image into "
                    f"{len(labels)} classes ({shown})", "1", "unknown", "unspecified")
    if given is None:
        return default
    return About(*(g.strip() or d for g, d in zip((given.description, given.version, given.author, given.licence),
                                                  (default.description, default.version, default.author,
                                                   default.licence))))


def _tasks(ctx: BuildContext, entries: dict[str, FormatEntry], contract: InputContract, output: OutputContract,
           reference: Reference, stage: Path, stamp: Callable[[bytes], bytes] | None, skipped: str | None,
           log: Callable[[str], None]) -> Tasks | None:
    """MediaPipe Tasks: which TFLite files it loads as they are, and a gated, stamped variant for the others."""
    if not any(name.startswith("tflite-") for name in entries):
        return None
    verdicts, variants = tasks_ready.plan(entries, contract, output)
    recipe = tasks_ready.recipe_note(contract)
    if stamp is None:
        log(f"  {skipped}")
        unready = {name: replace(v, ready=False, reasons=v.reasons + ("no TFLite metadata",), variant=None)
                   for name, v in verdicts.items()}
        return Tasks("skipped", skipped or "", recipe, unready)
    files: list[TasksFile] = []
    for variant in variants:
        start = time.perf_counter()
        base = ctx.build(variant.based_on) if variant.based_on in entries else None
        chosen = base.choice.recipe if base is not None and base.choice else None
        with captured_native_output():
            images = ctx.held_out.calibration(chosen) if chosen else ctx.held_out.pool[:1000]
            blob = stamp(tasks_ready.build(ctx.model, variant, ctx.workdir, images, chosen))
        gated = tasks_ready.gate(variant, blob, ctx.name, reference.test, reference.labels,
                                 reference.keras_logits, output)
        (stage / variant.file).write_bytes(blob)
        files.append(gated)
        verdict = "ok" if gated.passed else "FAIL: " + "; ".join(gated.failures)
        log(f"  {variant.file:22s} {gated.bytes:>9,} B  acc {100 * gated.accuracy:.2f}%  agree "
            f"{100 * gated.agreement:.2f}%  ({', '.join(variant.changes)}) [{time.perf_counter() - start:.1f} s]  "
            f"{verdict}")
    ready = [entries[n].file for n, v in verdicts.items() if v.ready] + [f.file for f in files]
    log(f"  MediaPipe Tasks loads: {', '.join(ready) or 'none'}")
    return Tasks("written", "TFLite Metadata (labels, normalisation, RGB, value range) on every Tasks-ready file",
                 recipe, verdicts, tuple(files))


def _class_accuracy(reference: Reference, outputs: dict[str, GoldenOutput], classes: int) -> ClassAccuracy:
    """Top-1 accuracy per class on the held-out images: Keras' and each file's."""
    labels = reference.labels
    images = np.bincount(labels, minlength=classes)

    def per_class(top1: np.ndarray) -> tuple[float, ...]:
        right = np.bincount(labels[top1 == labels], minlength=classes)
        return tuple(float(r / n) if n else 0.0 for r, n in zip(right, images))

    return ClassAccuracy(tuple(int(n) for n in images), per_class(reference.keras_logits.argmax(1)),
                         {name: per_class(o.test_top1) for name, o in outputs.items()})


def _loader_check(model, data: ExportData, reference: Reference, log: Callable[[str], None]) -> LoaderCheck | None:
    """Keras' accuracy through its own image loader and through the recipe (image folders only)."""
    if not data.gate_paths:
        return None
    from fashion_edge.export.loader_check import loader_check

    try:
        checked = loader_check(lambda x: model.predict(x, verbose=0), data.gate_paths, reference.labels,
                               data.images.classes, data.contract, reference.keras_logits)
    except Exception as exc:  # the loader's decoders differ from Pillow's: a file it cannot read ends the check only
        log(f"  Keras' image loader could not read the held-out images ({type(exc).__name__}): "
            "no training/deployment preprocessing comparison")
        return None
    log(f"  Keras on {checked.images:,} held-out images: {100 * checked.loader_accuracy:.2f}% as Keras' "
        f"{checked.loader} reads them, {100 * checked.recipe_accuracy:.2f}% through the bundle's recipe "
        f"(top-1 agreement {100 * checked.agreement:.2f}%)")
    return checked


def output_kind(outputs: np.ndarray) -> OutputKind:
    """Probabilities if every row is non-negative and sums to 1 (the model ends in a softmax), else logits."""
    sums = outputs.sum(axis=1)
    if (outputs >= 0).all() and np.abs(sums - 1).max() <= PROBABILITY_SLACK:
        return OutputKind.PROBABILITIES
    return OutputKind.LOGITS


def golden_count(contract: InputContract, available: int) -> int:
    """How many test images golden.json carries: GOLDEN_IMAGES, fewer for large inputs (GOLDEN_VALUES)."""
    return min(available, GOLDEN_IMAGES, max(GOLDEN_MIN, GOLDEN_VALUES // contract.values))


def _reference(model, data: ImageSet, seed: int, config: ExportConfig) -> Reference:
    test = np.ascontiguousarray(data.test)
    keras_logits = model.predict(test.astype(np.float32), batch_size=250, verbose=0)
    x_fit, _, x_val, y_val = data.split_validation(seed=seed)
    pool = config.calibration_override
    if pool is None:
        pool = np.ascontiguousarray(x_fit[np.random.default_rng(config.seed).permutation(len(x_fit))])
    images = np.ascontiguousarray(x_val)
    keras_val = model.predict(images.astype(np.float32), batch_size=250, verbose=0).argmax(1)
    return Reference(test, data.test_labels, keras_logits, HeldOut(pool, images, y_val, keras_val), seed)


def _export_format(ctx: BuildContext, name: str, model: str, reference: Reference, golden_n: int, stage: Path,
                   log: Callable[[str], None], contract: InputContract, output: OutputContract,
                   stamp: Callable[[bytes], bytes] | None) -> tuple[FormatEntry, GoldenOutput]:
    """Build one file (with TFLite metadata if MediaPipe loads it as it is), run it in its runtime on all test
    images, and describe it for the manifest."""
    fmt = FORMATS[name]
    start = time.perf_counter()
    with captured_native_output():
        built = ctx.build(name)
        device = ctx.device_report(name)
    blob = built.model
    backend = choose_backend(name)
    session = Session(open_backend(backend, blob))  # its tensors describe the file in the manifest
    if stamp and fmt.family == "tflite" and not tasks_ready.reasons(
            session.backend.input.dtype, session.backend.output.dtype, contract, output):
        blob = stamp(blob)
        session = Session(open_backend(backend, blob))
    (stage / fmt.filename).write_bytes(blob)
    logits = evaluate.logits(backend, blob, reference.test)
    parity = compare(name, model, reference.keras_logits, logits, reference.labels)
    inp, out = session.backend.input, session.backend.output
    recipe_of = calibrated_as(name)
    entry = FormatEntry(
        name, fmt.filename, len(blob), sha256_bytes(blob),
        inp, out,
        backend, parity, fmt.golden_atol(out.scale or built.output_step), device,
        ctx.build(recipe_of).choice.recipe.name if recipe_of else None, built.ort,
        onnx_session_config(blob) if fmt.family != "tflite" else {})
    verdict = "ok" if parity.passed else "FAIL: " + "; ".join(parity.failures)
    log(f"  {name:15s} {entry.bytes:>9,} B  acc {100 * parity.accuracy:.2f}%  agree {100 * parity.agreement:.2f}%  "
        f"max|Δ| {parity.max_abs_logit_diff:.2e}  [{backend}, {time.perf_counter() - start:.1f} s]  {verdict}")
    log(f"  {'':15s} {describe_device(device)}")
    if built.choice:
        log(f"  {'':15s} calibration: " + ", ".join(
            f"{c.recipe} {100 * c.validation_agreement:.2f}%" for c in built.choice.candidates)
            + f" (validation agreement) -> {built.choice.recipe.name}")
    if built.choice and built.choice.sensitivity:
        log("\n".join(f"  {'':15s} {line}" for line in format_report(built.choice.sensitivity).splitlines()))
    golden = logits[:golden_n]
    return entry, GoldenOutput(golden, tuple(int(i) for i in golden.argmax(1)), logits.argmax(1).astype(np.int32))


def _manifest(model, name: str, labels: tuple[str, ...], contract: InputContract, output: OutputContract,
              ctx: BuildContext, reference: Reference, entries: dict[str, FormatEntry], config: ExportConfig) -> Manifest:
    calibrated = sorted({calibrated_as(f) for f in entries} - {None}, key=list(FORMATS).index)
    choices = {f: ctx.build(f).choice.record(len(reference.held_out.images)) for f in calibrated}
    return Manifest(
        model=name, labels=tuple(labels), input=contract, output=output,
        keras_test_accuracy=reference.keras_accuracy, keras_test_images=len(reference.labels),
        macs_per_image=count_macs(model),
        calibration=Calibration("training set minus its validation split", config.seed, reference.training_seed, choices),
        formats=entries, size_checks=size_checks(name, {f: e.bytes for f, e in entries.items()}),
        versions=library_versions(), created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _golden(contract: InputContract, reference: Reference, n: int, outputs: dict[str, GoldenOutput],
            vectors: PreprocessingVectors | None) -> Golden:
    return Golden(contract.preprocessing.id, reference.test[:n], tuple(int(y) for y in reference.labels[:n]),
                  reference.keras_logits[:n], outputs, vectors)


def _write(stage: Path, manifest: Manifest, golden: Golden, files: dict[str, bytes]) -> Manifest:
    """Assets first (their hashes go into the manifest), the manifest last. The model card is rendered from
    the manifest with every other asset listed, then listed itself."""
    assets = {"labels.txt": ("\n".join(manifest.labels) + "\n").encode("utf-8"),
              "golden.json": json.dumps(golden.to_json(), separators=(",", ":")).encode(),
              **files}
    listed = lambda found: tuple(Asset(n, len(d), sha256_bytes(d)) for n, d in found.items())  # noqa: E731
    assets[model_card.FILE] = model_card.render(replace(manifest, assets=listed(assets))).encode("utf-8")
    for name, data in assets.items():
        (stage / name).parent.mkdir(exist_ok=True)
        (stage / name).write_bytes(data)
    manifest = replace(manifest, assets=listed(assets))
    raw = manifest.to_json()
    Manifest.from_json(raw)  # the exporter writes only what every reader accepts
    (stage / "manifest.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False), encoding="utf-8")
    return manifest


def _gate(manifest: Manifest) -> None:
    failures = [f"{name}: {f}" for name, e in manifest.formats.items() for f in e.parity.failures]
    failures += [f"{f.file}: {x}" for f in (manifest.tasks.files if manifest.tasks else ()) for x in f.failures]
    failures += [f"{c.format} is {100 * c.ratio:.0f}% of {c.of} (max {100 * c.max:.0f}%)"
                 for c in manifest.size_checks if not c.passed]
    if failures:
        raise ParityError("parity gate failed, previous bundle kept: " + "; ".join(failures))
