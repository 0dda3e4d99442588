"""Preprocessing vectors for `photo-v1`: the bundle's own test frames as the photos an app would be given.

Each case enlarges a test frame (or stretches it to another aspect ratio, where crop and pad act),
stores it as JPEG or PNG in a mode and an EXIF orientation, and records the pixels `photo-v1` makes of
it at the bundle's shape. The tolerance is measured as for fashion-mnist-v1 (preprocessing_vectors.py):
each JPEG decoded in full instead of at the runtime's DCT-scaled 1/k, and its decoded pixels moved by
up to 2 levels (another JPEG decoder); the largest difference seen, with a margin.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashion_edge.export.photo_like import Rendering, encode, enlarged
from fashion_edge.export.preprocessing_vectors import FOLDER, Vectors, perturbed, spread, tolerance
from fashion_edge.runtime.bundle import sha256_bytes
from fashion_edge.runtime.contract import InputContract
from fashion_edge.runtime.golden import PreprocessingCase, PreprocessingVectors
from fashion_edge.runtime.photo import pixels_of, preprocess_photo, preprocess_photo_at
from fashion_edge.runtime.picture import Picture


@dataclass(frozen=True)
class PhotoSpec:
    name: str
    image: int                       # which test frame
    size: tuple[int, int] | None     # (width, height) as viewed; None: `scale` times the frame
    rendering: Rendering             # mode, format, quality, EXIF orientation (its size fields are set here)
    scale: int = 4
    margin: float = 0.0              # a transparent border, as a fraction of each side (RGBA cut-outs)


def _r(**kwargs) -> Rendering:
    return Rendering(1, 1, **kwargs)


SPECS = (
    PhotoSpec("frame-png", 0, None, _r(format="PNG"), scale=1),
    PhotoSpec("rgb-4x-jpeg", 1, None, _r(quality=90)),
    PhotoSpec("wide-640x360-jpeg", 2, (640, 360), _r(quality=85)),
    PhotoSpec("tall-300x500-png", 3, (300, 500), _r(format="PNG")),
    PhotoSpec("cutout-rgba-png", 4, None, _r(mode="RGBA", format="PNG"), scale=3, margin=0.2),
    PhotoSpec("grey-jpeg", 5, None, _r(mode="L", quality=90), scale=3),
    PhotoSpec("palette-png", 6, None, _r(mode="P", format="PNG"), scale=2),
    PhotoSpec("i16-png", 7, None, _r(mode="I;16", format="PNG"), scale=2),
    PhotoSpec("exif6-jpeg", 8, None, _r(exif_orientation=6, quality=88), scale=5),
    PhotoSpec("exif3-jpeg", 9, None, _r(exif_orientation=3, quality=88), scale=3),
    PhotoSpec("exif8-png", 10, None, _r(exif_orientation=8, format="PNG"), scale=3),
    PhotoSpec("photo-1280x960-jpeg", 11, (1280, 960), _r(quality=85)),
    PhotoSpec("phone-4000x3000-jpeg", 12, (4000, 3000), _r(quality=40)),
)


def upright(frame: np.ndarray, spec: PhotoSpec) -> Image.Image:
    """The photo as a viewer shows it: the frame enlarged (RGB), or a cut-out on transparency (RGBA)."""
    height, width = frame.shape[:2]
    size = spec.size or (width * spec.scale, height * spec.scale)
    content = enlarged(frame, size)
    if spec.rendering.mode != "RGBA":
        return content
    border = (round(size[0] * spec.margin), round(size[1] * spec.margin))
    canvas = Image.new("RGBA", (size[0] + 2 * border[0], size[1] + 2 * border[1]), (0, 0, 0, 0))
    canvas.paste(content, border)        # opaque inside, transparent black around it
    return canvas


def build(contract: InputContract, test: np.ndarray) -> Vectors:
    cases, files, spreads = [], {}, {}
    for spec in SPECS:
        data = encode(upright(test[spec.image % len(test)], spec), spec.rendering)
        golden = preprocess_photo(data, contract)
        spreads[spec.name] = spread(golden, alternatives(data, contract))
        suffix = "jpg" if data[:2] == b"\xff\xd8" else "png"
        path = f"{FOLDER}/{spec.name}.{suffix}"
        with Image.open(io.BytesIO(data)) as header:
            width, height, mode = header.width, header.height, header.mode
        files[path] = data
        cases.append(PreprocessingCase(spec.name, path, sha256_bytes(data), len(data), width, height, mode,
                                       spec.rendering.exif_orientation,
                                       "transparent" if spec.rendering.mode == "RGBA" else "white", golden))
    how = "decoding each JPEG in full instead of at the runtime's 1/k"
    return Vectors(PreprocessingVectors(contract.preprocessing.id, tolerance(spreads, how), tuple(cases)), files, spreads)


def alternatives(data: bytes, contract: InputContract) -> list[np.ndarray]:
    """The case as other plausible implementations compute it: decoded in full, and (JPEG) by another decoder."""
    outs = [preprocess_photo_at(data, contract, 1)]
    if data[:2] == b"\xff\xd8":
        decoded = np.asarray(Picture.open(data).upright(1).convert("RGB"))
        outs += [pixels_of(Image.fromarray(moved), contract) for moved in perturbed(decoded, len(data))]
    return outs
