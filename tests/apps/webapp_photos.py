"""Photo-like files made from real Fashion-MNIST test images, for the web app's browser test.

A dataset image is a bright garment on black; a photo is a dark garment on a light backdrop,
bigger, off-centre, compressed. `render` turns the first into the second in the ways phones and
shops produce them (JPEG/PNG, RGBA cut-outs, greyscale, palette, 16-bit, EXIF-rotated, off-white
backdrops); `y4m` writes frames as the raw video Chromium's fake camera plays; `random_rgba` and
`random_pictures` make raw pictures of every size for checking the JavaScript preprocessing pixel for pixel.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_edge.runtime.preprocess import preprocess

KINDS = ("jpeg", "png", "rgba", "grey", "palette", "exif", "off-white", "16-bit")
ORIENTATIONS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def _scene(image28: np.ndarray, rng: np.random.Generator, backdrop=(255, 255, 255)) -> tuple[np.ndarray, np.ndarray]:
    """The garment enlarged 4-12x and placed off-centre on a larger canvas: (RGB canvas, garment mask 0..1)."""
    side = 28 * int(rng.integers(4, 13))
    ink = np.asarray(Image.fromarray(image28).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    height, width = side + int(rng.integers(16, 200)), side + int(rng.integers(16, 200))
    top, left = int(rng.integers(4, height - side - 4)), int(rng.integers(4, width - side - 4))
    mask = np.zeros((height, width), np.float32)
    mask[top:top + side, left:left + side] = ink
    canvas = np.asarray(backdrop, np.float32) * (1 - mask[..., None])   # dark garment: the dataset negated
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), mask


def random_rgba(n: int = 150, seed: int = 17) -> tuple[list[list], list]:
    """`n` raw RGBA pictures (1..259 px a side, a rectangle of noise on a backdrop, some with random alpha) as
    [base64 RGBA, width, height], and what Python's `preprocess` makes of each (its error's type name if
    it refuses one, as it does a blank picture)."""
    import base64

    rng = np.random.default_rng(seed)
    cases, expected = [], []
    for i in range(n):
        height, width = int(rng.integers(1, 260)), int(rng.integers(1, 260))
        backdrop = rng.integers(0, 256, 3) if i % 3 == 0 else rng.integers(200, 256, 3)
        rgba = np.empty((height, width, 4), np.uint8)
        rgba[..., :3], rgba[..., 3] = backdrop, 255
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        y1, x1 = int(rng.integers(y0, height)) + 1, int(rng.integers(x0, width)) + 1
        rgba[y0:y1, x0:x1, :3] = rng.integers(0, 256, (y1 - y0, x1 - x0, 3))
        if i % 4 == 0:
            rgba[..., 3] = rng.integers(0, 256, (height, width))
        try:
            expected.append(preprocess(Image.fromarray(rgba, "RGBA")).ravel().tolist())
        except Exception as exc:  # noqa: BLE001 - a blank picture: both must refuse it
            expected.append(type(exc).__name__)
        cases.append([base64.b64encode(rgba.tobytes()).decode(), width, height])
    return cases, expected


def random_pictures(n: int, seed: int, sides: tuple[tuple[int, int], ...] = ()) -> list[np.ndarray]:
    """`n` RGBA pictures (height, width, 4): gradients, random noise and a flat rectangle, every other one with
    random alpha and some with fully transparent pixels; first of the given (height, width) `sides`, then
    very wide, very tall and tiny ones, then random sizes up to 300 px a side."""
    rng = np.random.default_rng(seed)
    sides = list(sides) + [(28, 200), (300, 64), (1, 1), (1, 90), (120, 1), (64, 7), (3, 3), (299, 181)]
    pictures = []
    for i in range(n):
        height, width = sides[i] if i < len(sides) else (int(rng.integers(1, 301)), int(rng.integers(1, 301)))
        y, x = np.mgrid[0:height, 0:width]
        rgba = np.empty((height, width, 4), np.uint8)
        rgba[..., 0] = (255 * x / max(1, width - 1)).astype(np.uint8)
        rgba[..., 1] = (255 * y / max(1, height - 1)).astype(np.uint8)
        rgba[..., 2] = rng.integers(0, 256, (height, width))
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        rgba[y0:, x0:, :3] = rng.integers(0, 256, 3)
        rgba[..., 3] = rng.integers(0, 256, (height, width)) if i % 2 else 255
        if i % 5 == 0:
            rgba[..., 3] = np.where(rng.random((height, width)) < 0.3, 0, rgba[..., 3])
        pictures.append(rgba)
    return pictures


def render(image28: np.ndarray, kind: str, seed: int) -> tuple[bytes, dict]:
    """One photo-like file of a 28x28 dataset image: (encoded bytes, golden-vector metadata)."""
    rng = np.random.default_rng(seed)
    meta = {"exif_orientation": 1, "background": "white"}
    buffer = io.BytesIO()
    if kind == "off-white":
        backdrop = tuple(int(v) for v in rng.integers(215, 250, 3))
        rgb, _ = _scene(image28, rng, backdrop)
        Image.fromarray(rgb).save(buffer, "JPEG", quality=92)
        meta.update(mode="RGB", background="off-white")
    elif kind == "rgba":                                   # a cut-out: transparent backdrop
        _, mask = _scene(image28, rng)
        rgba = np.zeros(mask.shape + (4,), np.uint8)
        rgba[..., :3] = 40
        rgba[..., 3] = np.clip(np.rint(mask * 255), 0, 255)
        Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
        meta.update(mode="RGBA", background="transparent")
    else:
        rgb, _ = _scene(image28, rng)
        image = Image.fromarray(rgb)
        if kind == "jpeg":
            image.save(buffer, "JPEG", quality=int(rng.integers(80, 96)))
            meta["mode"] = "RGB"
        elif kind == "png":
            image.save(buffer, "PNG")
            meta["mode"] = "RGB"
        elif kind == "grey":
            image.convert("L").save(buffer, "PNG")
            meta["mode"] = "L"
        elif kind == "palette":
            image.quantize(64).save(buffer, "PNG")
            meta["mode"] = "P"
        elif kind == "16-bit":                            # 8-bit levels spread exactly over 16 bits
            grey = np.asarray(image.convert("L"), np.uint16) * 257
            Image.fromarray(grey).save(buffer, "PNG")                # uint16: mode I;16
            meta["mode"] = "I;16"
        elif kind == "exif":                              # stored sideways, EXIF says how to turn it
            orientation = int(rng.choice(list(ORIENTATIONS)))
            exif = Image.Exif()
            exif[0x0112] = orientation
            image.transpose(ORIENTATIONS[orientation]).save(buffer, "JPEG", quality=90, exif=exif)
            meta.update(mode="RGB", exif_orientation=orientation)
        else:
            raise ValueError(kind)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as opened:
        meta.update(width=opened.width, height=opened.height)
    return data, meta


def camera_frames(image28: np.ndarray, count: int = 30, size=(640, 480)) -> list[np.ndarray]:
    """A garment on a white table, drifting a few pixels per frame as a hand-held phone would."""
    width, height = size
    side = 28 * 12
    ink = np.asarray(Image.fromarray(image28).resize((side, side), Image.Resampling.BICUBIC), np.float32) / 255
    frames = []
    for t in range(count):
        dx, dy = int(round(12 * np.sin(t / 5))), int(round(8 * np.cos(t / 7)))
        mask = np.zeros((height, width), np.float32)
        top, left = (height - side) // 2 + dy, (width - side) // 2 + dx
        mask[top:top + side, left:left + side] = ink
        frames.append(np.clip(np.rint(255 * (1 - mask[..., None]) * np.ones(3)), 0, 255).astype(np.uint8))
    return frames


def y4m(frames: list[np.ndarray], path: Path, fps: int = 15) -> Path:
    """Write RGB frames as YUV4MPEG2 4:2:0, BT.601 limited range (what Chromium's fake camera reads)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            r, g, b = (frame[..., c].astype(np.float32) for c in range(3))
            y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
            u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
            v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
            sub = lambda p: p.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))  # noqa: E731
            out.write(b"FRAME\n")
            for plane in (y, sub(u), sub(v)):
                out.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path
