"""Preprocessing fashion-mnist-v1: photos become dataset-style pixels; dataset pixels pass unchanged."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.preprocess import MAX_PIXELS, preprocess


def photo_like(pixels: np.ndarray, rng: np.random.Generator, fmt: str = "JPEG") -> bytes:
    """A test image as a shop photo: enlarged, dark garment on white, off-centre, compressed."""
    scale = int(rng.integers(5, 12))
    big = Image.fromarray(255 - pixels).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC).convert("RGB")
    canvas = Image.new("RGB", (28 * scale + int(rng.integers(40, 200)), 28 * scale + int(rng.integers(40, 200))), "white")
    canvas.paste(big, (int(rng.integers(0, canvas.width - big.width)), int(rng.integers(0, canvas.height - big.height))))
    buf = io.BytesIO()
    canvas.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def test_dataset_style_array_passes_through_unchanged(data):
    for image in data.x_test[:50]:
        out = preprocess(image)
        assert out.dtype == np.uint8 and np.array_equal(out, image)


def test_dataset_style_png_file_passes_through_unchanged(data, tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(data.x_test[7]).save(path)
    assert np.array_equal(preprocess(path), data.x_test[7])


def test_photo_like_renderings_come_back_close_to_the_originals(data):
    rng = np.random.default_rng(0)
    diffs = [np.abs(preprocess(photo_like(x, rng)).astype(int) - x).mean() for x in data.x_test[:200]]
    assert np.median(diffs) < 15  # of 255: same garment, same place, same scale, slightly softer
    assert np.all(np.isfinite(diffs))


def test_exif_orientation_is_applied(data):
    rng = np.random.default_rng(1)
    upright = Image.open(io.BytesIO(photo_like(data.x_test[3], rng, "PNG")))
    rotated = upright.rotate(90, expand=True)  # stored sideways, EXIF says "rotate 270 to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    rotated.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    ref = io.BytesIO()
    upright.save(ref, "JPEG", quality=95)
    assert np.abs(preprocess(buf.getvalue()).astype(int) - preprocess(ref.getvalue())).mean() < 3


def test_transparent_background_is_composited_onto_white(data):
    garment = 255 - data.x_test[0]
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = garment[..., None]
    rgba[..., 3] = np.where(data.x_test[0] > 0, 255, 0)  # background fully transparent (and black)
    white = np.where(data.x_test[0] > 0, garment, 255).astype(np.uint8)
    assert np.array_equal(preprocess(Image.fromarray(rgba, "RGBA")), preprocess(Image.fromarray(white, "L").convert("RGB")))


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "RGB", "LA"])
def test_image_modes_give_the_same_pixels(mode, data):
    base = Image.fromarray(255 - data.x_test[5]).resize((112, 112), Image.Resampling.NEAREST)
    reference = preprocess(base.convert("RGB"))
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(base).astype(np.uint16) * 257)
        assert converted.mode.startswith("I;16")
    else:
        converted = base.convert(mode)
    assert np.abs(preprocess(converted).astype(int) - reference).max() <= 2


def test_off_white_backdrop_becomes_zero(data):
    garment = (255 - data.x_test[9]).astype(np.float32) * (235 / 255)  # a grey (235) paper backdrop
    out = preprocess(Image.fromarray(garment.astype(np.uint8)).resize((84, 84)))
    assert (out == 0).mean() > 0.3 and out.max() > 200


def test_blank_picture_is_refused_rather_than_given_a_confident_label():
    with pytest.raises(InvalidImageError, match="no garment found"):
        preprocess(Image.new("RGB", (50, 40), "white"))


@pytest.mark.parametrize("bad, message", [
    (b"", "empty"),
    (b"not an image at all", "not an image"),
    (np.zeros((28, 28, 2), np.uint8), "array"),
    (np.zeros((28, 28), np.bool_), "numeric"),
    (np.full((28, 28), np.nan, np.float32), "NaN"),
    (np.full((28, 28), np.inf, np.float64), "NaN or infinity"),
    (np.full((28, 28), 300.0), "0..255"),
    (np.zeros((0, 28), np.uint8), "empty"),
    (12345, "expected a path"),
])
def test_bad_inputs_raise_invalid_image_error(bad, message):
    with pytest.raises(InvalidImageError, match=message):
        preprocess(bad)


def test_truncated_image_file_is_an_invalid_image(data, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(data.x_test[0]).resize((200, 200)).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        preprocess(path)


def test_missing_file_and_directory_are_invalid_images(tmp_path):
    with pytest.raises(InvalidImageError, match="no such image"):
        preprocess(tmp_path / "nope.png")
    with pytest.raises(InvalidImageError):
        preprocess(tmp_path)


def test_decompression_bomb_is_refused_before_decoding():
    side = int(np.sqrt(MAX_PIXELS)) + 100
    buf = io.BytesIO()
    Image.new("1", (side, side)).save(buf, "PNG")  # a few kB that would decode to > 50 MP
    assert len(buf.getvalue()) < 1_000_000
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        preprocess(buf.getvalue())
