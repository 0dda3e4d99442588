"""`fashion-edge export artifacts/<model>`: every format, checked against Keras, in one bundle.

The bundle is built in a staging folder and swapped in only when every format passed the parity
gate, so a failed or killed export leaves the previous bundle exactly as it was.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from fashion_edge.export import device_checks, onnx_export, ort_export, tflite_export
from fashion_edge.export.calibration import Choice, HeldOut, Int8Recipe, search
from fashion_edge.export.macs import count_macs
from fashion_edge.export.parity import MAX_INT8_SIZE_RATIO, Parity, compare, golden_atol
from fashion_edge.runtime.quiet import captured_native_output
from fashion_edge.runtime.atomic import staged_dir
from fashion_edge.runtime.backends import choose_backend, open_backend
from fashion_edge.runtime.backends.onnx import SAVED_RUNTIME_OPTIMIZATIONS
from fashion_edge.runtime.bundle import SCHEMA_VERSION, describe_device, sha256_bytes
from fashion_edge.runtime.errors import ArtifactError, FashionEdgeError, UsageError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.formats import FORMATS, PREPROCESSING_ID
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.preprocess import as_batch
from fashion_edge.runtime.session import Session
from fashion_edge.runtime.versions import library_versions
from fashion_edge.train.data import FashionMNIST, load_fashion_mnist

GOLDEN_IMAGES = 32


class ParityError(FashionEdgeError):
    """At least one format breached the gate; the previous bundle was kept."""


@dataclass(frozen=True)
class ExportConfig:
    model_dir: Path
    formats: tuple[str, ...] = tuple(FORMATS)
    seed: int = 0                       # order of the calibration pool
    data_dir: Path | None = None
    # Testing hook: replaces the calibration pool (e.g. with wrong data, to prove the gate bites).
    calibration_override: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FormatResult:
    name: str
    file: str
    size_bytes: int
    backend: str
    parity: Parity
    seconds: float


@dataclass(frozen=True)
class ExportResult:
    bundle: Path
    formats: tuple[FormatResult, ...]


def _load_keras_model(path: Path):
    keras = require("keras", "export", "exporting")
    try:
        return keras.saving.load_model(path)
    except Exception as exc:  # zip, h5 and deserialisation errors all mean "not a usable model"
        raise ArtifactError(f"{path}: not a loadable Keras model ({exc.__class__.__name__}); retrain it") from exc


def _training_seed(model_dir: Path) -> int:
    """The seed training split its validation images with (metrics.json), so they stay held out here."""
    try:
        return int(json.loads((model_dir / "metrics.json").read_text())["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def held_out(data: FashionMNIST, model, training_seed: int, seed: int, pool: np.ndarray | None = None) -> HeldOut:
    """Calibration pool (training images minus validation, shuffled) and the validation split with Keras' answers."""
    x_fit, _, x_val, y_val = data.split_validation(seed=training_seed)
    if pool is None:
        pool = as_batch(x_fit[np.random.default_rng(seed).permutation(len(x_fit))])
    images = as_batch(x_val)
    keras_top1 = model.predict(images.astype(np.float32), batch_size=1000, verbose=0).argmax(1)
    return HeldOut(pool=pool, images=images, labels=y_val, keras_top1=keras_top1)


class _Builder:
    """Makes each format's bytes once; ONNX int8 and the ORT files are derived from other formats."""

    def __init__(self, model, workdir: Path, calibration: HeldOut) -> None:
        self._model, self._workdir, self._calibration = model, workdir, calibration
        self._saved_model: Path | None = None
        self._blobs: dict[str, bytes] = {}
        self.choices: dict[str, Choice] = {}  # int8 format -> the calibration recipe it was built with
        self._onnx_reports: dict[str, dict] = {}  # an ORT file shares its ONNX source's verdicts
        self.ort_operators: dict[str, str] = {}  # ORT format -> operators for a minimal ORT build

    def __call__(self, fmt: str) -> bytes:
        if fmt not in self._blobs:
            self._blobs[fmt] = self._make(fmt)
        return self._blobs[fmt]

    def _make(self, fmt: str) -> bytes:
        family = FORMATS[fmt].family
        if family == "tflite":
            if self._saved_model is None:
                self._saved_model = tflite_export.write_saved_model(self._model, self._workdir / "saved_model")
            saved = self._saved_model
            if fmt == "tflite-int8":
                return self._searched(fmt, tflite_export.INT8_RECIPES,
                                      lambda recipe, images: tflite_export.convert(saved, fmt, images, recipe))
            return tflite_export.convert(saved, fmt)
        if fmt == "onnx-float32":
            return onnx_export.convert_float(self._model)
        if fmt == "onnx-int8":
            source = self("onnx-float32")
            return self._searched(fmt, onnx_export.INT8_RECIPES,
                                  lambda recipe, images: onnx_export.quantize_int8(source, images, recipe))
        converted = ort_export.convert(self(ort_export.SOURCE[fmt]))
        self.ort_operators[fmt] = converted.required_operators
        return converted.model

    def _searched(self, fmt: str, recipes: tuple[Int8Recipe, ...], build) -> bytes:
        backend = choose_backend(fmt)
        choice = search(recipes, build, lambda blob, x: Session(open_backend(backend, blob)).logits(x),
                        self._calibration)
        self.choices[fmt] = choice
        return choice.model

    def recipe(self, fmt: str) -> str | None:
        """The calibration recipe a file was built with (an ORT file: its ONNX source's)."""
        choice = self.choices.get(ort_export.SOURCE.get(fmt, fmt))
        return choice.recipe.name if choice else None

    def device_report(self, fmt: str) -> dict:
        """Accelerator verdicts; an ORT file is judged by its ONNX source (the checker reads ONNX)."""
        family = FORMATS[fmt].family
        if family == "tflite":
            return device_checks.tflite_report(self(fmt))
        source = ort_export.SOURCE.get(fmt, fmt)
        if source not in self._onnx_reports:
            self._onnx_reports[source] = device_checks.onnx_report(self(source))
        report = self._onnx_reports[source]
        return report if source == fmt else {**report, "checked_as": source}

    def onnx_output_step(self, fmt: str) -> float:
        """A QDQ model's output step, read from the ONNX graph (an ORT file's from its source); 0 if float."""
        return onnx_export.output_step(self(ort_export.SOURCE.get(fmt, fmt)))


def export(config: ExportConfig, log: Callable[[str], None] = print) -> ExportResult:
    model_dir = Path(config.model_dir)
    model_name = model_dir.name
    unknown = [f for f in config.formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if not (model_dir / "model.keras").is_file():
        raise ArtifactError(f"{model_dir / 'model.keras'}: not found; train first: "
                            f"fashion-edge train --model {model_name}")
    require("tensorflow", "export", "exporting")
    model = _load_keras_model(model_dir / "model.keras")
    data = load_fashion_mnist(config.data_dir)
    test = as_batch(data.x_test)
    keras_logits = model.predict(test.astype(np.float32), batch_size=1000, verbose=0)
    keras_acc = float((keras_logits.argmax(1) == data.y_test).mean())
    training_seed = _training_seed(model_dir)
    calibration = held_out(data, model, training_seed, config.seed, config.calibration_override)
    log(f"{model_name}: Keras test accuracy {100 * keras_acc:.2f}%; int8 recipes judged on "
        f"{len(calibration.images):,} validation images")

    results: list[FormatResult] = []
    entries: dict[str, dict] = {}
    golden_x = test[:GOLDEN_IMAGES]
    golden = {"preprocessing": PREPROCESSING_ID, "images": golden_x[..., 0].tolist(),
              "labels": data.y_test[:GOLDEN_IMAGES].tolist(),
              "keras_logits": keras_logits[:GOLDEN_IMAGES].round(6).tolist(), "outputs": {}}
    with tempfile.TemporaryDirectory() as tmp, staged_dir(model_dir / "bundle") as stage:
        build = _Builder(model, Path(tmp), calibration)
        for fmt in config.formats:
            spec = FORMATS[fmt]
            start = time.perf_counter()
            with captured_native_output():
                blob = build(fmt)
                device = build.device_report(fmt)
            (stage / spec.filename).write_bytes(blob)
            backend_name = choose_backend(fmt)
            session = Session(open_backend(backend_name, blob))
            logits = session.logits(test)
            parity = compare(fmt, model_name, keras_logits, logits, data.y_test)
            seconds = time.perf_counter() - start
            results.append(FormatResult(fmt, spec.filename, len(blob), backend_name, parity, seconds))
            inp, out = session.backend.input, session.backend.output
            entries[fmt] = {
                "file": spec.filename, "bytes": len(blob), "sha256": sha256_bytes(blob),
                "input": {"name": inp.name, "dtype": inp.dtype, "shape": list(inp.shape),
                          "scale": inp.scale, "zero_point": inp.zero_point},
                "output": {"name": out.name, "dtype": out.dtype, "shape": list(out.shape),
                           "scale": out.scale, "zero_point": out.zero_point},
                "parity_backend": backend_name,
                "parity": parity.to_json(),
                "golden_atol": golden_atol(fmt, out.scale or (
                    build.onnx_output_step(fmt) if spec.family != "tflite" else 0.0)),
                "device": device,
            }
            if build.recipe(fmt):
                entries[fmt]["calibration_recipe"] = build.recipe(fmt)
            if fmt in build.ort_operators:
                entries[fmt]["ort"] = {"optimization_style": ort_export.OPTIMIZATION_STYLE,
                                       "session_config": {SAVED_RUNTIME_OPTIMIZATIONS: "1"},
                                       "required_operators": build.ort_operators[fmt]}
            golden["outputs"][fmt] = {"logits": logits[:GOLDEN_IMAGES].round(6).tolist(),
                                      "top1": logits[:GOLDEN_IMAGES].argmax(1).tolist(),
                                      # every test image's top-1, one digit each, for exact checks on devices
                                      "test_top1": "".join(map(str, logits.argmax(1).tolist()))}
            verdict = "ok" if parity.passed else "FAIL: " + "; ".join(parity.failures)
            log(f"  {fmt:15s} {len(blob):>9,} B  acc {100 * parity.accuracy:.2f}%  "
                f"agree {100 * parity.agreement:.2f}%  max|Δ| {parity.max_abs_logit_diff:.2e}  "
                f"[{backend_name}, {seconds:.1f} s]  {verdict}")
            log(f"  {'':15s} {describe_device(device)}")
            if fmt in build.choices:
                log(f"  {'':15s} calibration: " + ", ".join(
                    f"{c.recipe.name} {100 * c.validation_agreement:.2f}%" for c in build.choices[fmt].candidates)
                    + f" (validation agreement) -> {build.choices[fmt].recipe.name}")

        failures = [f"{r.name}: {f}" for r in results for f in r.parity.failures]
        sizes = {r.name: r.size_bytes for r in results}
        size_check = None
        if {"tflite-int8", "tflite-float32"} <= set(sizes):
            ratio = sizes["tflite-int8"] / sizes["tflite-float32"]
            size_check = {"int8_over_float32": ratio, "max": MAX_INT8_SIZE_RATIO, "enforced": model_name == "edge"}
            if model_name == "edge" and ratio > MAX_INT8_SIZE_RATIO:
                failures.append(f"tflite-int8 is {100 * ratio:.0f}% of tflite-float32 (max {100 * MAX_INT8_SIZE_RATIO:.0f}%)")

        manifest = {
            "schema_version": SCHEMA_VERSION,
            "model": model_name,
            "labels": list(LABELS),
            "input": {"shape": [1, 28, 28, 1], "layout": "NHWC", "pixel_range": [0, 255],
                      "batch": "fixed at 1: no operator reads the batch size, so a TFLite interpreter "
                               "may resize the input to N; ONNX/ORT files take one image per run",
                      "preprocessing": PREPROCESSING_ID},
            "keras": {"test_accuracy": keras_acc, "test_images": int(len(data.y_test))},
            "macs_per_image": count_macs(model),
            "calibration": {"source": "training set minus its validation split", "pool_seed": config.seed,
                            "validation_split_seed": training_seed,
                            "formats": {f: c.to_json(len(calibration.images)) for f, c in build.choices.items()}},
            "formats": entries,
            "size_check": size_check,
            "versions": library_versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2))
        (stage / "labels.txt").write_text("\n".join(LABELS) + "\n")
        (stage / "golden.json").write_text(json.dumps(golden))
        if failures:
            raise ParityError("parity gate failed, previous bundle kept: " + "; ".join(failures))
    return ExportResult(model_dir / "bundle", tuple(results))
