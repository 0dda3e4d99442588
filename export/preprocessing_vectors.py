"""Preprocessing vectors: photos any app can test its own fashion-mnist-v1 port against.

The exporter writes a dozen encoded photos (JPEG and PNG, 28x28 up to a 12 MP phone photo; RGB,
RGBA cut-out, greyscale, palette, 16-bit; EXIF-rotated; white, off-white and dark backdrops) into
the bundle's preprocessing/ folder, and golden.json's "preprocessing_vectors" gives for each the
28x28 pixels `fashion_edge.runtime.preprocess` makes of it, with a tolerance.

The tolerance is measured, not guessed. A port differs from the runtime in two ways: its JPEG
decoder (IDCT, colour conversion and chroma upsampling round differently: a level or two per pixel)
and its decoding size (the runtime decodes big JPEGs at 1/2..1/8 by DCT scaling; a port may decode in
full). For every case, the pipeline is re-run decoded in full and at one reduction finer than the
runtime's, and in full with the decoded pixels moved by up to +-2 levels; the largest difference
seen, with a margin, is the tolerance. A case that moves by more than MAX_CASE_SPREAD under those
changes is a knife-edge (its trim box, or its short side's rounding to whole output pixels, flips)
and is replaced by the next test image, so every case tests a port, not luck.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashion_edge.export.photo_like import Rendering, render
from fashion_edge.runtime.bundle import sha256_bytes
from fashion_edge.runtime.recipes import FASHION_MNIST
from fashion_edge.runtime.golden import PreprocessingCase, PreprocessingVectors, Tolerance
from fashion_edge.runtime.picture import REDUCTIONS
from fashion_edge.runtime.preprocess import load_image, preprocess, preprocess_at, to_rgb
from fashion_edge.train.artifacts import ArtifactError

FOLDER = "preprocessing"
PERTURBATION = 2          # grey levels: how far another JPEG decoder may put a pixel
MAX_CASE_SPREAD = 1.5     # mean |difference| beyond which a case is a knife-edge and is replaced
MARGIN = 1.5              # tolerance = largest measured difference x MARGIN
TRIES = 8                 # test images tried per case before giving up


@dataclass(frozen=True)
class VectorSpec:
    """One case: a rendering of a test image (None: the test image itself, as a dataset-style PNG)."""

    name: str
    image: int                          # index of the first test image tried
    rendering: Rendering | None = None

    @property
    def background(self) -> str:
        if self.rendering is None:
            return "dark"
        return "transparent" if self.rendering.mode == "RGBA" else self.rendering.background


SPECS = (
    VectorSpec("dataset-28x28", 0),
    VectorSpec("rgb-320x320", 1, Rendering(320, 320, quality=90, noise=1.0, seed=1)),
    VectorSpec("small-64x48", 2, Rendering(64, 48, format="PNG", fill=0.8)),
    VectorSpec("grey-240x320", 3, Rendering(240, 320, mode="L", background="off-white", quality=85, seed=3)),
    VectorSpec("cutout-rgba-360x480", 4, Rendering(360, 480, mode="RGBA", format="PNG", fill=0.7, centre=(0.4, 0.6))),
    VectorSpec("palette-300x200", 5, Rendering(300, 200, mode="P", format="PNG")),
    VectorSpec("i16-256x256", 6, Rendering(256, 256, mode="I;16", format="PNG", background="off-white")),
    VectorSpec("exif3-640x480", 7, Rendering(640, 480, background="off-white", exif_orientation=3, noise=1.0, seed=7)),
    VectorSpec("exif6-1280x960", 8, Rendering(960, 1280, exif_orientation=6, noise=1.5, quality=80, seed=8)),
    VectorSpec("exif8-png-400x300", 9, Rendering(300, 400, format="PNG", exif_orientation=8, fill=0.6)),
    VectorSpec("dark-640x640", 10, Rendering(640, 640, background="dark", quality=88, noise=1.0, seed=10)),
    VectorSpec("offwhite-1600x1200", 11, Rendering(1600, 1200, background="off-white", noise=1.5, quality=85,
                                                   fill=0.6, centre=(0.3, 0.5), seed=11)),
    VectorSpec("phone-4000x3000", 12, Rendering(4000, 3000, noise=1.0, quality=40, fill=0.7, seed=12)),
)


@dataclass(frozen=True)
class Vectors:
    """What the exporter writes: golden.json's preprocessing_vectors and the files it names."""

    vectors: PreprocessingVectors
    files: dict                # bundle-relative path -> bytes
    spreads: dict              # case name -> (mean, max) largest difference measured


def encode(spec: VectorSpec, pixels: np.ndarray) -> bytes:
    if spec.rendering is None:
        buf = io.BytesIO()
        Image.fromarray(pixels, "L").save(buf, "PNG")
        return buf.getvalue()
    return render(pixels, spec.rendering)


def alternatives(data: bytes, golden: np.ndarray) -> list[np.ndarray]:
    """The case as other plausible implementations compute it (see the module docstring)."""
    with Image.open(io.BytesIO(data)) as header:
        size, is_jpeg = header.size, header.format == "JPEG"
    shipped = _shipped_reduction(data, size, golden)
    outs = [preprocess_at(data, 1)]
    if shipped > 1:
        outs.append(preprocess_at(data, shipped // 2))
    if is_jpeg:   # PNG decoders agree to the bit; JPEG decoders do not
        outs += [preprocess_at(moved, 1) for moved in perturbed(np.asarray(to_rgb(load_image(data))), len(data))]
    return outs


def perturbed(rgb: np.ndarray, seed: int) -> list[np.ndarray]:
    """Decoded pixels as other JPEG decoders might give them: moved by up to 1, and up to PERTURBATION, levels."""
    rng = np.random.default_rng(seed)
    wide = rgb.astype(np.int16)
    return [np.clip(wide + rng.integers(-level, level + 1, wide.shape, dtype=np.int16), 0, 255).astype(np.uint8)
            for level in (1, PERTURBATION)]


def _shipped_reduction(data: bytes, size: tuple[int, int], golden: np.ndarray) -> int:
    """The reduction whose result is the golden one (the runtime's choice)."""
    for k in REDUCTIONS:
        if min(size) // k >= 1 and np.array_equal(preprocess_at(data, k), golden):
            return k
    return 1


def spread(golden: np.ndarray, others: list[np.ndarray]) -> tuple[float, int]:
    diffs = [np.abs(o.astype(np.int16) - golden) for o in others]
    return max(float(d.mean()) for d in diffs), max(int(d.max()) for d in diffs)


def build(images: np.ndarray) -> Vectors:
    """Render, preprocess and measure every case (deterministic for a given Pillow/libjpeg)."""
    cases, files, spreads = [], {}, {}
    for spec in SPECS:
        for attempt in range(TRIES):
            data = encode(spec, images[(spec.image + attempt * len(SPECS)) % len(images)])
            golden = preprocess(data)
            measured = spread(golden, alternatives(data, golden))
            if measured[0] <= MAX_CASE_SPREAD:
                break
        else:
            raise ArtifactError(f"preprocessing vector {spec.name}: no rendering of {TRIES} test images is stable "
                                f"within {MAX_CASE_SPREAD} grey levels; is this Pillow's JPEG codec unusual?")
        suffix = "jpg" if data[:2] == b"\xff\xd8" else "png"
        path = f"{FOLDER}/{spec.name}.{suffix}"
        with Image.open(io.BytesIO(data)) as header:
            width, height, mode = header.width, header.height, header.mode
        files[path] = data
        spreads[spec.name] = measured
        cases.append(PreprocessingCase(spec.name, path, sha256_bytes(data), len(data), width, height, mode,
                                       spec.rendering.exif_orientation if spec.rendering else 1, spec.background,
                                       golden))
    how = "decoding in full or one DCT-scaling step finer"
    return Vectors(PreprocessingVectors(FASHION_MNIST, tolerance(spreads, how), tuple(cases)), files, spreads)


def tolerance(spreads: dict, how: str) -> Tolerance:
    """The largest difference measured over the cases' alternatives (`how` they were decoded), x MARGIN."""
    mean = max(m for m, _ in spreads.values())
    worst = max(x for _, x in spreads.values())
    return Tolerance(
        mean_abs=math.ceil(max(mean, 0.5) * MARGIN * 10) / 10, max_abs=int(math.ceil(max(worst, 8) * MARGIN)),
        why=(f"measured on these cases: {how}, and moving decoded pixels by up to {PERTURBATION} levels "
             f"(another JPEG decoder), changed a case by at most {mean:.2f} mean and {worst} max levels; "
             f"x{MARGIN} margin"))
