"""An image-folder example anyone can run offline: Fashion-MNIST's images turned into colour photos.

`python -m fashion_edge.train.examples DIR` writes DIR/<class>/*.jpg|png from data already on this
machine (Debian's dataset-fashion-mnist): each garment upscaled to PHOTO_SIZE, dyed a random colour,
set on a random light, shaded backdrop with some noise, moved and scaled a little, and saved as a JPEG
(one in five as PNG). The images are the first of each class in Fashion-MNIST's training set. The class is the garment's shape, as in the dataset; colour and backdrop are
nuisance, as in real photos. It is the folder `make demo` trains, exports, benches and packs beside the
built-in models.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_edge.runtime.labels import LABELS

PHOTO_SIZE = 96              # pixels per side of each written photo
PER_CLASS = 600              # 6,000 photos: 4,200 to train on, 1,200 held out for the gate
JPEG_QUALITY = 90


def folder_name(label: str) -> str:
    """A class name as a folder name ('T-shirt/top' -> 'T-shirt top')."""
    return label.replace("/", " ")


def photo(garment: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One 28x28 grey garment (bright on black) -> an RGB photo of PHOTO_SIZE pixels."""
    scale = rng.uniform(0.7, 0.9)
    side = int(round(PHOTO_SIZE * scale))
    mask = np.asarray(Image.fromarray(garment).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    dye = rng.uniform(0.15, 0.95, 3)                                  # the garment's colour
    light = rng.uniform(0.75, 1.0, 3)                                 # the backdrop's
    ramp = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.0), PHOTO_SIZE)[:, None, None]
    canvas = np.broadcast_to(light * ramp, (PHOTO_SIZE, PHOTO_SIZE, 3)).copy()
    top, left = rng.integers(0, PHOTO_SIZE - side + 1, 2)
    window = canvas[top:top + side, left:left + side]
    shade = 0.55 + 0.45 * mask[..., None]                             # the dataset's intensity as shading
    window[:] = window * (1 - mask[..., None]) + dye * shade * mask[..., None]
    canvas += rng.normal(0, 0.02, canvas.shape)                       # sensor noise
    return Image.fromarray(np.clip(canvas * 255, 0, 255).round().astype(np.uint8), "RGB")


def write_folder(out: Path, per_class: int = PER_CLASS, seed: int = 0, data_dir: Path | None = None) -> int:
    """The first `per_class` training images of each class as photos under out/<class>/; returns the count."""
    from fashion_edge.train.data import load_fashion_mnist

    data = load_fashion_mnist(data_dir, allow_download=False)
    rng = np.random.default_rng(seed)
    written = 0
    for label_id, label in enumerate(LABELS):
        folder = Path(out) / folder_name(label)
        folder.mkdir(parents=True, exist_ok=True)
        for k, index in enumerate(np.flatnonzero(data.y_train == label_id)[:per_class]):
            image = photo(data.x_train[index], rng)
            if k % 5 == 4:
                image.save(folder / f"{index:05d}.png")
            else:
                image.save(folder / f"{index:05d}.jpg", quality=JPEG_QUALITY)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_edge.train.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the image folder to write (DIR/<class>/...)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from fashion_edge.runtime.errors import FashionEdgeError

    try:
        n = write_folder(args.out, args.per_class, args.seed)
    except FashionEdgeError as exc:
        print(f"examples: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {n:,} photos in {len(LABELS)} class folders under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
