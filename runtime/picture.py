"""Anything image-like -> an upright Pillow image at 1/k of its size, decoding no more than that.

A model's input is small, so a 12 MP photo need not be decoded at 12 MP: a JPEG is decoded by libjpeg's
DCT scaling (`Image.draft`: 1/2, 1/4 or 1/8 straight out of the entropy decoder, a fraction of the
full decode's time and memory), and for `decode` any other source (PNG, a numpy camera frame, a Pillow
image) is box-reduced by Pillow's C `Image.reduce` (`upright` leaves it whole). Either way a decoded pixel is (close to) the mean of a k x k
block of the stored image, taken before EXIF orientation, so a port that decodes in full and
box-reduces itself gets the same picture.

Every way an input can be wrong ends in InvalidImageError: a file that is not an image, truncated
data, a decompression bomb (refused from the header, before any pixel is decoded), bad arrays.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.reduced import Axis, Reduced

MAX_PIXELS = 50_000_000              # larger claims are refused before decoding (decompression bombs)
MAX_BYTES = 64 * 1024 * 1024
REDUCTIONS = (8, 4, 2, 1)            # what libjpeg's DCT scaling offers (Pillow's draft)

ImageLike = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]

# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, MemoryError, IndexError, KeyError, TypeError)


class Picture:
    """An image source whose header is read (size known, bombs refused) and whose pixels are decoded on request.

    Not a frozen dataclass: it holds an opened Pillow image that its first decode consumes. A JPEG
    is decoded afresh for each requested reduction (DCT scaling is chosen before decoding); any
    other file is decoded once, in full, and reduced from memory.
    """

    __slots__ = ("where", "size", "_data", "_header", "_pixels")

    def __init__(self, where: str, header: Image.Image | None = None, data: bytes | None = None,
                 pixels: Image.Image | None = None) -> None:
        self.where = where
        self.size: tuple[int, int] = (header or pixels).size    # as stored (before EXIF orientation)
        self._data, self._header, self._pixels = data, header, pixels

    @classmethod
    def open(cls, source: ImageLike) -> "Picture":
        if isinstance(source, Image.Image):
            return cls("image", pixels=source)
        if isinstance(source, np.ndarray):
            return cls("array", pixels=from_array(source))
        if isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) > MAX_BYTES:
                raise InvalidImageError(f"image data is {len(source):,} bytes, over {MAX_BYTES:,}")
            data, where = bytes(source), "image bytes"
        elif isinstance(source, (str, os.PathLike)):
            data, where = _read(Path(source)), str(source)
        else:
            raise InvalidImageError(f"expected a path, bytes, a PIL image or a numpy array, got {type(source).__name__}")
        return cls(where, header=_open(data, where), data=data)

    def _image(self, k: int) -> tuple[Image.Image, int]:
        """Decoded pixels at 1/drafted (drafted <= k), and drafted."""
        if self._pixels is not None:
            return self._pixels, 1
        image = self._header if self._header is not None else _open(self._data, self.where)
        self._header = None                       # draft and load change it: a second decode reopens
        drafted = _draft(image, k)
        _load(image, self.where)
        if image.format != "JPEG":
            self._pixels = image                  # decoded once, whatever reductions follow
        return image, drafted

    def load(self) -> Image.Image:
        """The whole upright picture, in its own mode (load_image's contract)."""
        return self.upright(1)

    def upright_size(self) -> tuple[int, int]:
        """(width, height) once EXIF orientation is applied, from the header alone."""
        source = self._header if self._header is not None else self._pixels
        turned = source is not None and _orientation(source) >= 5
        return self.size[::-1] if turned else self.size

    def upright(self, k: int = 1) -> Image.Image:
        """The upright picture in its own mode: a JPEG decoded at 1/k by DCT scaling, anything else in full."""
        image, _ = self._image(k)
        _load(image, self.where)
        orientation = _orientation(image)
        return image.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else image

    def decode(self, k: int = 1) -> Reduced:
        """The upright RGB picture at 1/k: a JPEG by DCT scaling, anything else box-reduced after decoding."""
        image, drafted = self._image(k)
        _load(image, self.where)
        orientation = _orientation(image)
        image = to_rgb(image)
        if drafted < k:  # not a JPEG (or one libjpeg cannot scale): box-reduce the decoded pixels
            image = image.reduce(k // drafted)
        if orientation in UPRIGHT:
            image = image.transpose(UPRIGHT[orientation])
        return Reduced(image, *_axes(self.size, k, orientation))


def _axes(stored: tuple[int, int], k: int, orientation: int) -> tuple[Axis, Axis]:
    """Upright axes of a picture stored at `stored` size, decoded at 1/k in blocks from its stored origin."""
    width, height = stored if orientation < 5 else stored[::-1]
    x_reversed, y_reversed = orientation in (2, 3, 6, 7), orientation in (3, 4, 7, 8)
    return (Axis(width, k, (-width) % k if x_reversed else 0),
            Axis(height, k, (-height) % k if y_reversed else 0))


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InvalidImageError(f"{path}: file is over {MAX_BYTES:,} bytes")
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidImageError(f"{path}: no such image file") from exc
    except OSError as exc:
        raise InvalidImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _open(data: bytes, where: str) -> Image.Image:
    """Read the header only; refuse a picture whose claimed size is a decompression bomb."""
    if not data:
        raise InvalidImageError(f"{where}: empty file")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:   # Pillow's own, larger, limit
        raise InvalidImageError(f"{where}: over {MAX_PIXELS:,} pixels (a decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImageError(f"{where}: not an image Pillow can read ({exc.__class__.__name__})") from exc
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(f"{where}: image data is truncated or corrupt ({exc})") from exc
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InvalidImageError(f"{where}: {width}x{height} is over {MAX_PIXELS:,} pixels "
                                "(a decompression bomb, or a photo to shrink first)")
    return image


def _draft(image: Image.Image, k: int) -> int:
    """Ask libjpeg for a 1/k decode (JPEG only); the reduction it will deliver (1 when it cannot)."""
    if k <= 1 or image.format != "JPEG":
        return 1
    w, h = image.size
    try:
        drafted = image.draft("RGB", (max(1, w // k), max(1, h // k)))
    except _DECODE_ERRORS:
        return 1
    return 1 if drafted is None else round(w / drafted[1][2])


def _load(image: Image.Image, where: str) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(f"{where}: not an image Pillow can read ({exc.__class__.__name__})") from exc
    except _DECODE_ERRORS as exc:  # truncated or corrupt data
        raise InvalidImageError(f"{where}: image data is truncated or corrupt ({exc})") from exc


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # a broken EXIF block is no reason to refuse the pixels
        return 1


def from_array(array: np.ndarray) -> Image.Image:
    """An array of pixels 0..255: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> L, RGB or RGBA (one copy)."""
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


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any Pillow mode -> RGB, with transparency composited onto `background` (white: a product-photo backdrop)."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image  # no copy: the pipeline never writes into it
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
        backdrop = Image.new("RGBA", image.size, (*background, 255))
        image = Image.alpha_composite(backdrop, image)
    return image.convert("RGB")
