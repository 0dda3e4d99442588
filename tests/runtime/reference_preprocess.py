"""The full-resolution fashion-mnist-v1, kept as the yardstick the shipped fast pipeline is measured by.

It processes the whole photo at full resolution, the straightforward way: every pixel of the
decoded photo goes through float32 numpy (corner median, per-pixel trim, crop), then Pillow's BOX
resize, UnsharpMask(1.0, 50, 0), paste, invert and off-white stretch. Loading (full-size decode, EXIF
orientation, modes to RGB) is copied too, so a change to the runtime's loading cannot move the
yardstick. One deliberate change: the
28x28 shortcut uses the one dark-background rule (median luma of the corners) rather than a mean of
the corners, so this reference and the shipped code disagree only through speed.

Slow on purpose (~850 ms for a 12 MP JPEG): do not import it outside tests.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.preprocess import SIZE, ImageLike

MAX_PIXELS = 50_000_000
MAX_BYTES = 64 * 1024 * 1024

TRIM_TOLERANCE = 0.05 * 255
DARK = 128
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


# --- loading -----------------------------------------------------------------------------------

def _open(data: bytes, where: str) -> Image.Image:
    if not data:
        raise InvalidImageError(f"{where}: empty file")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise InvalidImageError(f"{where}: {width}x{height} is over {MAX_PIXELS:,} pixels "
                                    "(a decompression bomb, or a photo to shrink first)")
        image.load()
    except InvalidImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise InvalidImageError(f"{where}: not an image Pillow can read ({exc.__class__.__name__})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:  # truncated or corrupt data
        raise InvalidImageError(f"{where}: image data is truncated or corrupt ({exc})") from exc
    return image


def _from_array(array: np.ndarray) -> Image.Image:
    """An array of pixels 0..255: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)."""
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise InvalidImageError(f"expected a numeric pixel array, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1 or array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise InvalidImageError(f"array of shape {array.shape} is empty or too large")
    if array.dtype == np.uint16:
        array = (array // 257).astype(np.uint8)  # 16-bit image data
    elif array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise InvalidImageError("pixel array contains NaN or infinity")
        if array.min() < 0 or array.max() > 255:
            raise InvalidImageError(f"pixel values must be within 0..255, got {array.min()}..{array.max()}")
        array = np.rint(array).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))  # uint8: L, RGB or RGBA by shape


def load_image(source: ImageLike) -> Image.Image:
    """A decoded, upright Pillow image from a path, bytes, a Pillow image or a pixel array."""
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        image = _from_array(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > MAX_BYTES:
            raise InvalidImageError(f"image data is {len(source):,} bytes, over {MAX_BYTES:,}")
        image = _open(bytes(source), "image bytes")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise InvalidImageError(f"{path}: file is over {MAX_BYTES:,} bytes")
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise InvalidImageError(f"{path}: no such image file") from exc
        except OSError as exc:
            raise InvalidImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        image = _open(data, str(path))
    else:
        raise InvalidImageError(f"expected a path, bytes, a PIL image or a numpy array, got {type(source).__name__}")
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB, with transparency composited onto white (a product-photo backdrop)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.clip(array / top * 255.0, 0, 255).round().astype(np.uint8), "L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        if not np.isfinite(array).all():
            raise InvalidImageError("floating-point image contains NaN or infinity")
        image = Image.fromarray(np.clip(array, 0, 255).round().astype(np.uint8), "L")
    if image.mode == "P" or image.mode == "PA" or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(backdrop, image)
    return image.convert("RGB")


# --- the conversion (verbatim) -----------------------------------------------------------------

def _background(rgb: np.ndarray) -> np.ndarray:
    corners = np.stack([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]]).astype(np.float32)
    return np.median(corners, axis=0)


def _trim(rgb: np.ndarray, background: np.ndarray) -> np.ndarray:
    differs = (np.abs(rgb.astype(np.float32) - background) > TRIM_TOLERANCE).any(axis=2)
    rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if rows.size == 0:
        return rgb[:0, :0]
    return rgb[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def reference_preprocess(source: ImageLike) -> np.ndarray:
    """fashion-mnist-v1 at full resolution: an image -> uint8 (28, 28)."""
    if isinstance(source, np.ndarray) and source.dtype == np.uint8 and source.shape[:2] == (SIZE, SIZE) \
            and source.ndim == 2 + (source.ndim == 3 and source.shape[2] == 1):
        pixels = source.reshape(SIZE, SIZE)
        corners = np.array([pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]], np.float32)
        if float(np.median(corners)) < DARK:
            return pixels
    rgb_image = to_rgb(load_image(source))
    rgb = np.asarray(rgb_image)
    background = _background(rgb)
    dark = float(background @ LUMA) < DARK
    if dark and rgb.shape[:2] == (SIZE, SIZE):
        return np.asarray(rgb_image.convert("L"))
    fill = tuple(int(round(c)) for c in background)
    crop = _trim(rgb, background)
    if crop.size == 0:
        raise InvalidImageError("no garment found: the picture is a single colour (blank frame?)")
    h, w = crop.shape[:2]
    scale = SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.Resampling.BOX)
    small = small.filter(ImageFilter.UnsharpMask(radius=1.0, percent=50, threshold=0))
    canvas = Image.new("RGB", (SIZE, SIZE), fill)
    canvas.paste(small, ((SIZE - size[0] + 1) // 2, (SIZE - size[1] + 1) // 2))
    if dark:
        return np.asarray(canvas.convert("L"))
    grey = np.asarray(ImageOps.invert(canvas).convert("L"), dtype=np.float32)
    floor = 255.0 - float(background @ LUMA)
    if floor > 0:
        grey = (grey - floor) * (255.0 / (255.0 - floor))
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)
