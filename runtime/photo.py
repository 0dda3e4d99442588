"""Preprocessing `photo-v1`: an ordinary photo -> the device tensor's pixels, as Keras' image loader feeds a model.

    EXIF orientation -> alpha onto the declared background -> RGB, or grey (ITU-R 601 luma)
    -> crop or pad to the tensor's aspect ratio (or neither: stretch) -> resize to (H, W) -> uint8

The steps and the arithmetic of crop and pad follow `keras.utils.image_dataset_from_directory` (its
`crop_to_aspect_ratio`: crop, then resize; its `pad_to_aspect_ratio`: resize to fit, then pad with
black), so a model trained with that loader is fed what it was trained on. The resize is Pillow's, with the declared filter; it differs from
`tf.image.resize` in one way that matters: when shrinking, Pillow widens its filter to cover every
source pixel (antialiasing), while tf.image.resize's default samples only the nearest source pixels
(docs/preprocessing.md).

A JPEG much larger than the tensor is decoded at 1/2, 1/4 or 1/8 by libjpeg's DCT scaling (each
decoded pixel the mean of a k x k block), as long as at least DRAFT_MARGIN decoded pixels remain for
each output pixel: a fraction of the full decode's time and memory, and a difference the bundle's
preprocessing vectors measure and state as their tolerance.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from fashion_edge.runtime.contract import InputContract
from fashion_edge.runtime.picture import REDUCTIONS, ImageLike, Picture, to_rgb
from fashion_edge.runtime.recipes import Interpolation, Resize

DRAFT_MARGIN = 2           # decoded pixels per output pixel, per axis, that a draft decode must leave

FILTERS = {Interpolation.BILINEAR: Image.Resampling.BILINEAR, Interpolation.NEAREST: Image.Resampling.NEAREST,
           Interpolation.BICUBIC: Image.Resampling.BICUBIC, Interpolation.LANCZOS: Image.Resampling.LANCZOS,
           Interpolation.BOX: Image.Resampling.BOX}


def preprocess_photo(source: ImageLike | Picture, contract: InputContract) -> np.ndarray:
    """photo-v1: an image -> uint8 pixels of `contract.frame_shape`."""
    picture = source if isinstance(source, Picture) else Picture.open(source)
    return pixels_of(picture.upright(draft_reduction(picture.upright_size(), contract)), contract)


def preprocess_photo_at(source: ImageLike, contract: InputContract, reduction: int) -> np.ndarray:
    """photo-v1 with a fixed JPEG reduction (1: decoded in full): for measuring the draft's effect."""
    return pixels_of(Picture.open(source).upright(reduction), contract)


def pixels_of(image: Image.Image, contract: InputContract) -> np.ndarray:
    """The recipe's steps after decoding, on an upright image in any Pillow mode."""
    params = contract.preprocessing.parameters
    image = to_rgb(image, params["background"])
    if contract.channels == 1:
        image = image.convert("L")
    target, resample = (contract.width, contract.height), FILTERS[params["interpolation"]]
    mode = params["resize"]
    if mode is Resize.CROP:
        box = crop_box(image.size, target)
        if box != (0, 0, *image.size):
            image = image.crop(box)
    if mode is Resize.PAD:
        (width, height), (left, top) = padded_placement(image.size, target)
        canvas = Image.new(image.mode, target, 0)          # tf.image.resize_with_pad pads with zeros: black
        canvas.paste(_resized(image, (width, height), resample), (left, top))
        return np.asarray(canvas)
    return np.asarray(_resized(image, target, resample))


def _resized(image: Image.Image, size: tuple[int, int], resample: Image.Resampling) -> Image.Image:
    return image if image.size == size else image.resize(size, resample)


def crop_box(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int, int, int]:
    """Keras' crop_to_aspect_ratio (image_utils.smart_resize): the largest centred window of the target aspect."""
    width, height = size
    target_w, target_h = target
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
    return left, top, left + crop_w, top + crop_h


def padded_placement(size: tuple[int, int], target: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras' pad_to_aspect_ratio (tf.image.resize_with_pad): the picture resized to fit inside the target,
    keeping its aspect, and where it goes on the black canvas: ((width, height), (left, top))."""
    width, height = size
    target_w, target_h = target
    ratio = max(width / target_w, height / target_h)
    fit_w, fit_h = width / ratio, height / ratio
    return ((max(1, math.floor(fit_w)), max(1, math.floor(fit_h))),
            (max(0, math.floor((target_w - fit_w) / 2)), max(0, math.floor((target_h - fit_h) / 2))))


def draft_reduction(size: tuple[int, int], contract: InputContract) -> int:
    """The largest DCT-scaling reduction leaving DRAFT_MARGIN decoded pixels per output pixel on both axes."""
    target = (contract.width, contract.height)
    mode = contract.preprocessing.parameters["resize"]
    if mode is Resize.CROP:
        left, top, right, bottom = crop_box(size, target)
        per_pixel = min((right - left) / target[0], (bottom - top) / target[1])
    elif mode is Resize.PAD:
        per_pixel = max(size[0] / target[0], size[1] / target[1])
    else:
        per_pixel = min(size[0] / target[0], size[1] / target[1])
    return next(k for k in REDUCTIONS if k == 1 or per_pixel / k >= DRAFT_MARGIN)
