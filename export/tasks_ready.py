"""Files MediaPipe Tasks' ImageClassifier loads as they are: verdicts for the bundle's TFLite files, and
Tasks-ready variants for those it cannot load.

The ImageClassifier takes a 1xHxWx3 RGB tensor, uint8 or float32, one mean and one std, and applies no
softmax (mediapipe/tasks/cc/vision/utils/image_tensor_specs.cc and its classification processors). A
bundle's TFLite files take the contract's tensor and return what the model returns, so a grey model or
one that ends in logits needs a variant: the same model with RGB-to-grey in the graph (ITU-R 601-2
luma, Pillow's "L" weights) and a softmax appended, taking uint8 RGB. `tasks-float32.tflite` computes in
float; `tasks-int8.tflite` is quantized with the calibration recipe tflite-int8 chose. Each variant is
gated against Keras like every file, with its base format's gate, and carries the metadata.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fashion_edge.export import evaluate, tflite_export
from fashion_edge.export.calibration import Int8Recipe
from fashion_edge.export.device_graph import INPUT_NAME, device_graph
from fashion_edge.export.parity import compare
from fashion_edge.runtime.contract import InputContract, OutputContract, OutputKind
from fashion_edge.runtime.manifest import FormatEntry
from fashion_edge.runtime.recipes import FASHION_MNIST
from fashion_edge.runtime.tasks_record import TasksFile, TasksVerdict

GREY_WEIGHTS = (0.299, 0.587, 0.114)      # Pillow's convert("L"), the photo recipes' grey
INPUT_DTYPES = ("uint8", "float32")       # what the ImageClassifier feeds
OUTPUT_DTYPES = ("uint8", "float32")
VARIANTS = {"tflite-int8": "tasks-int8.tflite", "tflite-float32": "tasks-float32.tflite"}


@dataclass(frozen=True)
class Variant:
    """One Tasks-ready variant to build: its file, the format it is made from, what it adds to the graph."""

    file: str
    based_on: str
    grey: bool
    softmax: bool

    @property
    def changes(self) -> tuple[str, ...]:
        return (("uint8 RGB input",) + (("RGB to grey in the graph",) if self.grey else ())
                + (("softmax appended",) if self.softmax else ()))


def reasons(input_dtype: str, output_dtype: str, contract: InputContract, output: OutputContract) -> tuple[str, ...]:
    """Why MediaPipe's ImageClassifier cannot run a file with these tensors as it is (empty: it can)."""
    found = []
    if contract.channels != 3:
        found.append(f"grey input (1x{contract.height}x{contract.width}x1): MediaPipe feeds 1xHxWx3 RGB")
    if input_dtype not in INPUT_DTYPES:
        found.append(f"{input_dtype} input: MediaPipe feeds uint8 or float32")
    if output_dtype not in OUTPUT_DTYPES:
        found.append(f"{output_dtype} output: MediaPipe reads uint8 or float32")
    if output.kind is OutputKind.LOGITS:
        found.append("outputs logits: MediaPipe applies no softmax, its scores would not be probabilities")
    return tuple(found)


def plan(entries: dict[str, FormatEntry], contract: InputContract,
         output: OutputContract) -> tuple[dict[str, TasksVerdict], tuple[Variant, ...]]:
    """Every TFLite format's verdict, and the variants to build for the float32 and int8 files that need one."""
    tflite = {name: e for name, e in entries.items() if name.startswith("tflite-")}
    why = {name: reasons(e.input.dtype, e.output.dtype, contract, output) for name, e in tflite.items()}
    variants = tuple(Variant(file, base, contract.channels == 1, output.kind is OutputKind.LOGITS)
                     for base, file in VARIANTS.items() if why.get(base))
    files = {v.based_on: v.file for v in variants}
    fallback = files.get("tflite-float32") or files.get("tflite-int8")
    verdicts = {name: TasksVerdict(not r, r, None if not r else files.get(name, fallback))
                for name, r in why.items()}
    return verdicts, variants


def recipe_note(contract: InputContract) -> str:
    """How MediaPipe's own preprocessing relates to the bundle's recipe (it resizes the whole image to HxW)."""
    p = contract.preprocessing
    if p.id == FASHION_MNIST:
        return ("MediaPipe resizes the whole photo to 28x28 and the graph turns it grey: the answers hold for "
                "dataset-style frames (one garment, centred, light on a black background), not for shop photos, "
                "which fashion-mnist-v1 crops, inverts and centres first")
    resize = _value(p.parameters.get("resize", "stretch"))
    if resize == "stretch":
        return (f"MediaPipe stretches the whole image to {contract.height}x{contract.width}, as photo-v1 does; "
                f"its filter is its own (bilinear without antialiasing), not Pillow's "
                f"{_value(p.parameters.get('interpolation', 'bilinear'))}, so photos larger than the tensor may differ "
                "slightly; frames at the tensor's size are classified exactly as by the runtime")
    return (f"photo-v1 {resize}s to the tensor's aspect ratio; MediaPipe stretches the whole image: {resize} the "
            f"photo first (or pass a region of interest), or its answers are for a distorted image")


def _value(parameter) -> str:
    return str(getattr(parameter, "value", parameter))


def tasks_graph(model, grey: bool, softmax: bool, uint8_input: bool):
    """The Keras graph of a variant: (uint8 or float) RGB pixels 0..255 -> [grey] -> the model -> [softmax]."""
    import keras

    height, width = model.inputs[0].shape[1:3]
    inputs = keras.Input((height, width, 3), batch_size=1, dtype="uint8" if uint8_input else "float32",
                         name=INPUT_NAME)
    x = _to_float()(inputs) if uint8_input else inputs
    if grey:
        luma = keras.layers.Conv2D(1, 1, use_bias=False, name="rgb_to_grey")
        x = luma(x)
        luma.set_weights([np.asarray(GREY_WEIGHTS, np.float32).reshape(1, 1, 3, 1)])
    y = device_graph(model)(x)
    if softmax:
        y = keras.layers.Softmax(name="probabilities")(y)
    return keras.Model(inputs, y, name=f"{model.name}_tasks")


def _to_float():
    import keras

    class ToFloat(keras.layers.Layer):
        """uint8 pixels -> float32, the same values: the float variant's input stays the device's uint8."""

        def call(self, x):
            return keras.ops.cast(x, "float32")

    return ToFloat(name="to_float")


def build(model, variant: Variant, workdir: Path, calibration: np.ndarray, recipe: Int8Recipe | None) -> bytes:
    """The variant's TFLite file (no metadata yet)."""
    import tensorflow as tf

    quantized = variant.based_on == "tflite-int8"
    graph = tasks_graph(model, variant.grey, variant.softmax, uint8_input=not quantized)
    folder = workdir / f"tasks_{variant.based_on}"
    dtype = tf.float32 if quantized else tf.uint8
    graph.export(str(folder), format="tf_saved_model", verbose=False,
                 input_signature=[tf.TensorSpec((1, *graph.inputs[0].shape[1:]), dtype, name=INPUT_NAME)])
    if not quantized:
        return tflite_export.convert(folder, "float32")
    rgb = as_rgb(calibration) if variant.grey else calibration
    if recipe is not None and recipe.float_layers:     # the sensitivity rescue: the same layers float here
        from fashion_edge.export.tflite_io import op_outputs

        calibrated = tflite_export.calibrate(folder, rgb)
        renamed = replace(recipe, float_layers=renamed_layers(recipe.float_layers, op_outputs(calibrated)))
        return tflite_export.quantize(calibrated, renamed)
    return tflite_export.convert(folder, "int8", rgb, recipe)


def renamed_layers(names: tuple[str, ...], outputs: set[str]) -> tuple[str, ...]:
    """The base graph's op output names as the variant's graph names them: the variant nests the model one
    scope deeper (`<model>_tasks_1/<model>_1/...`) and the converter numbers fused names afresh, so an op
    is the one whose first fused name ends in the base op's first fused name. ValueError unless each
    matches exactly one."""
    found = []
    for name in names:
        head = name.split(";")[0]
        matches = [o for o in outputs if o.split(";")[0] == head or o.split(";")[0].endswith("/" + head)]
        if len(matches) != 1:
            raise ValueError(f"float layer {head!r}: {len(matches)} ops of the Tasks-ready graph match it")
        found.append(matches[0])
    return tuple(found)


def gate(variant: Variant, blob: bytes, model_name: str, test: np.ndarray, labels: np.ndarray,
         keras_outputs: np.ndarray, output: OutputContract) -> TasksFile:
    """The variant against Keras on the held-out images, with its base format's gate (top-1, accuracy)."""
    from fashion_edge.runtime.bundle import sha256_bytes

    frames = as_rgb(test) if variant.grey else test
    got = evaluate.logits("litert", blob, frames)
    want = _softmax(keras_outputs) if output.kind is OutputKind.LOGITS else keras_outputs
    parity = compare(variant.based_on, model_name, want, got, labels)
    failures = parity.failures          # on probabilities, |Δ| bounds (float files) bind at least as tightly
    return TasksFile(variant.file, len(blob), sha256_bytes(blob), variant.based_on, variant.changes,
                     parity.agreement, parity.accuracy, parity.images, parity.max_abs_logit_diff,
                     not failures, failures)


def as_rgb(frames: np.ndarray) -> np.ndarray:
    """Grey frames as the RGB frames a camera would give for them (R = G = B)."""
    return np.ascontiguousarray(np.repeat(frames, 3, axis=-1))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
