"""How each format's file is made: one converter per registry key (`Format.converter`).

Converters share a `BuildContext`: the Keras model, a work folder, the held-out images for the int8
calibration search, and every file built so far (an ORT file is made from its ONNX source, built
once). A converter returns the file plus what the manifest records about how it was made.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from fashion_edge.export import device_checks, evaluate, onnx_export, onnx_metadata, ort_export, sensitivity, tflite_export
from fashion_edge.export.calibration import Choice, HeldOut, search
from fashion_edge.runtime.backends import choose_backend
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.formats import FORMATS, Format
from fashion_edge.runtime.manifest import DeviceReport, OrtBuild


class ConversionError(FashionEdgeError):
    """A converter (TensorFlow's, tf2onnx, onnxruntime's tools) failed on this model."""


@dataclass(frozen=True)
class Built:
    model: bytes
    choice: Choice | None = None       # the calibration search, for calibrated formats
    ort: OrtBuild | None = None        # how to run an ORT file, and its minimal-build operators
    output_step: float = 0.0           # a float-output file that is quantized inside (QDQ): its output step


class BuildContext:
    def __init__(self, model, workdir: Path, held_out: HeldOut, name: str = "",
                 onnx_properties: dict[str, str] | None = None) -> None:
        self.model, self.workdir, self.held_out = model, workdir, held_out
        self.name = name or model.name          # the bundle's model name: the key of per-model gates
        self.onnx_properties = onnx_properties or {}   # metadata_props every ONNX file carries (labels, contract)
        self._built: dict[str, Built] = {}
        self._reports: dict[str, DeviceReport] = {}
        self._saved_models: dict[bool, Path] = {}

    def build(self, name: str) -> Built:
        if name not in self._built:
            fmt = FORMATS[name]
            try:
                self._built[name] = CONVERTERS[fmt.converter](self, fmt)
            except FashionEdgeError:
                raise
            except Exception as exc:  # converters raise ValueError, RuntimeError, ConverterError, ...
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConversionError(f"{name}: conversion failed ({type(exc).__name__}: {first[:300]}); "
                                      "FASHION_EDGE_DEBUG=1 shows the converter's log") from exc
        return self._built[name]

    def saved_model(self, split_stem: bool = False) -> Path:
        """The model as a SavedModel, written once; `split_stem`: the variant for split-stem recipes."""
        if split_stem not in self._saved_models:
            folder = self.workdir / ("saved_model_split_stem" if split_stem else "saved_model")
            self._saved_models[split_stem] = tflite_export.write_saved_model(self.model, folder, split=split_stem)
        return self._saved_models[split_stem]

    def search(self, fmt: Format, recipes, make: Callable) -> Choice:
        """Build `fmt` once per calibration recipe; keep the best on the validation split."""
        return search(recipes, make, self.runner(fmt), self.held_out)

    def runner(self, fmt: Format) -> sensitivity.Run:
        """A file of `fmt` and frames -> its outputs, on the backend that measures `fmt`."""
        backend = choose_backend(fmt.name)
        return lambda blob, x: evaluate.logits(backend, blob, x)

    def device_report(self, name: str) -> DeviceReport:
        """Accelerator verdicts; an ORT file is judged by its ONNX source (the vendor's checker reads ONNX)."""
        if name not in self._reports:
            fmt = FORMATS[name]
            if fmt.family == "tflite":
                self._reports[name] = device_checks.tflite_report(self.build(name).model)
            elif fmt.family == "onnx":
                self._reports[name] = device_checks.onnx_report(self.build(name).model)
            else:
                source = self.device_report(fmt.source)
                self._reports[name] = DeviceReport(source.ops, source.shape_ops, source.tool,
                                                   accelerators=source.accelerators, checked_as=fmt.source)
        return self._reports[name]


CONVERTERS: dict[str, Callable[[BuildContext, Format], Built]] = {}


def converter(key: str):
    def register(fn: Callable[[BuildContext, Format], Built]):
        CONVERTERS[key] = fn
        return fn
    return register


@converter("tflite")
def _tflite(ctx: BuildContext, fmt: Format) -> Built:
    if fmt.calibrated:
        recipes = tflite_export.recipes(fmt.precision)
        choice = ctx.search(fmt, recipes,
                            lambda recipe, images: tflite_export.convert(ctx.saved_model(recipe.split_stem),
                                                                         fmt.precision, images, recipe))
        gate = fmt.gate_for(ctx.name)
        if fmt.precision == "int8" and choice.agreement < gate.min_agreement:
            choice = _rescued(ctx, fmt, recipes, choice, gate.min_agreement)
        return Built(choice.model, choice)
    return Built(tflite_export.convert(ctx.saved_model(), fmt.precision))


def _rescued(ctx: BuildContext, fmt: Format, recipes, choice: Choice, min_agreement: float) -> Choice:
    """Every declared recipe missed the gate: record which layers' int8 rounding flips answers, and add the
    recipe that keeps the most sensitive few float32 as one more candidate (export/sensitivity.py)."""
    agreement = {c.recipe: c.validation_agreement for c in choice.candidates}
    plain = [r for r in recipes if not (r.float_stem or r.split_stem or r.float_layers) and r.name in agreement]
    base = max(plain, key=lambda r: agreement[r.name])   # the first of the best, as the search breaks ties
    found = sensitivity.analyse(ctx.saved_model(), base, ctx.held_out, ctx.runner(fmt), min_agreement,
                                sensitivity.keras_layers(ctx.model))
    if found.candidate is None:
        return replace(choice, sensitivity=found.sensitivity)
    return choice.adding(found.candidate, found.sensitivity)


@converter("onnx-float")
def _onnx_float(ctx: BuildContext, fmt: Format) -> Built:
    return Built(_onnx_stamped(ctx, onnx_export.convert_float(ctx.model)))


@converter("onnx-qdq")
def _onnx_qdq(ctx: BuildContext, fmt: Format) -> Built:
    source = ctx.build(fmt.source).model
    choice = ctx.search(fmt, onnx_export.INT8_RECIPES,
                        lambda recipe, images: onnx_export.quantize_int8(source, images, recipe))
    model = _onnx_stamped(ctx, choice.model)   # the quantizer keeps metadata_props but renames the producer
    return Built(model, replace(choice, model=model), output_step=onnx_export.output_step(model))


def _onnx_stamped(ctx: BuildContext, model: bytes) -> bytes:
    """The ONNX file with the bundle's metadata_props and fashion-edge as its producer (ORT files keep both)."""
    return onnx_metadata.with_metadata(model, ctx.onnx_properties) if ctx.onnx_properties else model


@converter("ort")
def _ort(ctx: BuildContext, fmt: Format) -> Built:
    source = ctx.build(fmt.source)
    converted = ort_export.convert(source.model)
    ort = OrtBuild(ort_export.OPTIMIZATION_STYLE, converted.required_operators)
    return Built(converted.model, ort=ort, output_step=source.output_step)
