"""A deterministic set of photo-like pictures of real Fashion-MNIST test images, for fidelity tests.

Every size from 28x28 to a 12 MP phone photo, every mode the runtime accepts (RGB, RGBA cut-outs,
greyscale, palette, 16-bit), all eight EXIF orientations, white / off-white / dark backdrops,
garments large and small, centred or not, with and without sensor noise, JPEG and PNG, plus numpy
camera frames. Most pictures are small so the full-resolution reference stays affordable.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from fashion_edge.export.photo_like import Rendering, render

# A third are at most 320 pixels long (decoded whole), a fifth are 12 MP phone photos (the
# full-resolution reference needs ~1 s for each), the rest in between.
SIZES = [(28, 28), (1024, 768), (4000, 3000), (90, 120), (1280, 960), (3000, 4000), (200, 150), (960, 1280),
         (320, 320), (1600, 1200), (4000, 3000), (56, 56), (2000, 1500), (640, 480), (240, 320), (2592, 1944),
         (3000, 4000), (320, 240), (800, 600), (300, 300), (480, 640), (1200, 1600), (4000, 3000), (64, 48)]
PHONE = 4_000_000        # pixels: photos this large come as JPEG, as from a phone


@dataclass(frozen=True)
class Photo:
    name: str
    source: object           # encoded bytes or a numpy camera frame
    label: int
    rendering: Rendering


def photo_set(images: np.ndarray, labels: np.ndarray, count: int = 120, seed: int = 13) -> list[Photo]:
    rng = np.random.default_rng(seed)
    photos = []
    for i in range(count):
        width, height = SIZES[i % len(SIZES)]
        phone = width * height >= PHONE
        mode = str(rng.choice(["RGB", "RGB", "L"] if phone else ["RGB", "RGB", "RGBA", "L", "P", "I;16"]))
        fmt = "JPEG" if mode in ("RGB", "L") and (phone or rng.random() < 0.7) else "PNG"
        background = "white" if mode == "RGBA" else ["white", "off-white", "dark"][rng.integers(0, 3)]
        rendering = Rendering(
            width, height, mode=mode, background=background, exif_orientation=int(rng.integers(1, 9)) if i % 2 else 1,
            format=fmt, quality=int(rng.integers(60, 96)), fill=float(rng.uniform(0.3, 0.9)),
            centre=(float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9))),
            noise=float(rng.choice([0.0, 0.0, 0.8, 1.5])), seed=i)
        index = int(rng.integers(0, len(images)))
        source: object = render(images[index], rendering)
        if i % 10 == 7 and fmt == "JPEG":  # a camera frame: the same picture as an RGB numpy array (no EXIF)
            with Image.open(io.BytesIO(source)) as decoded:
                source = np.asarray(ImageOps.exif_transpose(decoded).convert("RGB"))
        name = f"{i:03d}-{mode}-{fmt if isinstance(source, bytes) else 'array'}-{width}x{height}-{background}-o{rendering.exif_orientation}"
        photos.append(Photo(name, source, int(labels[index]), rendering))
    return photos
