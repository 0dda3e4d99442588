"""Train one model on real Fashion-MNIST and write artifacts/<model>/ in one atomic step.

On one host, or on a tf.distribute cluster (TF_CONFIG, one process per host): every worker trains
its shard of each batch, and only the chief writes the artifacts.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fashion_edge.runtime.errors import DataError, UsageError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.labels import LABELS
from fashion_edge.train import plots
from fashion_edge.train.artifacts import library_versions, staged_dir
from fashion_edge.train.cluster import Cluster, prepare_model
from fashion_edge.train.data import FashionMNIST, load_fashion_mnist
from fashion_edge.train.models import MODELS, ModelSpec, TrainingRecipe, compile_model, ema_applies

FLASHCARDS = 30


@dataclass(frozen=True)
class TrainConfig:
    """What to train and where; `limit` trains on the first N training images (tests, smoke runs)."""

    model: str
    out: Path = Path("artifacts")
    epochs: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    limit: int | None = None
    quick: bool = False                 # the model's short recipe (smoke tests, CI)
    verbose: int | None = None          # None: progress bar in a terminal, one line per epoch otherwise
    cluster: Cluster | None = None      # None: read TF_CONFIG; a single-worker cluster trains locally


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    test_accuracy: float
    params: int
    epochs: int
    seconds: float
    workers: int = 1


@dataclass(frozen=True)
class Split:
    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def train(config: TrainConfig) -> TrainResult:
    """Fit, evaluate on the untouched test set, and write model, metrics, history and plots."""
    spec, recipe = spec_and_recipe(config)
    data = load_fashion_mnist(config.data_dir)  # a data or folder problem fails before TensorFlow loads
    cluster = config.cluster or Cluster.from_environment()
    out = Path(config.out) / config.model
    if cluster.is_chief:
        with staged_dir(out) as stage:
            return _train_into(stage, out, config, spec, recipe, data, cluster)
    with tempfile.TemporaryDirectory() as scratch:  # other workers save too (collectives), then discard
        return _train_into(Path(scratch), out, config, spec, recipe, data, cluster)


def spec_and_recipe(config) -> tuple[ModelSpec, TrainingRecipe]:
    """The model's spec and its recipe (quick or full, --epochs applied) from a config's model, quick and epochs."""
    if config.model not in MODELS:
        raise UsageError(f"unknown model {config.model!r}; choose from {', '.join(MODELS)}")
    spec = MODELS[config.model]
    recipe = spec.quick if config.quick else spec.recipe
    if config.epochs is not None:
        if config.epochs < 1:
            raise UsageError("--epochs must be at least 1")
        recipe = TrainingRecipe(**{**asdict(recipe), "epochs": config.epochs})
    return spec, recipe


def _train_into(stage: Path, out: Path, config: TrainConfig, spec: ModelSpec, recipe: TrainingRecipe,
                data: FashionMNIST, cluster: Cluster) -> TrainResult:
    keras = require("keras", "train", "training")
    tf = require("tensorflow", "train", "training")
    strategy = cluster.strategy(tf)  # before any other TensorFlow op, as tf.distribute requires
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same weights, run after run
    split = _split(data, config)
    with strategy.scope():  # Keras 3 distributes fit/predict only inside the strategy's scope
        model = spec.build()
        compile_model(model, recipe, recipe.epochs * steps_per_epoch(len(split.x_fit), recipe.batch_size))
        if cluster.distributed:
            prepare_model(model, (split.x_fit[:recipe.batch_size, ..., None].astype("float32"), split.y_fit[:recipe.batch_size]))
        history, seconds = _fit(tf, model, recipe, split, config, cluster)
    logits = _logits(model, data.x_test)
    metrics = _metrics(config, spec, recipe, split, data, logits, history, seconds, model, cluster)
    _write(stage, model, history, metrics, data, logits)
    return TrainResult(out, metrics["test_accuracy"], metrics["params"], recipe.epochs, seconds, cluster.workers)


def _split(data: FashionMNIST, config: TrainConfig) -> Split:
    x_fit, y_fit, x_val, y_val = data.split_validation(seed=config.seed)
    if config.limit:
        x_fit, y_fit = x_fit[: config.limit], y_fit[: config.limit]
        x_val, y_val = x_val[: max(config.limit // 10, 100)], y_val[: max(config.limit // 10, 100)]
    if len(x_fit) == 0:
        raise DataError("no training images selected")
    return Split(x_fit, y_fit, x_val, y_val)


def steps_per_epoch(images: int, batch_size: int) -> int:
    return int(np.ceil(images / batch_size))


def _fit(tf, model, recipe: TrainingRecipe, split: Split, config: TrainConfig, cluster: Cluster):
    from fashion_edge.train.augment import training_data, validation_data

    verbose = progress_verbosity(config.verbose)
    if not cluster.is_chief:
        verbose = 0
    start = time.perf_counter()
    history = model.fit(
        cluster.distribute(tf, training_data(tf, split.x_fit, split.y_fit, recipe, config.seed)),
        epochs=recipe.epochs,
        validation_data=cluster.distribute(tf, validation_data(tf, split.x_val, split.y_val)),
        verbose=verbose,
    )
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return hist, time.perf_counter() - start


def progress_verbosity(verbose: int | None) -> int:
    """Keras fit's verbosity: as given, else a progress bar in a terminal and one line per epoch otherwise."""
    return verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)


def _logits(model, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Test-set logits by plain calls on each worker's own copy of the weights: model.predict under
    MultiWorkerMirroredStrategy scatters and gathers the batches and returns them out of order."""
    return np.concatenate([np.asarray(model(images[i:i + batch, ..., None].astype(np.float32), training=False))
                           for i in range(0, len(images), batch)])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = len(LABELS)) -> np.ndarray:
    return np.bincount(y_true.astype(int) * n + y_pred, minlength=n * n).reshape(n, n)


def _metrics(config: TrainConfig, spec: ModelSpec, recipe: TrainingRecipe, split: Split, data: FashionMNIST,
             logits: np.ndarray, history: dict, seconds: float, model, cluster: Cluster) -> dict:
    return {
        **run_metrics(config, spec, recipe, LABELS, data.y_test, logits, model, history, seconds,
                      fit_images=len(split.x_fit), validation_images=len(split.x_val)),
        "workers": cluster.workers,
        "data_source": data.source,
        "data_sha256": data.sha256,
        "labels": list(LABELS),
        "versions": library_versions(),
    }


def run_metrics(config, spec: ModelSpec, recipe: TrainingRecipe, labels: Sequence[str], y_test: np.ndarray,
                logits: np.ndarray, model, history: dict, seconds: float, *, fit_images: int,
                validation_images: int) -> dict:
    """The figures every training run records alike, whatever its data: metrics.json's first keys, in order."""
    from fashion_edge.train.macs import count_macs

    y_pred = logits.argmax(axis=1)
    matrix = confusion(y_test, y_pred, len(labels))
    return {
        "model": config.model,
        "description": spec.description,
        "test_accuracy": float((y_pred == y_test).mean()),
        "test_images": int(len(y_test)),
        "per_class_accuracy": {labels[i]: float(matrix[i, i] / max(matrix[i].sum(), 1)) for i in range(len(labels))},
        "confusion_matrix": matrix.tolist(),
        "params": int(model.count_params()),
        "macs_per_image": count_macs(model),
        "epochs": recipe.epochs,
        "recipe": {**asdict(recipe), "quick": config.quick,
                   "ema_applied": ema_applies(recipe, recipe.epochs * steps_per_epoch(fit_images, recipe.batch_size))},
        "seed": config.seed,
        "train_images": int(fit_images),
        "validation_images": int(validation_images),
        "final_val_accuracy": history.get("val_accuracy", [None])[-1],
        "train_seconds": round(seconds, 1),
    }


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _write(stage: Path, model, history: dict, metrics: dict, data: FashionMNIST, logits: np.ndarray) -> None:
    write_artifacts(stage, model, history, metrics, LABELS,
                    (data.x_test[:FLASHCARDS], data.y_test[:FLASHCARDS], logits[:FLASHCARDS]))


def write_artifacts(stage: Path, model, history: dict, metrics: dict, labels: Sequence[str],
                    cards: tuple[np.ndarray, np.ndarray, np.ndarray], photos: bool = False) -> None:
    """model.keras, history.json, metrics.json and the three pictures into `stage`; `cards` are the flashcards'
    test images, true labels and logits, `photos` says they are photos rather than Fashion-MNIST frames."""
    model.save(stage / "model.keras")
    (stage / "history.json").write_text(json.dumps(history, indent=2))
    (stage / "metrics.json").write_text(json.dumps(metrics, indent=2))
    title = f"{metrics['model']}: test accuracy {100 * metrics['test_accuracy']:.2f}%"
    images, y_true, logits = cards
    plots.plot_curves(history, stage / "training_curves.png", title)
    plots.plot_confusion(np.asarray(metrics["confusion_matrix"]), labels, stage / "confusion_matrix.png", title)
    plots.plot_flashcards(images, y_true, softmax(logits), labels, stage / "flashcards.png", title, photos=photos)
