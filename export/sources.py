"""What `fashion-edge export` reads: a Keras model (a `.keras` file, or a training artifacts folder) and
the images it is calibrated and gated on (an image folder, or Fashion-MNIST's IDX files).

A training artifacts folder brings its own record of how it was trained (metrics.json): its data
folder, split, image size and resize mode become the export's defaults, so the parity gate measures
on images training never saw and the device is fed as training fed the model.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fashion_edge.runtime.errors import DataError, UsageError
from fashion_edge.runtime.extras import require
from fashion_edge.train.artifacts import ArtifactError

MODEL_FILE = "model.keras"


@dataclass(frozen=True)
class Source:
    """A model to export: where it is, what the bundle is called and where it goes by default."""

    name: str
    model_path: Path
    default_out: Path
    metrics: Mapping[str, Any] = field(default_factory=dict)   # the artifacts folder's metrics.json ({} for a file)

    @property
    def training_seed(self) -> int:
        """The seed training split its validation images with, so they stay held out here."""
        seed = self.metrics.get("seed", 0)
        return seed if isinstance(seed, int) else 0

    @property
    def data(self) -> Mapping[str, Any]:
        """Training's record of an image folder (kind, root, split, image size, resize mode), or {}."""
        data = self.metrics.get("data")
        return data if isinstance(data, dict) and data.get("kind") == "image-folder" else {}


def resolve(path: Path) -> Source:
    """A `.keras` file, or a folder holding model.keras (what `fashion-edge train` writes)."""
    path = Path(path)
    if path.is_dir():
        model = path / MODEL_FILE
        if not model.is_file():
            raise ArtifactError(f"{model}: not found; train first (fashion-edge train --model {path.name}) "
                                "or pass a .keras file")
        return Source(path.name, model, path / "bundle", _metrics(path / "metrics.json"))
    if path.is_file():
        if path.suffix != ".keras":
            raise ArtifactError(f"{path}: not a Keras model file (export takes a .keras file or a training "
                                "artifacts folder)")
        return Source(path.stem, path, path.with_name(f"{path.stem}-bundle"))
    raise ArtifactError(f"{path}: no such model file or folder; train first (fashion-edge train) or pass a .keras file")


def _metrics(path: Path) -> Mapping[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def load_model(path: Path):
    """The Keras model, for inference only; anything that is not one is an ArtifactError, not a traceback."""
    keras = require("keras", "export", "exporting")
    try:
        return keras.saving.load_model(path, compile=False)  # no optimizer or loss needed
    except Exception as exc:  # zip, h5 and deserialisation errors all mean "not a usable model"
        raise ArtifactError(f"{path}: not a loadable Keras model ({exc.__class__.__name__}: "
                            f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''})") from exc


def classifier_shape(model) -> tuple[tuple[int, int, int], int]:
    """((H, W, C), classes) of a Keras image classifier; anything else is an ArtifactError saying how."""
    inputs, outputs = list(model.inputs), list(model.outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ArtifactError(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; "
                            "an image classifier has one image input and one output")
    shape, out = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if len(shape) != 4 or None in shape[1:] or shape[3] not in (1, 3):
        raise ArtifactError(f"the model's input is {shape}; export takes images (N, H, W, C) of a fixed size, "
                            "C 1 (grey) or 3 (RGB)")
    if len(out) != 2 or out[1] is None or out[1] < 2:
        raise ArtifactError(f"the model's output is {out}; export takes one score per class, (N, classes)")
    return tuple(int(s) for s in shape[1:]), int(out[1])


@dataclass(frozen=True)
class Normalisation:
    """The pixels a model was trained on: (pixel - mean) / std, per channel, in 0..255 pixel units."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def for_channels(self, channels: int) -> "Normalisation":
        """One value per channel (a single value applies to every channel)."""
        mean, std = (self.mean * channels if len(self.mean) == 1 else self.mean,
                     self.std * channels if len(self.std) == 1 else self.std)
        if len(mean) != channels or len(std) != channels:
            raise UsageError(f"--mean and --std take 1 or {channels} values for this {channels}-channel model, "
                             f"not {len(self.mean)} and {len(self.std)}")
        return Normalisation(mean, std)

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std), "units": "pixels 0..255", "folded_into_graph": True}


def parse_values(text: str, flag: str, positive: bool = False) -> tuple[float, ...]:
    """'0.5' or '123.7,116.3,103.5' -> floats; a typo is a UsageError naming the flag."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{flag} takes numbers separated by commas (e.g. 127.5 or 123.7,116.3,103.5), "
                         f"not {text!r}") from None
    if len(values) not in (1, 3) or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise UsageError(f"{flag} takes 1 or 3 finite numbers, not {text!r}")
    if positive and any(v <= 0 for v in values):
        raise UsageError(f"{flag} values must be above 0, not {text!r}")
    return values


def with_normalisation(model, normalisation: Normalisation):
    """`model` behind its normalisation: the result takes 0..255 pixels, so the device tensor stays uint8
    pixels and int8 files keep a plain uint8 input (the scaling is one more layer of the graph)."""
    import keras
    import numpy as np

    (h, w, c), _ = classifier_shape(model)
    n = normalisation.for_channels(c)
    std, mean = np.asarray(n.std, np.float32), np.asarray(n.mean, np.float32)
    inputs = keras.Input(shape=(h, w, c), name="pixels")
    scaled = keras.layers.Rescaling(scale=1.0 / std, offset=-mean / std, name="normalisation")(inputs)
    return keras.Model(inputs, model(scaled), name=f"{model.name}_on_pixels")


def read_labels(path: Path, classes: int) -> tuple[str, ...]:
    """A label file: one class name per line, in output order, as many as the model has outputs."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the label file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError:
        raise DataError(f"{path}: the label file is not UTF-8 text") from None
    while lines and not lines[-1].strip():
        lines.pop()
    labels = tuple(line.strip() for line in lines)
    if len(labels) != classes:
        raise DataError(f"{path}: {len(labels)} labels for a model with {classes} outputs (one name per line)")
    empty = [i + 1 for i, name in enumerate(labels) if not name]
    if empty:
        raise DataError(f"{path}: line {empty[0]} is an empty label")
    if len(set(labels)) != len(labels):
        twice = next(name for name in labels if labels.count(name) > 1)
        raise DataError(f"{path}: the label {twice!r} appears twice")
    return labels
