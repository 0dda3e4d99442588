"""Train one model on real Fashion-MNIST and write artifacts/<model>/ in one atomic step."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_edge.runtime.atomic import staged_dir
from fashion_edge.runtime.errors import DataError, UsageError
from fashion_edge.runtime.extras import require
from fashion_edge.runtime.labels import LABELS
from fashion_edge.runtime.versions import library_versions
from fashion_edge.train import plots
from fashion_edge.train.data import load_fashion_mnist
from fashion_edge.train.models import MODELS, compile_model


@dataclass(frozen=True)
class TrainConfig:
    """What to train and where; `limit` trains on the first N training images (tests, smoke runs)."""

    model: str
    out: Path = Path("artifacts")
    epochs: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    limit: int | None = None
    verbose: int | None = None  # None: progress bar in a terminal, one line per epoch otherwise


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    test_accuracy: float
    params: int
    epochs: int
    seconds: float


def _training_data(tf, x: np.ndarray, y: np.ndarray, batch_size: int, flip: bool, seed: int):
    """Shuffled batches; with `flip`, each image is mirrored left-right with probability 1/2."""
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if flip:
        def mirror(images, labels):
            coin = tf.random.uniform((tf.shape(images)[0], 1, 1, 1), seed=seed) < 0.5
            return tf.where(coin, tf.reverse(images, axis=[2]), images), labels

        ds = ds.map(mirror, num_parallel_calls=1, deterministic=True)
    return ds.prefetch(2)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = len(LABELS)) -> np.ndarray:
    return np.bincount(y_true.astype(int) * n + y_pred, minlength=n * n).reshape(n, n)


def train(config: TrainConfig) -> TrainResult:
    """Fit, evaluate on the untouched test set, and write model, metrics, history and plots."""
    if config.model not in MODELS:
        raise UsageError(f"unknown model {config.model!r}; choose from {', '.join(MODELS)}")
    spec = MODELS[config.model]
    epochs = config.epochs or spec.epochs
    if epochs < 1:
        raise UsageError("--epochs must be at least 1")
    data = load_fashion_mnist(config.data_dir)  # a data or folder problem fails before TensorFlow loads
    out = Path(config.out) / config.model
    with staged_dir(out) as stage:
        return _fit_and_write(config, spec, epochs, data, out, stage)


def _fit_and_write(config: TrainConfig, spec, epochs: int, data, out: Path, stage: Path) -> TrainResult:
    keras = require("keras", "train", "training")
    tf = require("tensorflow", "train", "training")
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same weights, run after run
    x_fit, y_fit, x_val, y_val = data.split_validation(seed=config.seed)
    if config.limit:
        x_fit, y_fit = x_fit[: config.limit], y_fit[: config.limit]
        x_val, y_val = x_val[: max(config.limit // 10, 100)], y_val[: max(config.limit // 10, 100)]
    if len(x_fit) == 0:
        raise DataError("no training images selected")

    model = spec.build()
    steps = epochs * int(np.ceil(len(x_fit) / spec.batch_size))
    lr = spec.learning_rate
    if spec.cosine_decay:
        lr = keras.optimizers.schedules.CosineDecay(spec.learning_rate, decay_steps=steps)
    compile_model(model, lr)
    verbose = config.verbose if config.verbose is not None else (1 if sys.stdout.isatty() else 2)

    start = time.perf_counter()
    train_data = _training_data(tf, x_fit, y_fit, spec.batch_size, spec.flip_augment, config.seed)
    history = model.fit(
        train_data, epochs=epochs, shuffle=False,  # the dataset shuffles itself
        validation_data=(x_val[..., None], y_val),  # judged after every epoch, as the seed does
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    logits = model.predict(data.x_test[..., None], batch_size=1000, verbose=0)
    y_pred = logits.argmax(axis=1)
    confusion = _confusion(data.y_test, y_pred)
    accuracy = float((y_pred == data.y_test).mean())
    per_class = {LABELS[i]: float(confusion[i, i] / confusion[i].sum()) for i in range(len(LABELS))}

    model.save(stage / "model.keras")
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    (stage / "history.json").write_text(json.dumps(hist, indent=2))
    metrics = {
        "model": config.model,
        "description": spec.description,
        "test_accuracy": accuracy,
        "test_images": int(len(data.y_test)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "params": int(model.count_params()),
        "epochs": epochs,
        "batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "cosine_decay": spec.cosine_decay,
        "flip_augment": spec.flip_augment,
        "seed": config.seed,
        "train_images": int(len(x_fit)),
        "validation_images": int(len(x_val)),
        "final_val_accuracy": hist.get("val_accuracy", [None])[-1],
        "train_seconds": round(seconds, 1),
        "data_source": data.source,
        "data_sha256": data.sha256,
        "labels": list(LABELS),
        "versions": library_versions(),
    }
    (stage / "metrics.json").write_text(json.dumps(metrics, indent=2))
    title = f"{config.model}: test accuracy {100 * accuracy:.2f}%"
    plots.plot_curves(hist, stage / "training_curves.png", title)
    plots.plot_confusion(confusion, LABELS, stage / "confusion_matrix.png", title)
    probs = _softmax(logits[:30])
    plots.plot_flashcards(data.x_test[:30], data.y_test[:30], probs, LABELS, stage / "flashcards.png", title)

    return TrainResult(out, accuracy, int(model.count_params()), epochs, seconds)
