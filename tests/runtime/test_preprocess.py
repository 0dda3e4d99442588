"""Preprocessing fashion-mnist-v1: photos become dataset-style pixels; dataset pixels pass unchanged."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.preprocess import MAX_PIXELS, load_image, preprocess


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


# --- one dark-background rule, fast path, bad input at photo sizes -------------------------------

def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def frames_where_mean_and_median_of_corners_disagree(data) -> list[np.ndarray]:
    """28x28 frames on which a mean-of-corners rule and the median-luma rule (the one the runtime uses)
    would disagree, plus plain dataset frames."""
    frames = [x.copy() for x in data.x_test[:20]]
    for corners in ([100, 120, 130, 255], [0, 130, 140, 150], [127, 127, 128, 128], [128, 128, 127, 255]):
        frame = data.x_test[30].copy()
        frame[0, 0], frame[0, -1], frame[-1, 0], frame[-1, -1] = corners
        frames.append(frame)
    return frames


def test_one_dark_background_rule_array_and_png_of_a_frame_give_identical_output(data):
    for frame in frames_where_mean_and_median_of_corners_disagree(data):
        assert np.array_equal(preprocess(frame), preprocess(png_bytes(frame)))
        assert np.array_equal(preprocess(frame[..., None]), preprocess(png_bytes(frame)))


def test_dark_rule_shortcut_agrees_with_the_backdrop_rule():
    from fashion_edge.runtime.backdrop import Backdrop, dark_grey_corners

    rng = np.random.default_rng(0)
    for corners in rng.integers(0, 256, (2000, 4)).tolist() + [[127, 128, 0, 255], [128, 128, 128, 128], [127] * 4]:
        assert dark_grey_corners(*corners) == Backdrop.of([(v, v, v) for v in corners]).dark


def test_numpy_camera_frame_gives_the_same_pixels_as_its_png(data):
    rng = np.random.default_rng(3)
    with Image.open(io.BytesIO(photo_like(data.x_test[4], rng))) as image:
        frame = np.asarray(image.convert("RGB").resize((640, 480)))
    assert frame.shape == (480, 640, 3)
    assert np.array_equal(preprocess(frame), preprocess(png_bytes(frame)))


def big_jpeg(width: int, height: int, garment: np.ndarray | None = None, quality: int = 50) -> bytes:
    canvas = Image.new("RGB", (width, height), "white")
    if garment is not None:
        side = min(width, height) * 3 // 4
        canvas.paste(Image.fromarray(255 - garment).resize((side, side)).convert("RGB"), ((width - side) // 2, (height - side) // 2))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize("side", [9000, 20000])   # over our limit; over Pillow's own too
def test_jpeg_decompression_bomb_is_refused_from_its_header(side):
    data = bytearray(big_jpeg(64, 64))
    sof = data.index(b"\xff\xc0")              # baseline frame header: length, precision, height, width
    data[sof + 5:sof + 9] = side.to_bytes(2, "big") + side.to_bytes(2, "big")
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        preprocess(bytes(data))


def test_truncated_phone_photo_is_an_invalid_image(data):
    photo = big_jpeg(2000, 1500, data.x_test[0], quality=90)
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        preprocess(photo[: len(photo) // 2])   # decoded at 1/8 (DCT scaling): still a typed error


def test_blank_phone_photo_is_refused_rather_than_given_a_confident_label():
    with pytest.raises(InvalidImageError, match="no garment found"):
        preprocess(big_jpeg(4000, 3000))


@pytest.mark.parametrize("size, first", [((28, 28), 1), ((320, 320), 1), ((640, 480), 1), ((1280, 960), 4),
                                         ((960, 1280), 4), ((1600, 1200), 4), ((4000, 3000), 8), ((2592, 1944), 8)])
def test_pictures_are_first_decoded_at_the_reduction_their_size_allows(size, first):
    from fashion_edge.runtime.preprocess import reduction_for

    assert reduction_for(size) == first


def test_a_small_garment_in_a_big_frame_is_decoded_again_finer():
    from fashion_edge.runtime.preprocess import finer_reduction

    assert finer_reduction((0, 0, 2000, 1500), 8) == 8     # 250 reduced pixels: enough
    assert finer_reduction((0, 0, 600, 400), 8) == 4       # 75 at 1/8, 150 at 1/4
    assert finer_reduction((0, 0, 300, 200), 8) == 1       # under 16 source pixels per output pixel


def test_preprocess_at_takes_only_the_reductions_jpeg_offers():
    from fashion_edge.runtime.errors import UsageError
    from fashion_edge.runtime.preprocess import preprocess_at

    with pytest.raises(UsageError, match="reduction"):
        preprocess_at(b"", 3)


def test_load_image_gives_the_whole_upright_picture_in_its_own_mode(data):
    upright = Image.fromarray(255 - data.x_test[3]).resize((300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", exif=exif.tobytes())
    loaded = load_image(buf.getvalue())
    assert loaded.size == (300, 200) and loaded.mode == "L"
