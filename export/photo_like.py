"""Fashion-MNIST test images rendered as photos: what a phone, a scanner or a shop's web page would send.

The dataset's images were made from product photos (garment on white, trimmed, shrunk to 28x28,
negated). This goes the other way, deterministically: a test image is enlarged, turned back into a
dark garment on a white, off-white or dark backdrop (or a cut-out on transparency), optionally given
sensor-like noise, stored in a given mode and EXIF orientation, and encoded as JPEG or PNG. Used by
the preprocessing vectors in golden.json, the preprocessing fidelity tests and the photo benchmarks.
Needs only numpy and Pillow.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

BACKDROPS = {"white": (255, 255, 255), "off-white": (238, 232, 220), "dark": (16, 16, 20)}
ORIENTATION_TAG = 0x0112
# EXIF orientation -> how the upright picture is stored (the inverse of what a viewer applies).
STORED = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
          5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}
MODES = ("RGB", "RGBA", "L", "P", "I;16")


@dataclass(frozen=True)
class Rendering:
    """How one 28x28 test image becomes a photo (sizes are as viewed, after EXIF orientation)."""

    width: int
    height: int
    mode: str = "RGB"                  # RGB, RGBA (cut-out on transparency), L, P (palette), I;16
    background: str = "white"          # a key of BACKDROPS
    exif_orientation: int = 1
    format: str = "JPEG"               # JPEG or PNG
    quality: int = 90                  # JPEG only
    fill: float = 0.75                 # the garment's side / the frame's shorter side
    centre: tuple[float, float] = (0.5, 0.5)   # where the garment sits, as fractions of the free margin
    ink: tuple[int, int, int] = (28, 30, 40)   # the garment's colour at full intensity (light backdrops)
    noise: float = 0.0                 # Gaussian sensor noise, standard deviation in levels
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES or self.background not in BACKDROPS or self.format not in ("JPEG", "PNG"):
            raise ValueError(f"unsupported rendering {self}")
        if self.format == "JPEG" and self.mode not in ("RGB", "L"):
            raise ValueError(f"JPEG cannot store mode {self.mode}")


def upright(pixels: np.ndarray, r: Rendering) -> Image.Image:
    """The photo as a viewer shows it: RGB, or RGBA for a cut-out."""
    side = max(1, round(min(r.width, r.height) * r.fill))
    garment = Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC)
    backdrop = BACKDROPS[r.background]
    ink = (235, 235, 235) if r.background == "dark" else r.ink
    frame = Image.new("RGB", (r.width, r.height), backdrop)
    left = round((r.width - side) * r.centre[0])
    top = round((r.height - side) * r.centre[1])
    # The test image's intensity is how much garment covers each pixel: mix ink over the backdrop.
    patch = Image.composite(Image.new("RGB", (side, side), ink), Image.new("RGB", (side, side), backdrop), garment)
    frame.paste(patch, (left, top))
    if r.noise > 0:
        rng = np.random.default_rng(r.seed)
        grain = rng.standard_normal((r.height, r.width, 1), dtype=np.float32) * np.float32(r.noise)
        frame = Image.fromarray(np.clip(np.asarray(frame, np.float32) + grain, 0, 255).round().astype(np.uint8))
    if r.mode == "RGBA":
        # A cut-out: opaque where the garment is, transparent (and black, as many editors leave it) elsewhere.
        shape = Image.fromarray(np.where(pixels > 0, 255, 0).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR)
        alpha = Image.new("L", (r.width, r.height), 0)
        alpha.paste(shape, (left, top))
        frame = Image.composite(frame, Image.new("RGB", frame.size, (0, 0, 0)), alpha)
        frame.putalpha(alpha)
    return frame


def stored(image: Image.Image, r: Rendering) -> Image.Image:
    """The upright photo in the rendering's mode and stored orientation."""
    if r.mode == "L":
        image = image.convert("L")
    elif r.mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    elif r.mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)  # mode I;16
    if r.exif_orientation in STORED:
        image = image.transpose(STORED[r.exif_orientation])
    return image


def render(pixels: np.ndarray, r: Rendering) -> bytes:
    """A 28x28 uint8 test image (garment bright on black) -> the encoded photo."""
    return encode(upright(pixels, r), r)


def encode(image: Image.Image, r: Rendering) -> bytes:
    """An upright photo (RGB or RGBA) stored in the rendering's mode, orientation and file format."""
    image = stored(image, r)
    options: dict = {}
    if r.exif_orientation != 1:
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = r.exif_orientation
        options["exif"] = exif.tobytes()
    if r.format == "JPEG":
        options["quality"] = r.quality
    buf = io.BytesIO()
    image.save(buf, r.format, **options)
    return buf.getvalue()


def enlarged(frame: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """A device frame (H, W, C) stretched to `size` (width, height) as an RGB picture (bicubic)."""
    image = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame).convert("RGB")
    return image.resize(size, Image.Resampling.BICUBIC)


def photo_for(frame: np.ndarray, recipe: str, width: int, height: int, quality: int = 90, noise: float = 1.5,
              seed: int = 0) -> bytes:
    """A bundle's device frame (H, W, C) as a phone photo of width x height, JPEG.

    fashion-mnist-v1 frames (a bright garment on black) become a dark garment on white, as the
    dataset's product photos were; any other recipe's frame is enlarged (stretched) to the photo's size.
    """
    from fashion_edge.runtime.recipes import FASHION_MNIST

    if recipe == FASHION_MNIST:
        return render(frame.reshape(frame.shape[:2]), Rendering(width, height, noise=noise, quality=quality,
                                                                fill=0.75, seed=seed or width))
    image = enlarged(frame, (width, height))
    if noise > 0:
        rng = np.random.default_rng(seed or width)
        grain = rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(noise)
        image = Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).round().astype(np.uint8))
    return encode(image, Rendering(width, height, quality=quality))
