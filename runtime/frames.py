"""Dataset-style frames: uint8 28x28 pixels, garment bright on a dark background. numpy only.

Split from preprocess.py so that what a camera loop or a benchmark feeds most (frames already in the
dataset's style) never imports Pillow: `Classifier` loads the photo pipeline (preprocess.py, Pillow)
on the first input that is not such a frame. That keeps Pillow's import (~10-17 ms here, a tenth of
the runtime's cold start) off a process that only ever sees frames.
"""
from __future__ import annotations

import numpy as np

from fashion_edge.runtime.backdrop import dark_grey_corners
from fashion_edge.runtime.errors import InvalidImageError

SIZE = 28

_FRAME_SHAPES = frozenset({(SIZE, SIZE), (SIZE, SIZE, 1)})
_U8 = np.dtype(np.uint8)    # numpy's own uint8 dtype: an identity test is the cheapest check of the hot path
_LAST = SIZE * SIZE - 1


def as_batch(pixels: np.ndarray) -> np.ndarray:
    """Dataset-style uint8 images (N, 28, 28) or (N, 28, 28, 1) -> contiguous NHWC (N, 28, 28, 1)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise InvalidImageError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if pixels.ndim != 4 or pixels.shape[1:] != (SIZE, SIZE, 1):
        raise InvalidImageError(f"expected (N, 28, 28[, 1]) pixels, got shape {pixels.shape}")
    return np.ascontiguousarray(pixels)


def dataset_frame(source: object) -> np.ndarray | None:
    """`source` as a (28, 28) view if it already is a dataset-style frame, else None (a photo: preprocess it).

    A uint8 28x28 array whose corners are dark by the one dark rule (backdrop.py) is the dataset's
    style; `preprocess` would return it unchanged. No copy and no Pillow: this runs on every frame.
    """
    if isinstance(source, np.ndarray) and source.shape in _FRAME_SHAPES and (source.dtype is _U8 or source.dtype == _U8):
        item = source.item   # corners by flat index: .item() is the cheapest read of one pixel
        if dark_grey_corners(item(0), item(SIZE - 1), item(_LAST - SIZE + 1), item(_LAST)):
            return source if source.ndim == 2 else source.reshape(SIZE, SIZE)
    return None
