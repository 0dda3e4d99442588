"""Test helper: Keras-style image folders whose class is decided by colour alone, drawn with Pillow.

Every class's shapes have one hue, all hues of about the same luma (ITU-R 601), and shape, position,
size and background vary at random: a model fed grey pixels, or red and blue swapped, cannot tell the
classes apart. Class k in Keras' order (sorted names) gets SHAPE_COLOURS[k].
"""
from __future__ import annotations

import colorsys
import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

LUMA = 110


def _equal_luma(hue: float) -> tuple[int, int, int]:
    """A fully saturated hue, darkened or mixed with white until its luma is LUMA."""
    rgb = np.array(colorsys.hsv_to_rgb(hue, 1.0, 1.0)) * 255
    luma = rgb @ (0.299, 0.587, 0.114)
    rgb = rgb * LUMA / luma if luma > LUMA else rgb + (255 - rgb) * (LUMA - luma) / (255 - luma)
    return tuple(int(round(v)) for v in rgb)


# Red first, then round the hue circle in steps of 30 degrees.
SHAPE_COLOURS: list[tuple[int, int, int]] = [_equal_luma(k / 12) for k in range(12)]
DEFAULT_NAMES_12 = ("T-shirt top", "Hosen für Damen", "čevlji", "Пальто", "シャツ", "sandalias de verano",
                    "Sneaker", "Bolso", "Ankle boot", "Kleid", "Pullover", "jupe plissée")
ODD_KINDS = ("cmyk", "sixteen-bit", "palette", "animated", "nested")


def shape_image(colour: Sequence[int], rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One shape of `colour` near the middle of a neutral, noisy background; size is (height, width)."""
    height, width = size
    grey = int(rng.choice([rng.integers(40, 80), rng.integers(150, 220)]))   # away from LUMA: the shape always shows
    image = Image.new("RGB", (width, height), (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    side = int(rng.integers(min(size) * 2 // 5, min(size) * 3 // 4))
    cx, cy = int(rng.integers(width * 3 // 8, width * 5 // 8)), int(rng.integers(height * 3 // 8, height * 5 // 8))
    box = (cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2)
    kind = int(rng.integers(3))
    if kind == 0:
        draw.ellipse(box, fill=tuple(colour))
    elif kind == 1:
        draw.rectangle(box, fill=tuple(colour))
    else:
        draw.polygon([((box[0] + box[2]) // 2, box[1]), (box[2], box[3]), (box[0], box[3])], fill=tuple(colour))
    noise = rng.integers(-8, 9, (height, width, 1))   # the same on every channel: no hue of its own
    return Image.fromarray(np.clip(np.asarray(image, np.int16) + noise, 0, 255).astype(np.uint8))


def make_shapes_folder(root: Path, classes: int = 4, per_class: int = 20, size: tuple[int, int] = (40, 56),
                       seed: int = 0, *, odd_formats: bool = False, names: Sequence[str] | None = None) -> list[str]:
    """root/<class>/*.jpg|png, per_class images each at a varied size around `size` (height, width);
    with odd_formats, class k % classes also gets the k-th of ODD_KINDS. Returns the names in Keras' order."""
    names = sorted(names if names is not None else DEFAULT_NAMES_12[:classes])
    if len(names) != classes or classes > len(SHAPE_COLOURS):
        raise ValueError(f"{classes} classes need as many names, at most {len(SHAPE_COLOURS)}")
    rng = np.random.default_rng(seed)
    for label, name in enumerate(names):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            scale = rng.uniform(0.8, 1.5, 2)
            image = shape_image(SHAPE_COLOURS[label], rng, (int(size[0] * scale[0]), int(size[1] * scale[1])))
            if rng.random() < 0.5:
                image.save(folder / f"{name} {i:03d}.jpg", quality=92)
            else:
                image.save(folder / f"{name} {i:03d}.png")
    if odd_formats:
        for k, kind in enumerate(ODD_KINDS):
            label = k % classes
            write_odd(Path(root) / names[label], kind, SHAPE_COLOURS[label], rng, size)
    return names


def write_odd(folder: Path, kind: str, colour: Sequence[int], rng: np.random.Generator,
              size: tuple[int, int]) -> Path:
    """One file of an unusual kind (ODD_KINDS) showing a shape of `colour`."""
    image = shape_image(colour, rng, size)
    if kind == "cmyk":
        path = folder / "odd cmyk.jpg"
        image.convert("CMYK").save(path, quality=92)
    elif kind == "sixteen-bit":
        path = folder / "odd sixteen-bit.png"
        grey = np.asarray(image.convert("L"), np.uint16) * 257
        Image.fromarray(grey).save(path)                                   # mode I;16
    elif kind == "palette":
        path = folder / "odd palette.png"
        paletted = image.quantize(16)
        paletted.save(path, transparency=paletted.getpixel((0, 0)))         # the corner's colour is see-through
    elif kind == "animated":
        path = folder / "odd animated.gif"
        other = shape_image(SHAPE_COLOURS[(SHAPE_COLOURS.index(tuple(colour)) + 6) % 12], rng, size)
        image.save(path, save_all=True, append_images=[other, image], duration=100, loop=0)
    elif kind == "nested":
        sub = folder / "Unterordner für čevlji" / "tief drin"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / "Bild ö.JPG"
        image.save(path, "JPEG", quality=92)
    else:
        raise ValueError(f"unknown odd kind {kind!r}; known: {ODD_KINDS}")
    return path


def make_split_folder(root: Path, classes: int = 4, per_part: tuple[int, int, int] = (12, 3, 5),
                      size: tuple[int, int] = (40, 56), seed: int = 0, *, val: bool = True,
                      names: Sequence[str] | None = None) -> list[str]:
    """root/train/, root/val/ (unless val=False) and root/test/, each a shapes folder of the same classes."""
    made = []
    for offset, (part, count) in enumerate(zip(("train", "val", "test"), per_part)):
        if part != "val" or val:
            made = make_shapes_folder(Path(root) / part, classes, count, size, seed + offset, names=names)
    return made


def corrupt_image(path: Path) -> Path:
    """A JPEG cut off in its pixel data: the header reads, decoding fails."""
    out = io.BytesIO()
    shape_image(SHAPE_COLOURS[0], np.random.default_rng(0), (40, 56)).save(out, "JPEG", quality=92)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(out.getvalue()[: len(out.getvalue()) // 2])
    return Path(path)
