"""Train one model of the zoo on a Keras-style image folder and write artifacts/<model>/ in one atomic step.

The images stream from disk through Keras' own loader (keras.utils.image_dataset_from_directory) on a
view of each part of the folder's split (train/folder.py), at --image-size, in --color, resized as
--resize says with bilinear interpolation. Photo augmentation runs in the tf.data pipeline, so the
saved model holds no augmentation layers and exports clean. A pretrained base (ImageNet or a weights
file) first trains the head with the base frozen, then fine-tunes everything at a tenth of the
learning rate.
"""
from __future__ import annotations

import contextlib
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from fashion_edge.runtime.contract import Colour
from fashion_edge.runtime.errors import DataError, UsageError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.recipes import Interpolation, Resize
from fashion_edge.train.artifacts import library_versions, staged_dir
from fashion_edge.train.augment import without_autotune
from fashion_edge.train.folder import ImageFolder, Part, keras_view, scan_folder
from fashion_edge.train.models import BASE, IMAGENET, MODELS, TrainingRecipe, Weights, check_input, compile_model
from fashion_edge.train.trainer import (FLASHCARDS, TrainResult, progress_verbosity, run_metrics, spec_and_recipe,
                                        steps_per_epoch, write_artifacts)

INTERPOLATION = Interpolation.BILINEAR     # Keras' loader default, and photo-v1's on the device
FOLDER_BATCH = 32         # at most: a folder of a few hundred photos still gets several steps per epoch
FINE_TUNE_RATE = 0.1      # the fine-tuning phase's learning rate, as a fraction of the recipe's
EVAL_BATCH = 64


@dataclass(frozen=True)
class FolderTrainConfig:
    """What to train on which image folder; validated when made, so the CLI fails before TensorFlow loads."""

    model: str
    data: Path
    out: Path = Path("artifacts")
    image_size: tuple[int, int] | None = None   # (H, W); None: the model's folder_size
    color: Colour = Colour.RGB
    resize: Resize = Resize.STRETCH
    weights: Weights = None                     # pretrainable models only: IMAGENET, a weights file, None (random)
    epochs: int | None = None
    seed: int = 0
    quick: bool = False                         # the model's short recipe (smoke tests, CI)
    verbose: int | None = None                  # None: progress bar in a terminal, one line per epoch otherwise
    name: str | None = None                     # the artifacts folder under `out` (default: the model's name)

    def __post_init__(self) -> None:
        for name, kind in (("color", Colour), ("resize", Resize)):
            try:
                object.__setattr__(self, name, kind(getattr(self, name)))
            except ValueError:
                raise UsageError(f"{name} must be one of {', '.join(k.value for k in kind)}, "
                                 f"not {getattr(self, name)!r}") from None
        spec, _ = spec_and_recipe(self)
        if self.weights is not None and not spec.pretrainable:
            pretrainable = ", ".join(name for name, s in MODELS.items() if s.pretrainable)
            raise UsageError(f"--weights applies to the pretrainable bases ({pretrainable}); "
                             f"{self.model} starts from random weights")
        check_input(self.model, self.input_shape)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.image_size) if self.image_size else MODELS[self.model].folder_size

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.size, self.color.channels)


@dataclass(frozen=True)
class PhotoAugmentation:
    """Random changes to each training batch: Keras preprocessing layers in tf.data, never in the model."""

    flip: bool = True            # mirror left-right
    rotation: float = 0.05       # up to this fraction of a full turn (18 degrees) either way
    zoom: float = 0.1            # in or out by up to 10%
    translation: float = 0.1     # moved by up to 10% of the height and width
    contrast: float = 0.1        # contrast scaled by 0.9..1.1

    def pipeline(self, keras, seed: int):
        """The Keras layers that apply it, each seeded from `seed`."""
        layers = keras.layers
        stack = [layers.RandomFlip("horizontal", seed=seed)] if self.flip else []
        stack += [layers.RandomRotation(self.rotation, seed=seed + 1),
                  layers.RandomZoom(self.zoom, seed=seed + 2),
                  layers.RandomTranslation(self.translation, self.translation, seed=seed + 3),
                  layers.RandomContrast(self.contrast, value_range=(0, 255), seed=seed + 4)]
        return keras.Sequential(stack, name="photo_augmentation")


@dataclass(frozen=True)
class Phase:
    """One fit call: its recipe (epochs, learning rate) and whether the pretrained base stays frozen."""

    recipe: TrainingRecipe
    frozen_base: bool


def scan(config: FolderTrainConfig) -> ImageFolder:
    """The folder's classes and split for this config (its seed): a folder problem fails before TensorFlow loads."""
    return scan_folder(Path(config.data), seed=config.seed)


def train_folder(config: FolderTrainConfig, folder: ImageFolder | None = None) -> TrainResult:
    """Fit on the train part, judge on val after every epoch, evaluate on test; write model, metrics and plots.

    `folder` is scan(config) when the caller has it already."""
    _, recipe = spec_and_recipe(config)
    recipe = replace(recipe, batch_size=min(recipe.batch_size, FOLDER_BATCH), shift=0)  # translation: augmentation's
    folder = scan(config) if folder is None else folder
    out = Path(config.out) / (config.name or config.model)
    with staged_dir(out) as stage, contextlib.ExitStack() as views:
        return _train_into(stage, out, config, recipe, folder, views)


def _train_into(stage: Path, out: Path, config: FolderTrainConfig, recipe: TrainingRecipe, folder: ImageFolder,
                views: contextlib.ExitStack) -> TrainResult:
    keras = require("keras", "train", "training")
    tf = require("tensorflow", "train", "training")
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same weights, run after run
    spec = MODELS[config.model]
    train_part, val_part = folder.parts["train"], folder.parts["val"]
    augmentation = PhotoAugmentation(flip=recipe.flip)
    fit_data = _stream(keras, tf, views, folder, train_part, config, recipe.batch_size, shuffle=True)
    fit_data = _augmented(tf, fit_data, augmentation.pipeline(keras, config.seed))
    val_data = _stream(keras, tf, views, folder, val_part, config, EVAL_BATCH) if len(val_part) else None
    model = spec.build(config.input_shape, len(folder.classes),
                       **({"weights": config.weights} if spec.pretrainable else {}))
    phases = training_phases(recipe, pretrained=spec.pretrainable and config.weights is not None)
    with _readable(config.data, tf):
        history, seconds = _fit(model, phases, steps_per_epoch(len(train_part), recipe.batch_size), fit_data,
                                val_data, config)
        test_part = folder.parts["test"]
        y_test, logits, cards = _evaluate(model, _stream(keras, tf, views, folder, test_part, config, EVAL_BATCH),
                                          len(test_part))
    metrics = {
        **run_metrics(config, spec, recipe, folder.classes, y_test, logits, model, history, seconds,
                      fit_images=len(train_part), validation_images=len(val_part)),
        "workers": 1,
        "data_source": str(Path(folder.root).resolve()),
        "labels": list(folder.classes),
        "versions": library_versions(),
        "data": data_record(folder, config),
        "augmentation": asdict(augmentation),
    }
    if spec.pretrainable:
        metrics["transfer"] = _transfer_record(config.weights, phases)
    write_artifacts(stage, model, history, metrics, folder.classes, cards, photos=True)
    return TrainResult(out, metrics["test_accuracy"], metrics["params"], recipe.epochs, seconds)


def data_record(folder: ImageFolder, config: FolderTrainConfig) -> dict:
    """metrics.json's "data": where the images came from, their split and how they were read, for export."""
    return {"kind": "image-folder", "root": str(Path(folder.root).resolve()), "split": folder.split.to_json(),
            "image_size": list(config.size), "color": config.color.value, "resize": config.resize.value,
            "interpolation": INTERPOLATION.value}


def _stream(keras, tf, views: contextlib.ExitStack, folder: ImageFolder, part: Part, config: FolderTrainConfig,
            batch: int, shuffle: bool = False):
    """Batches of (float32 0..255 pixels, class ids) decoded from disk by Keras' loader, in keras_order
    unless shuffled (then the file list is shuffled with the seed, and again each epoch before decoding)."""
    view = views.enter_context(keras_view(part.paths, part.labels, folder.classes))
    return without_autotune(tf, keras.utils.image_dataset_from_directory(
        view, labels="inferred", label_mode="int", class_names=list(folder.classes),
        color_mode=config.color.value, batch_size=batch, image_size=config.size, shuffle=shuffle,
        seed=config.seed, interpolation=INTERPOLATION.value, crop_to_aspect_ratio=config.resize is Resize.CROP,
        pad_to_aspect_ratio=config.resize is Resize.PAD, verbose=False))


def _augmented(tf, ds, augmentation):
    """The batches through the augmentation layers, one batch at a time, in order (reproducible)."""
    ds = ds.map(lambda images, labels: (augmentation(images, training=True), labels),
                num_parallel_calls=1, deterministic=True)
    return without_autotune(tf, ds.prefetch(2))


def training_phases(recipe: TrainingRecipe, pretrained: bool) -> tuple[Phase, ...]:
    """Random weights: one phase, everything trains. Pretrained: the first half of the epochs (rounded up)
    train the head on a frozen base, the rest fine-tune everything at FINE_TUNE_RATE of the learning rate."""
    if not pretrained:
        return (Phase(recipe, frozen_base=False),)
    head = (recipe.epochs + 1) // 2
    phases = [Phase(replace(recipe, epochs=head), frozen_base=True)]
    if recipe.epochs > head:
        phases.append(Phase(replace(recipe, epochs=recipe.epochs - head,
                                    learning_rate=recipe.learning_rate * FINE_TUNE_RATE), frozen_base=False))
    return tuple(phases)


def _fit(model, phases: tuple[Phase, ...], steps: int, fit_data, val_data, config: FolderTrainConfig):
    verbose = progress_verbosity(config.verbose)
    history: dict[str, list[float]] = {}
    done = 0
    start = time.perf_counter()
    for phase in phases:
        if any(layer.name == BASE for layer in model.layers):
            model.get_layer(BASE).trainable = not phase.frozen_base
        compile_model(model, phase.recipe, phase.recipe.epochs * steps)  # a fresh optimizer for each phase
        fitted = model.fit(fit_data, epochs=done + phase.recipe.epochs, initial_epoch=done,
                           validation_data=val_data, verbose=verbose)
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        done += phase.recipe.epochs
    return history, time.perf_counter() - start


def _evaluate(model, test_data, count: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Test labels and logits in the loader's order (class by class), and the flashcards: (images, labels,
    logits) of FLASHCARDS test images spread evenly over that order, so every class shows up."""
    picked = np.unique(np.linspace(0, count - 1, min(FLASHCARDS, count)).round().astype(int))
    labels, logits, cards = [], [], []
    seen = 0
    for x, y in test_data:
        logits.append(np.asarray(model(x, training=False)))
        labels.append(np.asarray(y))
        here = picked[(picked >= seen) & (picked < seen + len(labels[-1]))] - seen
        cards.append(np.clip(np.round(np.asarray(x)[here]), 0, 255).astype(np.uint8))
        seen += len(labels[-1])
    y_test, all_logits = np.concatenate(labels), np.concatenate(logits)
    return y_test, all_logits, (np.concatenate(cards), y_test[picked], all_logits[picked])


def _transfer_record(weights: Weights, phases: tuple[Phase, ...]) -> dict:
    """metrics.json's "transfer": the base's starting weights, its frozen epochs and the fine-tuning rate
    (None when nothing was fine-tuned: a random base trains whole from the start)."""
    frozen = sum(p.recipe.epochs for p in phases if p.frozen_base)
    tuned = [p.recipe.learning_rate for p in phases if not p.frozen_base] if frozen else []
    return {"weights": "none" if weights is None else str(weights if weights == IMAGENET else Path(weights).resolve()),
            "frozen_base_epochs": frozen, "fine_tune_learning_rate": tuned[0] if tuned else None}


@contextlib.contextmanager
def _readable(root: Path, tf):
    """TensorFlow's decode errors (an image it cannot read) as one DataError naming the folder."""
    try:
        yield
    except tf.errors.InvalidArgumentError as exc:
        text = re.sub(r"\s*\[\[?[^\]]*\]\]?", "", " ".join(str(exc.message).split()))   # without [[node ...]]
        reason = text.rsplit(": ", 1)[-1][:200]   # the decoder's own words come last
        raise DataError(f"{root}: TensorFlow cannot decode one of its images ({reason})") from None
