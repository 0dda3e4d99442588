"""golden.json as types: inputs and the outputs every format must reproduce, for apps' own tests.

Also the preprocessing vectors: encoded photos in the bundle's preprocessing/ folder with the pixels
the bundle's recipe makes of them and the tolerance a port (Kotlin, Swift, JavaScript; another JPEG
decoder and resampler) may stray by, so an app can test its own preprocessing. Bundles exported
without them have none (`Golden.preprocessing_vectors` is None).

Pixels are stored as {"shape": [...], "base64": ...} (uint8, row-major NHWC: compact at any input
size); schema-2 bundles stored 28x28 lists of integers, which still read. `test_top1` is a list of
class ids (schema 2: one digit per image, which still reads).
"""
from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.manifest import check_relative_file
from fashion_edge.runtime.frames import SIZE

FILE = "golden.json"
SIDE = SIZE             # schema-2 golden files hold 28x28 lists


@dataclass(frozen=True, eq=False)
class GoldenOutput:
    logits: np.ndarray          # (N, classes) float32, dequantized: the file's outputs (logits or probabilities)
    top1: tuple[int, ...]
    test_top1: np.ndarray       # every held-out test image's top-1 class, int32

    @classmethod
    def read(cls, name: str, o: Obj) -> "GoldenOutput":
        if name not in FORMATS:
            raise BundleError(f"{o.file}: unknown format {name!r} in outputs")
        logits = _matrix(o, "logits")
        top1 = o.ints("top1")
        if len(top1) != len(logits) or any(not 0 <= t < logits.shape[1] for t in top1):
            raise o.fail("top1", f"must give one class (0..{logits.shape[1] - 1}) per golden image")
        raw = o.get("test_top1", lambda v: isinstance(v, (str, list)), "a list of class ids")
        if isinstance(raw, str):            # schema 2: one digit per image
            digits = np.frombuffer(raw.encode(), np.uint8).astype(np.int32) - ord("0")
            if not (raw.isascii() and raw.isdigit()) or (digits.size and digits.max() >= logits.shape[1]):
                raise o.fail("test_top1", f"must be digits 0..{logits.shape[1] - 1}, one per test image")
            test_top1 = digits
        else:
            test_top1 = np.asarray(o.ints("test_top1"), dtype=np.int64)
            if test_top1.size and (test_top1.min() < 0 or test_top1.max() >= logits.shape[1]):
                raise o.fail("test_top1", f"must hold class ids 0..{logits.shape[1] - 1}")
            test_top1 = test_top1.astype(np.int32)
        return cls(logits, top1, test_top1)

    def to_json(self) -> dict:
        return {"logits": np.round(self.logits, 6).tolist(), "top1": list(self.top1),
                "test_top1": self.test_top1.tolist()}


MODES = ("RGB", "RGBA", "L", "P", "I;16")             # the files' modes, as Pillow names them
BACKGROUNDS = ("white", "off-white", "dark", "transparent")
_SHA256 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Tolerance:
    """How far another implementation's result may be from a case's pixels, and why."""

    mean_abs: float      # mean |difference| over every value of the frame, levels 0..255
    max_abs: int         # largest |difference| of one value
    why: str

    @classmethod
    def read(cls, o: Obj) -> "Tolerance":
        return cls(o.float("mean_abs", minimum=0.0), o.int("max_abs", minimum=0), o.str("why"))

    def accepts(self, pixels: np.ndarray, expected: np.ndarray) -> bool:
        """The one rule for "matches a vector": the same frame shape (a trailing channel of 1 aside), then
        mean and largest |difference| within the tolerance."""
        pixels, expected = _frame(np.asarray(pixels, np.int16)), _frame(np.asarray(expected, np.int16))
        if pixels.shape != expected.shape:
            return False
        diff = np.abs(pixels - expected)
        return float(diff.mean()) <= self.mean_abs and int(diff.max()) <= self.max_abs

    def to_json(self) -> dict:
        return {"mean_abs": self.mean_abs, "max_abs": self.max_abs, "why": self.why}


@dataclass(frozen=True, eq=False)
class PreprocessingCase:
    """One encoded photo in the bundle and the pixels `preprocess` makes of it."""

    name: str
    file: str                # inside the bundle, e.g. "preprocessing/rgb-320x320.jpg" (listed in manifest assets)
    sha256: str
    bytes: int
    width: int               # as stored in the file, before EXIF orientation
    height: int
    mode: str
    exif_orientation: int    # 1 (none) to 8
    background: str
    pixels: np.ndarray       # the frame the recipe makes of the file: (H, W) grey or (H, W, 3) uint8

    @classmethod
    def read(cls, o: Obj) -> "PreprocessingCase":
        sha = o.str("sha256")
        if len(sha) != 64 or not set(sha) <= _SHA256:
            raise o.fail("sha256", "must be 64 lowercase hex digits")
        mode, background = o.str("mode"), o.str("background")
        if mode not in MODES:
            raise o.fail("mode", f"must be one of {', '.join(MODES)}, not {mode!r}")
        if background not in BACKGROUNDS:
            raise o.fail("background", f"must be one of {', '.join(BACKGROUNDS)}, not {background!r}")
        orientation = o.int("exif_orientation", minimum=1)
        if orientation > 8:
            raise o.fail("exif_orientation", f"must be 1..8, not {orientation}")
        if isinstance(o.raw.get("pixels"), list):     # schema 2: 28 rows of 28 integers
            pixels = np.asarray(o.get("pixels", _is_image, f"{SIDE} rows of {SIDE} integers 0..255"), dtype=np.uint8)
        else:
            pixels = read_pixels(o, "pixels")
            if pixels.ndim not in (2, 3):
                raise o.fail("pixels", f"must be one frame, (H, W) or (H, W, C), not shape {list(pixels.shape)}")
        return cls(o.str("name"), check_relative_file(o, "file", o.str("file"), subfolders=True), sha,
                   o.int("bytes", minimum=1), o.int("width", minimum=1), o.int("height", minimum=1), mode,
                   orientation, background, pixels)

    def to_json(self) -> dict:
        return {"name": self.name, "file": self.file, "sha256": self.sha256, "bytes": self.bytes,
                "width": self.width, "height": self.height, "mode": self.mode,
                "exif_orientation": self.exif_orientation, "background": self.background,
                "pixels": pixels_json(self.pixels)}


@dataclass(frozen=True, eq=False)
class PreprocessingVectors:
    id: str                  # the preprocessing these pixels are: the manifest's input.preprocessing
    tolerance: Tolerance
    cases: tuple[PreprocessingCase, ...]

    @classmethod
    def read(cls, o: Obj) -> "PreprocessingVectors":
        cases = o.objs("cases", PreprocessingCase.read)
        if not cases:
            raise o.fail("cases", "lists no cases")
        names = [c.name for c in cases]
        if len(set(names)) != len(names) or len({c.file for c in cases}) != len(cases):
            raise o.fail("cases", "must have unique names and files")
        return cls(o.str("id"), Tolerance.read(o.obj("tolerance")), cases)

    def to_json(self) -> dict:
        return {"id": self.id, "tolerance": self.tolerance.to_json(), "cases": [c.to_json() for c in self.cases]}


@dataclass(frozen=True, eq=False)
class Golden:
    preprocessing: str
    images: np.ndarray           # (N, H, W, C) uint8 device frames, already preprocessed
    labels: tuple[int, ...]
    keras_logits: np.ndarray
    outputs: Mapping[str, GoldenOutput]
    preprocessing_vectors: PreprocessingVectors | None = None    # None in bundles exported before them

    @classmethod
    def from_json(cls, raw: Any, file: str = FILE) -> "Golden":
        o = Obj(raw, "", file)
        if isinstance(o.raw.get("images"), list):     # schema 2: 28x28 lists
            images = o.get("images", _is_image_list, f"a list of {SIDE}x{SIDE} arrays of 0..255")
            pixels = np.asarray(images, dtype=np.uint8).reshape(-1, SIDE, SIDE, 1)
        else:
            pixels = read_pixels(o, "images")
            if pixels.ndim != 4 or not len(pixels):
                raise o.fail("images", f"must be frames (N, H, W, C), not shape {list(pixels.shape)}")
        labels = o.ints("labels")
        if len(labels) != len(pixels):
            raise o.fail("labels", f"has {len(labels)} entries for {len(pixels)} images")
        outputs = o.mapping("outputs", GoldenOutput.read)
        for name, out in outputs.items():
            if len(out.logits) != len(pixels):
                raise BundleError(f"{file}: outputs.{name}.logits has {len(out.logits)} rows for {len(pixels)} images")
        vectors = o.obj("preprocessing_vectors", optional=True)
        vectors = PreprocessingVectors.read(vectors) if vectors is not None else None
        preprocessing = o.str("preprocessing")
        if vectors is not None and vectors.id != preprocessing:
            raise BundleError(f"{file}: preprocessing_vectors.id {vectors.id!r} differs from preprocessing {preprocessing!r}")
        return cls(preprocessing, pixels, labels, _matrix(o, "keras_logits"), outputs, vectors)

    def to_json(self) -> dict:
        out = {"preprocessing": self.preprocessing, "images": pixels_json(self.images), "labels": list(self.labels),
               "keras_logits": np.round(self.keras_logits, 6).tolist(),
               "outputs": {k: v.to_json() for k, v in self.outputs.items()}}
        if self.preprocessing_vectors is not None:
            out["preprocessing_vectors"] = self.preprocessing_vectors.to_json()
        return out


def _frame(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels


def pixels_json(pixels: np.ndarray) -> dict:
    """uint8 pixels as golden.json stores them: the shape, and the bytes in row-major order as base64."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    return {"shape": list(pixels.shape), "base64": base64.b64encode(pixels.tobytes()).decode("ascii")}


def read_pixels(o: Obj, key: str) -> np.ndarray:
    p = o.obj(key)
    shape = p.ints("shape")
    if not shape or any(d < 1 for d in shape):
        raise p.fail("shape", f"must be positive sizes, not {list(shape)}")
    size = math.prod(shape)           # Python integers: no overflow for absurd claims
    text = p.str("base64")
    if size > len(text) // 4 * 3:     # base64 holds 3 bytes per 4 characters: refuse before decoding
        raise p.fail("base64", f"is too short for shape {list(shape)}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise p.fail("base64", "is not valid base64") from None
    if len(data) != size:
        raise p.fail("base64", f"holds {len(data)} bytes, not the {size} of shape {list(shape)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _is_image(value: Any) -> bool:
    return isinstance(value, list) and len(value) == SIDE and all(
        isinstance(row, list) and len(row) == SIDE and all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in row) for row in value)


def _is_image_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(_is_image(img) for img in value)


def _matrix(o: Obj, key: str) -> np.ndarray:
    rows = o.get(key, lambda v: isinstance(v, list) and all(
        isinstance(r, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r) for r in v),
        "a list of lists of numbers")
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError:
        raise o.fail(key, "must have rows of equal length") from None
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise o.fail(key, "must be a finite matrix")
    return matrix
