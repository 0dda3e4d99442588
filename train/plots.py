"""Pictures a person wants after training: curves, confusion matrix, and flashcards of test images."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    from fashion_edge.runtime.extras import require

    matplotlib = require("matplotlib", "train", "training plots")
    matplotlib.use("Agg")  # files only: no display on a build machine
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: dict[str, list[float]], path: Path, title: str) -> None:
    """Loss and accuracy per epoch, training vs validation (validation is held out of the train set)."""
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], "o-", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix with counts, so the confused pairs (shirt/T-shirt) stand out.

    The figure grows past 10 classes, so every class keeps a readable cell."""
    plt = _pyplot()
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(8, 0.5 * n + 3), max(7, 0.5 * n + 2)))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_flashcards(images: np.ndarray, y_true: np.ndarray, probs: np.ndarray,
                    labels: Sequence[str], path: Path, title: str, photos: bool = False) -> None:
    """A grid of test images with predicted vs true label; wrong predictions in red.

    Images are uint8 (H, W), (H, W, 1) or (H, W, 3). One-channel photos are drawn as their grey levels
    0..255; Fashion-MNIST's negated frames (photos=False) dark on white, each image's range stretched."""
    plt = _pyplot()
    n = len(images)
    cols = 6
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.2))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, img, true, p in zip(np.ravel(axes), images, y_true, probs):
        pred = int(np.argmax(p))
        if img.ndim == 3 and img.shape[-1] == 3:
            ax.imshow(img)
        else:
            shades = {"cmap": "gray", "vmin": 0, "vmax": 255} if photos else {"cmap": "binary"}
            ax.imshow(img.reshape(img.shape[:2]), **shades)
        colour = "tab:blue" if pred == true else "tab:red"
        ax.set_title(f"{labels[pred]} {100 * p[pred]:.0f}%\n(true: {labels[true]})", fontsize=8, color=colour)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
