"""Why an int8 file misses the gate, layer by layer, and the recipe that keeps the culprits float32.

When no declared recipe reaches the gate's agreement on the validation split, the TFLite int8
converter runs this: it keeps ONE weighted op in float32 at a time (the quantizer's denylist, see
tflite_export.quantize) and counts the validation images whose top-1 against Keras flips with every
layer int8 and with that layer float; the difference is the flips that layer's quantization causes.
Then it keeps the k most sensitive layers float together, k = 1, 2, ... up to MAX_RESCUE (only layers
that cause flips, and never every weighted op: the file must still compute in int8), and offers the
smallest k that passes (else the best) as one more candidate.

Cost: one calibration, shared by every variant (quantizing a calibrated model takes ~0.03 s for the
demo models), then one validation pass per examined layer and per k tried. At most MAX_LAYERS layers
are examined: all weighted ops up to that, otherwise the MAX_LAYERS whose weights have the largest
max/RMS ratio (the coarsest int8 step for a typical weight), a static screen that cannot see
activation ranges; the others are left out of the report.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fashion_edge.export import tflite_export, tflite_io
from fashion_edge.export.calibration import Choice, HeldOut, Int8Recipe, search
from fashion_edge.runtime.sensitivity_record import LayerSensitivity, Rescue, Sensitivity

MAX_LAYERS = 24     # validation passes the report may spend, one per examined layer
MAX_RESCUE = 4      # at most this many layers kept float32 together: beyond that the file is hardly int8

Run = Callable[[bytes, np.ndarray], np.ndarray]   # a model file and uint8 frames -> its outputs


@dataclass(frozen=True)
class Analysis:
    """The report for the manifest, and the rescue candidate as a one-recipe search (None: none tried)."""

    sensitivity: Sensitivity
    candidate: Choice | None


def analyse(saved_model: Path, base: Int8Recipe, held_out: HeldOut, run: Run, min_agreement: float,
            layers: Sequence[str]) -> Analysis:
    """Per-layer flips of `base` (its calibration images and weight granularity) and the rescue candidate.

    `layers`: the Keras layer names to report ops by, in the order to prefer them (keras_layers).
    """
    plain = replace(base, float_stem=False, float_layers=())
    calibrated = tflite_export.calibrate(saved_model, held_out.calibration(plain))

    def flips(recipe: Int8Recipe) -> int:
        top1 = run(tflite_export.quantize(calibrated, recipe), held_out.images).argmax(1)
        return int((top1 != held_out.keras_top1).sum())

    all_int8 = flips(plain)
    ops = tflite_io.weighted_ops(calibrated)
    found = [LayerSensitivity(layer_name(op, layers), op.tensor, op.op,
                              all_int8 - flips(replace(plain, float_layers=(op.tensor,))))
             for op in examined(ops)]
    found.sort(key=lambda layer: -layer.flips)   # stable: graph order among equals
    culprits = [layer for layer in found if layer.flips > 0][:min(MAX_RESCUE, len(ops) - 1)]
    rescue, choice = _rescue(calibrated, plain, culprits, held_out, run, min_agreement)
    return Analysis(Sensitivity(len(held_out.images), all_int8, tuple(found), rescue), choice)


def _rescue(calibrated: bytes, plain: Int8Recipe, culprits: Sequence[LayerSensitivity], held_out: HeldOut, run: Run,
            min_agreement: float) -> tuple[Rescue | None, Choice | None]:
    """The smallest k whose first k `culprits` kept float pass `min_agreement`; if none, the best k tried."""
    best: tuple[Rescue, Choice] | None = None
    for k in range(1, len(culprits) + 1):
        recipe = replace(plain, name=f"{plain.name}-float-{k}", float_layers=tuple(c.tensor for c in culprits[:k]))
        choice = search([recipe], lambda r, _: tflite_export.quantize(calibrated, r), run, held_out)
        agreement = choice.agreement
        if best is None or agreement > best[0].validation_agreement:
            best = (Rescue(k, tuple(c.layer for c in culprits[:k]), agreement, agreement >= min_agreement), choice)
        if agreement >= min_agreement:
            break
    return best if best else (None, None)


def examined(ops: Sequence[tflite_io.WeightedOp]) -> tuple[tflite_io.WeightedOp, ...]:
    """All ops up to MAX_LAYERS; beyond, the MAX_LAYERS with the largest outlier ratio, in graph order."""
    if len(ops) <= MAX_LAYERS:
        return tuple(ops)
    keep = set(sorted(range(len(ops)), key=lambda i: -ops[i].outlier_ratio)[:MAX_LAYERS])
    return tuple(op for i, op in enumerate(ops) if i in keep)


def keras_layers(model) -> tuple[str, ...]:
    """The model's layer names, layers with weights first (a fused conv+BN+ReLU op is named by its conv)."""
    layers = list(model.layers)
    return tuple(layer.name for layer in layers if layer.weights) + tuple(l.name for l in layers if not l.weights)


def layer_name(op: tflite_io.WeightedOp, layers: Sequence[str]) -> str:
    """The first of `layers` named by a segment of the op's output or weight tensor names, else the tensor name.

    Tensor names are scope paths (`model_1/mid_conv_1/BiasAdd`, fused ops join several with ';'), where
    Keras scopes a layer `name` as `name_<n>`; the exact name is accepted too.
    """
    segments = {segment for name in (op.tensor, *op.weights) for part in name.split(";") for segment in part.split("/")}
    for layer in layers:
        scoped = re.compile(re.escape(layer) + r"_\d+")
        if layer in segments or any(scoped.fullmatch(segment) for segment in segments):
            return layer
    return op.tensor
