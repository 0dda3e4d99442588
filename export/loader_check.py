"""Training against deployment preprocessing, measured: Keras' accuracy on the held-out images as Keras'
own loader reads them (`keras.utils.image_dataset_from_directory` at the model's size, with the bundle's
resize mode and filter) and as the bundle's recipe reads them (what a device feeds).

Models are usually trained on the loader's pixels; a device gets the recipe's (Pillow). The two differ
where tf.image.resize and Pillow's resize differ (docs/preprocessing.md); this puts a number on it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from fashion_edge.runtime.contract import InputContract
from fashion_edge.runtime.provenance import LoaderCheck
from fashion_edge.runtime.recipes import Interpolation, Resize

# Pillow's filters by the names tf.image.resize gives the nearest thing (box: the mean of covered pixels).
KERAS_INTERPOLATION = {Interpolation.BILINEAR: "bilinear", Interpolation.NEAREST: "nearest",
                       Interpolation.BICUBIC: "bicubic", Interpolation.LANCZOS: "lanczos3", Interpolation.BOX: "area"}
BATCH = 64


def loader_check(predict: Callable[[np.ndarray], np.ndarray], paths: Sequence[Path], labels: np.ndarray,
                 classes: Sequence[str], contract: InputContract, recipe_outputs: np.ndarray) -> LoaderCheck:
    """`predict`: Keras on a float batch of 0..255 pixels; `recipe_outputs`: its outputs on the recipe's frames
    of the same images, in the same order."""
    import keras

    from fashion_edge.train.folder import keras_order, keras_view

    params = contract.preprocessing.parameters
    resize, interpolation = params["resize"], KERAS_INTERPOLATION[params["interpolation"]]
    labels = np.asarray(labels)
    with keras_view(paths, labels, classes) as view:
        dataset = keras.utils.image_dataset_from_directory(
            view, labels="inferred", label_mode="int", class_names=list(classes),
            color_mode="grayscale" if contract.channels == 1 else "rgb", batch_size=BATCH,
            image_size=(contract.height, contract.width), shuffle=False, interpolation=interpolation,
            crop_to_aspect_ratio=resize is Resize.CROP, pad_to_aspect_ratio=resize is Resize.PAD, verbose=False)
        outputs, read_labels = [], []
        for batch, batch_labels in dataset:
            outputs.append(predict(np.asarray(batch, np.float32)))
            read_labels.append(np.asarray(batch_labels))
    order = keras_order(labels)
    loader_top1 = np.empty(len(labels), np.int64)
    loader_top1[order] = np.concatenate(outputs).argmax(1)
    if not (np.concatenate(read_labels) == labels[order]).all():
        raise RuntimeError("Keras' loader read the held-out images in another order than stated")
    recipe_top1 = recipe_outputs.argmax(1)
    return LoaderCheck(len(labels), float((loader_top1 == labels).mean()), float((recipe_top1 == labels).mean()),
                       float((loader_top1 == recipe_top1).mean()),
                       f"image_dataset_from_directory({interpolation}, {resize.value})")
