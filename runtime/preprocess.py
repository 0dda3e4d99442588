"""Preprocessing `fashion-mnist-v1`: anything image-like -> uint8 pixels (28, 28), dataset style.

The single implementation, used by the runtime and the exporter's preprocessing vectors. It follows
the dataset authors' own conversion of product photos (Xiao, Rasul, Vollgraf 2017, section 2):

  trim edges close to the corner colour (5% of full intensity) -> resize the longest edge to 28
  -> sharpen (Gaussian, radius 1, sigma 1) -> extend the shortest edge to 28, centred
  -> negate -> 8-bit greyscale

before which EXIF orientation is applied and alpha is composited onto white. A picture whose
background is already dark (the dataset's own style) is not negated, and a 28x28 one passes
through unchanged.

It works at the resolution the answer needs. A picture whose shorter edge is at least REDUCE_FROM
pixels is decoded at 1/k (picture.py: a JPEG by libjpeg's DCT scaling, anything else box-reduced), k
the largest of 8, 4, 2 leaving the shorter edge DECODE_SHORTER pixels; the trim box is then placed
inside the reduced blocks and the BOX resize evaluated at full resolution from the block means
(reduced.py). If the garment found spans fewer than MIN_GARMENT reduced pixels or MIN_GARMENT_FULL
source pixels, the picture is decoded once more, finer (in full below MIN_GARMENT_FULL): there a
source pixel's shift is worth grey levels. Anything smaller is processed at full resolution, exactly
as the reference. Per-pixel work runs in Pillow's C code; numpy sees the few lines around the trim box's
edges, the crop the resize reads, and the small arrays. Agreement with the full-resolution pipeline (median 0 grey levels,
top-1 100% on 120 photo-like pictures) is measured in tests/runtime/test_preprocess_fidelity.py.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from fashion_edge.runtime.backdrop import TRIM_TOLERANCE, Backdrop
from fashion_edge.runtime.errors import InvalidImageError, UsageError
from fashion_edge.runtime.frames import SIZE, as_batch, dataset_frame
from fashion_edge.runtime.picture import MAX_PIXELS, REDUCTIONS, ImageLike, Picture, to_rgb
from fashion_edge.runtime.reduced import Reduced

REDUCE_FROM = 600        # pictures whose shorter edge is shorter than this are decoded in full
DECODE_SHORTER = 240     # larger ones first at the largest 1/k leaving the shorter edge this long
MIN_GARMENT = 96         # ... and again, finer, if the garment spans fewer reduced pixels than this
MIN_GARMENT_FULL = 16 * 28   # ... or fewer full-resolution pixels than this (16 per output pixel)
SHARPEN = ImageFilter.UnsharpMask(radius=1.0, percent=50, threshold=0)

__all__ = ["SIZE", "MAX_PIXELS", "ImageLike", "as_batch", "finer_reduction", "load_image",
           "preprocess", "preprocess_at", "reduction_for", "to_rgb"]


def load_image(source: ImageLike) -> Image.Image:
    """A decoded, upright Pillow image (full size, its own mode) from a path, bytes, a Pillow image or an array."""
    return Picture.open(source).load()


def reduction_for(size: tuple[int, int]) -> int:
    """The first decode's reduction: 1 under REDUCE_FROM, else the largest leaving DECODE_SHORTER pixels."""
    shorter = min(size)
    if shorter < REDUCE_FROM:
        return 1
    return next(k for k in REDUCTIONS if shorter // k >= DECODE_SHORTER or k == 1)


def finer_reduction(box: tuple[int, int, int, int], k: int) -> int:
    """The largest reduction <= k at which the garment in `box` (full-resolution) is trusted.

    At 1/k the trim box is placed to a pixel or two (reduced.py); that is harmless for a garment
    spanning MIN_GARMENT_FULL pixels and MIN_GARMENT reduced ones, but a smaller one is resampled
    from too few pixels, where Pillow's BOX filter turns a pixel's shift into grey levels.
    """
    longest = max(box[2] - box[0], box[3] - box[1])
    if longest < MIN_GARMENT_FULL:
        return 1
    return next(f for f in REDUCTIONS if f <= k and (f == 1 or longest // f >= MIN_GARMENT))


def preprocess(source: ImageLike | Picture) -> np.ndarray:
    """fashion-mnist-v1: an image -> uint8 (28, 28), garment bright on a dark background.

    A `Picture` already opened (its header read, e.g. to check its size first) is taken as is.
    """
    frame = dataset_frame(source)
    if frame is not None:
        return frame    # the hot path: an already preprocessed frame, no copy, no Pillow (frames.py)
    return _photo(source if isinstance(source, Picture) else Picture.open(source), None)


def for_contract(source: ImageLike | Picture, contract: object) -> np.ndarray:
    """The recipe registry's entry (recipes.py): fashion-mnist-v1's contract is always 28x28x1."""
    return preprocess(source)


def preprocess_at(source: ImageLike, reduction: int) -> np.ndarray:
    """fashion-mnist-v1 decoded at a fixed 1/reduction (1: the full-resolution pipeline, exactly).

    For measuring (fidelity tests, the exporter's tolerance): `preprocess` chooses the reduction.
    """
    if reduction not in REDUCTIONS:
        raise UsageError(f"reduction must be one of {REDUCTIONS}, not {reduction!r}")
    return _photo(Picture.open(source), reduction)


def _photo(picture: Picture, reduction: int | None) -> np.ndarray:
    reduced = picture.decode(reduction or reduction_for(picture.size))
    backdrop = Backdrop.of_image(reduced.image)
    if backdrop.dark and reduced.k == 1 and reduced.image.size == (SIZE, SIZE):
        return np.asarray(reduced.image.convert("L"))  # already in the dataset's style
    box = _trim(reduced, backdrop)
    if reduction is None and box is not None and finer_reduction(box, reduced.k) < reduced.k:
        reduced = picture.decode(finer_reduction(box, reduced.k))   # a small garment in a big frame
        backdrop = Backdrop.of_image(reduced.image)
        box = _trim(reduced, backdrop)
    if box is None:
        raise InvalidImageError("no garment found: the picture is a single colour (blank frame?)")
    return _dataset_style(reduced, box, backdrop)


def _trim(reduced: Reduced, backdrop: Backdrop) -> tuple[int, int, int, int] | None:
    """Full-resolution box of the pixels over 5% from the backdrop (step 2), or None for a blank picture.

    The reduced picture's marked box comes from Pillow's C code; only the lines around its four edges
    are read into numpy, to place each edge inside its blocks (reduced.py).
    """
    over = backdrop.trim_box(reduced.image)
    if over is None or reduced.k == 1:
        return over
    image, (width, height) = reduced.image, reduced.image.size

    def columns(lo: int, hi: int) -> list[int]:
        return backdrop.deviations(np.asarray(image.crop((lo, 0, hi, height))).transpose(1, 0, 2))

    def rows(lo: int, hi: int) -> list[int]:
        return backdrop.deviations(np.asarray(image.crop((0, lo, width, hi))))

    left, right = reduced.x.edges(over[0], over[2] - 1, width, columns, TRIM_TOLERANCE)
    top, bottom = reduced.y.edges(over[1], over[3] - 1, height, rows, TRIM_TOLERANCE)
    return left, top, right, bottom


def _dataset_style(reduced: Reduced, box: tuple[int, int, int, int], backdrop: Backdrop) -> np.ndarray:
    """Steps 3-7 on the trimmed box: everything after the resize runs on 28x28 pixels."""
    w, h = box[2] - box[0], box[3] - box[1]
    scale = SIZE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = reduced.resize(box, size).filter(SHARPEN)
    canvas = Image.new("RGB", (SIZE, SIZE), backdrop.fill)
    canvas.paste(small, ((SIZE - size[0] + 1) // 2, (SIZE - size[1] + 1) // 2))  # odd margins: one more above/left, as the dataset does
    if backdrop.dark:
        return np.asarray(canvas.convert("L"))
    grey = np.asarray(ImageChops.invert(canvas).convert("L"))
    # An off-white backdrop would become a grey floor; stretch so the backdrop is 0, as in the dataset.
    floor = 255.0 - backdrop.luma
    return _stretch_table(floor)[grey] if floor > 0 else grey


@lru_cache(maxsize=64)
def _stretch_table(floor: float) -> np.ndarray:
    """grey -> (grey - floor) * 255 / (255 - floor), rounded and clipped: the stretch as a lookup table."""
    grey = np.arange(256, dtype=np.float32)
    return np.clip(np.rint((grey - floor) * (255.0 / (255.0 - floor))), 0, 255).astype(np.uint8)
