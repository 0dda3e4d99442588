"""Keras -> TFLite in four flavours, through a SavedModel.

Keras 3 models are converted from `model.export()` SavedModels: converting a traced tf.function
directly leaves variables unfrozen (READ_VARIABLE ops) and calibration fails.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from fashion_edge.export.calibration import Int8Recipe
from fashion_edge.export.device_graph import device_graph, input_spec, split_stem

# What the exporter tries for tflite-int8 (see calibration.py). TensorFlow's converter calibrates by
# min/max only; what it lets us choose is how many images and per-channel vs per-tensor weights.
INT8_RECIPES = (
    Int8Recipe("minmax-1k"),
    Int8Recipe("minmax-5k", images=5000),
    Int8Recipe("minmax-1k-per-tensor", per_channel=False),
    Int8Recipe("minmax-1k-float-stem", float_stem=True),
)
COMPUTE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def write_saved_model(model, folder: Path, split: bool = False) -> Path:
    """The batch-of-one, shape-op-free graph (see device_graph) as a SavedModel; `split`: with its
    stem split in two exact-int8 convolutions (device_graph.split_stem; NotApplicable without a stem)."""
    graph = device_graph(model)
    (split_stem(graph) if split else graph).export(str(folder), format="tf_saved_model",
                                                   input_signature=[input_spec(graph)], verbose=False)
    return folder


# 16-bit activations make calibrated ranges 256 times finer, so the calibration images barely matter
# (measured: 1k and 5k gave the same validation agreement) while each candidate costs a validation
# pass on reference kernels. What 16x8 still rounds is weights, and the stem's most (device_graph.
# split_stem): a 20-epoch edge model's 16x8 file agreed with Keras on 99.40% of test images, 99.90%
# with the stem split. Both are declared; the validation split chooses.
INT16X8_RECIPES = (Int8Recipe("minmax-1k"), Int8Recipe("minmax-1k-split-stem", split_stem=True))


def recipes(precision: str) -> tuple[Int8Recipe, ...]:
    return INT16X8_RECIPES if precision == "int16x8" else INT8_RECIPES


def convert(saved_model: Path, precision: str, calibration: np.ndarray | None = None,
            recipe: Int8Recipe | None = None) -> bytes:
    """One TFLite flatbuffer; `calibration` (static quantization only) is uint8 device frames (N, H, W, C)."""
    import tensorflow as tf

    if precision not in ("float32", "float16", "dynamic", "int8", "int16x8"):
        raise ValueError(f"no TFLite conversion for precision {precision!r}")
    if recipe is not None and recipe.split_stem and not recipe.per_channel:
        raise ValueError("a split stem relies on per-channel weights: its rounded half is exact only per channel")
    if precision == "int8" and recipe is not None and (recipe.float_stem or recipe.float_layers):
        return quantize(calibrate(saved_model, calibration), recipe)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if precision != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: dynamic range (int8 weights, float activations)
    if precision == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if precision in ("int8", "int16x8"):
        converter.representative_dataset = _representative(calibration)
        if recipe is not None and not recipe.per_channel:
            converter._experimental_disable_per_channel = True  # the converter's only switch for it
    if precision == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # uint8 in and out: a device feeds raw pixels (the calibrated input scale is 1, zero point 0)
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    if precision == "int16x8":
        # int16 activations, int8 weights; float32 in and out (the converter quantizes at the edges)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return bytes(converter.convert())


def _representative(calibration: np.ndarray):
    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    return representative


def calibrate(saved_model: Path, calibration: np.ndarray) -> bytes:
    """The float model with each tensor's range on `calibration` recorded: what every int8 variant that keeps
    some layers float is quantized from, so trying many such variants (export/sensitivity.py) calibrates once."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_calibrate_only = True
    return bytes(converter.convert())


def quantize(calibrated: bytes, recipe: Int8Recipe) -> bytes:
    """Int8 everywhere but the recipe's float layers (and its stem), with uint8 ends like every int8 file.

    The converter has no switch for it; its own selective-quantization path does (what
    tf.lite.experimental.QuantizationDebugger's `denylisted_nodes` drives): quantize a calibrated model
    with the float ops' output tensors denylisted. Asked for uint8 ends, the quantizer adds the
    DEQUANTIZE a float first op needs and the QUANTIZE after a float last op (see tflite_io).
    """
    import tensorflow as tf
    from tensorflow.lite.python import convert as tflite_convert

    from fashion_edge.export.tflite_io import op_outputs, stem_output

    unknown = set(recipe.float_layers) - op_outputs(calibrated)
    if unknown:
        raise ValueError(f"recipe {recipe.name}: no op outputs {', '.join(sorted(unknown))} in this model's graph")
    float_ops = ([stem_output(calibrated, COMPUTE_OPS)] if recipe.float_stem else []) + list(recipe.float_layers)
    return bytes(tflite_convert.mlir_quantize(calibrated, disable_per_channel=not recipe.per_channel,
                                              input_data_type=tf.uint8, output_data_type=tf.uint8,
                                              denylisted_nodes=float_ops))
