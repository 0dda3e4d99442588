"""Deterministic image sets of other input contracts than Fashion-MNIST's, drawn with Pillow.

`shapes12`: 32x48 RGB frames, 12 classes (4 shapes x 3 colours) whose names have spaces and
non-ASCII letters. `stripes2`: 64x64 RGB frames, 2 classes. The same seed gives the same bytes on any
machine (integer drawing, no float resampling), so a model trained on them once can be re-exported
anywhere and compared.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from fashion_edge.train.datasets import ImageSet

COLOURS = (("rojo", (200, 40, 40)), ("grün", (40, 160, 60)), ("синий", (40, 70, 200)))
SHAPES = ("círculo", "квадрат", "三角形", "cruz")
SHAPES12 = tuple(f"{shape} {colour}" for shape in SHAPES for colour, _ in COLOURS)
STRIPES2 = ("horizontal stripes", "polka dots")


def _shape(draw: ImageDraw.ImageDraw, kind: int, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    if kind == 0:
        draw.ellipse(box, fill=fill)
    elif kind == 1:
        draw.rectangle(box, fill=fill)
    elif kind == 2:
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)
    else:
        w, h = (x1 - x0) // 3, (y1 - y0) // 3
        draw.rectangle((x0 + w, y0, x1 - w, y1), fill=fill)
        draw.rectangle((x0, y0 + h, x1, y1 - h), fill=fill)


def shapes12_frame(label: int, rng: np.random.Generator, height: int = 32, width: int = 48) -> np.ndarray:
    shape, (_, colour) = label // len(COLOURS), COLOURS[label % len(COLOURS)]
    backdrop = tuple(int(v) for v in rng.integers(200, 256, 3))
    image = Image.new("RGB", (width, height), backdrop)
    side = int(rng.integers(height // 2, height - 4))
    left, top = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
    jitter = rng.integers(-25, 26, 3)
    fill = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter))
    _shape(ImageDraw.Draw(image), shape, (left, top, left + side - 1, top + side - 1), fill)
    noise = rng.integers(-6, 7, (height, width, 3))
    return np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8)


def stripes2_frame(label: int, rng: np.random.Generator, side: int = 64) -> np.ndarray:
    ink = tuple(int(v) for v in rng.integers(0, 120, 3))
    image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(170, 256, 3)))
    draw = ImageDraw.Draw(image)
    step = int(rng.integers(6, 12))
    offset = int(rng.integers(0, step))
    if label == 0:
        for y in range(offset, side, step):
            draw.rectangle((0, y, side - 1, y + step // 2 - 1), fill=ink)
    else:
        for y in range(offset, side, step):
            for x in range((y // step % 2) * step // 2 + offset, side, step):
                draw.ellipse((x, y, x + step // 2, y + step // 2), fill=ink)
    noise = rng.integers(-8, 9, (side, side, 3))
    return np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8)


def _image_set(name: str, classes: tuple[str, ...], frame, per_class_train: int, per_class_test: int,
               seed: int) -> ImageSet:
    rng = np.random.default_rng(seed)
    parts = {}
    for part, per_class in (("train", per_class_train), ("test", per_class_test)):
        labels = np.repeat(np.arange(len(classes)), per_class)
        labels = labels[rng.permutation(len(labels))]
        parts[part] = (np.stack([frame(int(y), rng) for y in labels]), labels.astype(np.int64))
    return ImageSet(name, classes, *parts["train"], *parts["test"])


def shapes12(seed: int = 0) -> ImageSet:
    return _image_set("synthetic shapes12", SHAPES12, shapes12_frame, 200, 50, seed)


def stripes2(seed: int = 0) -> ImageSet:
    return _image_set("synthetic stripes2", STRIPES2, stripes2_frame, 500, 100, seed)
