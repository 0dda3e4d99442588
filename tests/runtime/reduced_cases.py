"""Synthetic pictures that drive the reduced path (runtime/reduced.py) through its corners, as PNG bytes.

Lossless and built from numpy alone (no dataset, no JPEG codec), so a picture's pixels are the same on
every machine: test_reduced_golden.py compares preprocess_at's output on them with stored outputs.
Each case names what it exercises: every EXIF orientation on sizes that are not multiples of 8 (so
orientations that reverse an axis give a short first block), garments touching a border or a corner,
a garment one line thick, soft (ramp) and hard (step) edges, and white, off-white and dark backdrops.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_edge.runtime.preprocess import preprocess, preprocess_at

REDUCTIONS = (2, 4, 8)
GOLDEN = Path(__file__).parent / "data" / "reduced_golden.npz"
BACKDROPS = {"white": (255, 255, 255), "off-white": (236, 232, 226), "dark": (18, 20, 24)}


def _garment(height: int, width: int, box: tuple[float, float, float, float], soft: float) -> np.ndarray:
    """Coverage 0..1 of a garment-like shape (a rounded body with a sleeve) inside box (fractions of the picture)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    left, top, right, bottom = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    cx, cy, rx, ry = (left + right) / 2, (top + bottom) / 2, (right - left) / 2, (bottom - top) / 2
    body = 1.0 - np.hypot((x - cx) / rx, (y - cy) / ry)                    # > 0 inside the ellipse
    sleeve = np.minimum(np.minimum(x - left, right - x) / max(rx, 1), (y - top) / max(ry, 1) * 0.2 + 0.05)
    inside = np.maximum(body * min(rx, ry), sleeve * min(rx, ry))             # ~pixels from the outline
    return np.clip(inside / soft + 0.5, 0, 1) if soft > 0 else (inside > 0).astype(np.float64)


def _png(pixels: np.ndarray, orientation: int) -> bytes:
    image = Image.fromarray(pixels, "RGB")
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif)
    return buffer.getvalue()


def reduced_cases() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(7)
    cases = []
    layouts = [("centred", (0.2, 0.15, 0.8, 0.9)), ("left-border", (0.0, 0.2, 0.55, 0.8)),
               ("corner", (0.0, 0.0, 0.6, 0.7)), ("bottom-right", (0.45, 0.5, 1.0, 1.0))]
    for i, (width, height) in enumerate([(613, 805), (1203, 917), (1621, 1210), (2405, 1803)]):
        for j, (where, box) in enumerate(layouts):
            backdrop = list(BACKDROPS)[(i + j) % 3]
            soft = (0.0, 2.5, 9.0)[(i + 2 * j) % 3]
            orientation = 1 + (3 * i + j) % 8
            cover = _garment(height, width, box, soft)[..., None]
            colour = np.array(rng.integers(40, 200, 3), np.float64)
            pixels = np.array(BACKDROPS[backdrop], np.float64) * (1 - cover) + colour * cover
            pixels += rng.normal(0, 1.0, pixels.shape) * (i % 2)                  # sensor noise on half
            name = f"{width}x{height}-{where}-{backdrop}-soft{soft:g}-o{orientation}"
            cases.append((name, _png(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), orientation)))
    line = np.full((700, 900, 3), 255, np.uint8)                                   # one line thick
    line[351, 100:800] = (30, 30, 30)
    cases.append(("900x700-one-line-o6", _png(line, 6)))
    return cases


def outputs(data: bytes) -> dict[str, np.ndarray]:
    """What the golden file stores for one case: preprocess_at at each reduction, and preprocess."""
    found = {f"k{k}": preprocess_at(data, k) for k in REDUCTIONS}
    found["auto"] = preprocess(data)
    return found


if __name__ == "__main__":   # regenerate the golden file (only when the pipeline's output is meant to change)
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **{f"{name}/{key}": value for name, data in reduced_cases()
                                   for key, value in outputs(data).items()})
    print(f"wrote {GOLDEN}")
