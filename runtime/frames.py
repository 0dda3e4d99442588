"""Device frames: uint8 pixels already at the bundle's input shape. numpy only.

Split from the recipes' implementations so that what a camera loop or a benchmark feeds most (frames
already preprocessed) never imports Pillow: a `Classifier` loads its recipe's pipeline (Pillow) on
the first input that is not such a frame. That keeps Pillow's import (~10-17 ms, a tenth of the
runtime's cold start on a 2-core Xeon) off a process that only ever sees frames.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from fashion_edge.runtime.backdrop import dark_grey_corners
from fashion_edge.runtime.errors import InvalidImageError

if TYPE_CHECKING:
    from fashion_edge.runtime.contract import InputContract

SIZE = 28             # fashion-mnist-v1's side

_FRAME_SHAPES = frozenset({(SIZE, SIZE), (SIZE, SIZE, 1)})
_U8 = np.dtype(np.uint8)    # numpy's own uint8 dtype: an identity test is the cheapest check of the hot path
_LAST = SIZE * SIZE - 1
_SHAPE = (SIZE, SIZE, 1)


def as_batch(pixels: np.ndarray, shape: tuple[int, int, int] = _SHAPE) -> np.ndarray:
    """Device frames (N, H, W, C), or (N, H, W) when C is 1 -> contiguous NHWC uint8 (N, H, W, C)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise InvalidImageError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and shape[2] == 1:
        pixels = pixels[..., None]
    if pixels.ndim != 4 or pixels.shape[1:] != tuple(shape):
        height, width, channels = shape
        grey = "[, 1]" if channels == 1 else f", {channels}"
        raise InvalidImageError(f"expected (N, {height}, {width}{grey}) pixels, got shape {pixels.shape}")
    return np.ascontiguousarray(pixels)


def dataset_frame(source: object) -> np.ndarray | None:
    """`source` as a (28, 28) view if it already is a fashion-mnist-v1 frame, else None (a photo: preprocess it).

    A uint8 28x28 array whose corners are dark by the one dark rule (backdrop.py) is the dataset's
    style; `preprocess` would return it unchanged. No copy and no Pillow: this runs on every frame.
    """
    if isinstance(source, np.ndarray) and source.shape in _FRAME_SHAPES and (source.dtype is _U8 or source.dtype == _U8):
        item = source.item   # corners by flat index: .item() is the cheapest read of one pixel
        if dark_grey_corners(item(0), item(SIZE - 1), item(_LAST - SIZE + 1), item(_LAST)):
            return source if source.ndim == 2 else source.reshape(SIZE, SIZE)
    return None


def dataset_frames(contract: "InputContract") -> Callable[[Any], np.ndarray | None]:
    """fashion-mnist-v1's frame test (its contract is always 28x28x1): `dataset_frame` itself, no wrapper."""
    return dataset_frame


def device_frames(contract: "InputContract") -> Callable[[Any], np.ndarray | None]:
    """The frame test of a recipe whose device frame is any uint8 array of exactly the tensor's pixels.

    An array already in the frame's own shape is answered without a further call (the hot path).
    """
    shape = contract.frame_shape

    def frame(source: Any) -> np.ndarray | None:
        if source.__class__ is np.ndarray and source.shape == shape and source.dtype is _U8:
            return source
        return device_frame(source, contract)

    return frame


def device_frame(source: Any, contract: "InputContract") -> np.ndarray | None:
    """A uint8 array of exactly the device's pixels, in any batch-of-one form ((H, W, C), (1, H, W, C); for
    grey also (H, W) and (1, H, W)), as a frame view; None for anything else (a photo for the recipe)."""
    if not isinstance(source, np.ndarray) or source.dtype != _U8:
        return None
    shape = contract.frame_shape
    if source.shape == shape:
        return source
    height, width, channels = contract.shape[1:]
    forms = ((1, height, width, channels), (height, width, channels)) + (((1, height, width),) if channels == 1 else ())
    return source.reshape(shape) if source.shape in forms else None


def exact_frames(contract: "InputContract") -> Callable[[Any], np.ndarray]:
    """For a frame the caller says is preprocessed: the frame view, or an InvalidImageError naming the contract."""
    frame = device_frames(contract)
    wanted = f"{contract.height}x{contract.width}x{contract.channels} frame ({contract.describe()})"

    def exact(pixels: Any) -> np.ndarray:
        found = frame(pixels)
        if found is None:
            got = f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
            raise InvalidImageError(f"expected a preprocessed uint8 {wanted}, got {got}")
        return found

    return exact
