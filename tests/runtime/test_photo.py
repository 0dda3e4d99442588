"""photo-v1, the recipe for ordinary photos: each step as runtime/photo.py states it, on constructed pictures."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.errors import BundleError, UsageError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.photo import crop_box, draft_reduction, padded_placement, preprocess_photo, preprocess_photo_at
from fashion_edge.runtime.picture import Picture
from fashion_edge.runtime.recipes import PHOTO, Interpolation, Resize, contract_for, preprocessing, read_preprocessing


def contract(h: int, w: int, c: int = 3, **params):
    return contract_for(h, w, c, preprocessing(PHOTO, **params))


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_a_picture_already_at_the_tensors_size_is_its_own_frame():
    rgb = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    assert np.array_equal(preprocess_photo(encoded(Image.fromarray(rgb)), contract(32, 48)), rgb)
    grey = preprocess_photo(encoded(Image.fromarray(rgb)), contract(32, 48, 1))
    assert grey.shape == (32, 48) and np.array_equal(grey, np.asarray(Image.fromarray(rgb).convert("L")))


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (10, 200, 30)])
def test_transparent_pixels_take_the_declared_background(background):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 10:20] = (200, 50, 60, 255)
    out = preprocess_photo(encoded(Image.fromarray(rgba, "RGBA")), contract(20, 30, background=background))
    assert tuple(out[0, 0]) == background and tuple(out[10, 15]) == (200, 50, 60)


def test_exif_orientation_is_applied_before_anything_else():
    upright = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)      # orientation 6 shows it upright
    exif = Image.Exif()
    exif[0x0112] = 6
    target = contract(40, 60)
    assert np.array_equal(preprocess_photo(encoded(stored, exif=exif.tobytes()), target), upright)


@pytest.mark.parametrize("size, target, box", [
    ((640, 360), (64, 64), (140, 0, 500, 360)),      # wide photo, square tensor: the centred 360x360
    ((300, 500), (48, 32), (0, 150, 300, 350)),      # tall photo, wide tensor: 300x200 in the middle
    ((48, 32), (48, 32), (0, 0, 48, 32)),            # same aspect: all of it
    ((5, 1000), (10, 10), (0, 497, 5, 502)),
])
def test_crop_is_keras_crop_to_aspect_ratio(size, target, box):
    """Keras' arithmetic (image_utils.smart_resize): crop_h = min(h, int(w * th / tw)), start = int((h - crop_h) / 2)."""
    assert crop_box(size, target) == box


@pytest.mark.parametrize("size, target, placement", [
    ((640, 360), (64, 64), ((64, 36), (0, 14))),       # resized to fit inside, black above and below
    ((300, 500), (48, 32), ((19, 32), (14, 0))),
    ((48, 32), (48, 32), ((48, 32), (0, 0))),
])
def test_pad_is_tf_resize_with_pad(size, target, placement):
    """tf.image.resize_with_pad: resize by max(w/tw, h/th), floor the sizes and the half margins."""
    assert padded_placement(size, target) == placement


def test_modes_crop_pad_and_stretch_give_different_frames_of_one_wide_photo():
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, :100], wide[:, 100:200], wide[:, 200:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    data = encoded(Image.fromarray(wide))
    crop = preprocess_photo(data, contract(10, 10, resize="crop"))
    pad = preprocess_photo(data, contract(10, 10, resize="pad"))
    stretch = preprocess_photo(data, contract(10, 10, resize="stretch"))
    assert (crop[:, :, 1] > 200).all()                                  # only the green middle third is left
    assert (pad[0] == 0).all() and (pad[-1] == 0).all() and pad[5, 0, 0] > 200   # black bands, all three colours
    assert stretch[5, 0, 0] > 200 and stretch[5, -1, 2] > 200


@pytest.mark.parametrize("interpolation, pillow", [
    ("bilinear", Image.Resampling.BILINEAR), ("nearest", Image.Resampling.NEAREST),
    ("bicubic", Image.Resampling.BICUBIC), ("lanczos", Image.Resampling.LANCZOS), ("box", Image.Resampling.BOX)])
def test_each_interpolation_is_the_pillow_filter_of_its_name(interpolation, pillow):
    rgb = np.random.default_rng(2).integers(0, 256, (90, 70, 3), dtype=np.uint8)
    out = preprocess_photo(encoded(Image.fromarray(rgb)), contract(24, 20, interpolation=interpolation))
    assert np.array_equal(out, np.asarray(Image.fromarray(rgb).resize((20, 24), pillow)))
    assert {i.value for i in Interpolation} == {"bilinear", "nearest", "bicubic", "lanczos", "box"}


def test_a_large_jpeg_is_decoded_smaller_and_stays_close_to_the_full_decode():
    smooth = Image.fromarray(np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize(
        (4000, 3000), Image.Resampling.BICUBIC)
    data = encoded(smooth, "JPEG", quality=85)
    target = contract(64, 64)
    assert draft_reduction((4000, 3000), target) == 8 and draft_reduction((200, 200), target) == 1
    assert draft_reduction((300, 300), contract(64, 64)) == 2 and draft_reduction((1280, 960), target) == 4
    drafted, full = preprocess_photo(data, target), preprocess_photo_at(data, target, 1)
    diff = np.abs(drafted.astype(int) - full)
    assert diff.mean() < 1.5 and diff.max() <= 12      # the vectors' tolerance measures this per bundle


def test_pictures_and_arrays_are_taken_too():
    rgb = np.random.default_rng(4).integers(0, 256, (50, 80, 3), dtype=np.uint8)
    target = contract(25, 40)
    by_file = preprocess_photo(encoded(Image.fromarray(rgb)), target)
    assert np.array_equal(preprocess_photo(rgb, target), by_file)
    assert np.array_equal(preprocess_photo(Picture.open(encoded(Image.fromarray(rgb))), target), by_file)
    assert np.array_equal(preprocess_photo(Image.fromarray(rgb), target), by_file)


@pytest.mark.parametrize("parameters, message", [
    ({"resize": "squash"}, "parameters.resize must be one of 'stretch', 'crop', 'pad', not 'squash'"),
    ({"interpolation": "area"}, "parameters.interpolation must be one of"),
    ({"background": [255, 255]}, "parameters.background must be three integers 0..255"),
    ({"background": [0, 0, 300]}, "parameters.background must be three integers 0..255"),
    ({"mean": 0.5}, "parameters.mean is not a parameter of photo-v1"),
])
def test_bad_parameters_are_a_bundle_error_naming_the_field(parameters, message):
    with pytest.raises(BundleError, match=message.replace(".", r"\.").replace("(", r"\(")):
        read_preprocessing(Obj({"id": PHOTO, "parameters": parameters}, "input.preprocessing", "manifest.json"))


def test_recipes_read_with_their_defaults_and_refuse_contracts_they_cannot_fill():
    read = read_preprocessing(Obj({"id": PHOTO, "parameters": {}}, "input.preprocessing", "manifest.json"))
    assert dict(read.parameters) == {"resize": Resize.STRETCH, "interpolation": Interpolation.BILINEAR,
                                     "background": (255, 255, 255)}
    with pytest.raises(UsageError, match="fashion-mnist-v1 takes 28x28x1 grayscale input, not 32x32x3 rgb"):
        contract_for(32, 32, 3, preprocessing("fashion-mnist-v1"))
    with pytest.raises(UsageError, match="unknown preprocessing recipe 'imagenet'"):
        preprocessing("imagenet")
