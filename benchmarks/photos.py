"""Photos end to end: `Classifier.predict` on an encoded photo, beside Pillow's plain full-size decode of it.

A user classifying a photo waits for decoding and preprocessing, not for the ~100 µs model. The
yardstick is the time Pillow needs just to decode the same file at full size, measured in the same
process and interleaved with the end-to-end calls (so machine noise lands on both): a ratio under 1
means the photo is classified faster than it could even be decoded the naive way. Targets, by the
bundle's recipe: fashion-mnist-v1, e2e / decode p50 <= 1.5 at 320x320, <= 1.0 at 1280x960, <= 0.5 at
4000x3000; photo-v1, <= 1.2 at 1280x960 and <= 1.0 at 4000x3000.

The photos are one of the bundle's test frames rendered as phone-like JPEGs (sensor noise, quality
90; export/photo_like.photo_for); the camera frame is an H x W x 3 uint8 array, as picamera2 gives,
paired with the decode of the same frame stored as a JPEG (what an app would otherwise receive).

    from fashion_edge.benchmarks.photos import measure_photos
    timings = measure_photos(Classifier(bundle), bundle.golden().images[0])
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashion_edge.benchmarks.stats import LatencyStats
from fashion_edge.benchmarks.timing import measure_in_rounds
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.recipes import FASHION_MNIST, PHOTO

# e2e / decode p50, at most, by the bundle's preprocessing recipe
TARGETS = {FASHION_MNIST: {"jpeg-320x320": 1.5, "jpeg-1280x960": 1.0, "jpeg-4000x3000": 0.5},
           PHOTO: {"jpeg-1280x960": 1.2, "jpeg-4000x3000": 1.0}}
PIXEL_BUDGET = 400_000_000     # pixels decoded per case and per candidate: ~30 calls of a 12 MP photo


@dataclass(frozen=True)
class PhotoCase:
    name: str            # e.g. "jpeg-1280x960", "frame-640x480"
    width: int
    height: int
    kind: str            # "jpeg": predict(file bytes); "frame": predict(H x W x 3 uint8 array)
    bytes: int           # the JPEG's size (for a frame: the same frame stored as a JPEG)
    recipe: str = FASHION_MNIST   # the bundle's preprocessing: it sets the targets

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.recipe, {}).get(self.name)


@dataclass(frozen=True)
class PhotoTiming:
    case: PhotoCase
    e2e_us: LatencyStats          # Classifier.predict on the encoded bytes (or the frame array)
    decode_us: LatencyStats       # Image.open(bytes).load(): Pillow's full-size decode of the same JPEG
    preprocess_us: LatencyStats   # the recipe alone: e2e without the model, which varies by bundle

    @property
    def ratio(self) -> float:
        return self.e2e_us.p50 / self.decode_us.p50

    @property
    def preprocess_ratio(self) -> float:
        return self.preprocess_us.p50 / self.decode_us.p50

    @property
    def meets_target(self) -> bool | None:
        return None if self.case.target is None else self.ratio <= self.case.target

    def to_json(self) -> dict:
        return {"name": self.case.name, "width": self.case.width, "height": self.case.height, "kind": self.case.kind,
                "bytes": self.case.bytes, "recipe": self.case.recipe, "e2e_latency_us": self.e2e_us.to_json(),
                "decode_latency_us": self.decode_us.to_json(), "preprocess_latency_us": self.preprocess_us.to_json(),
                "e2e_over_decode_p50": round(self.ratio, 4),
                "preprocess_over_decode_p50": round(self.preprocess_ratio, 4), "target": self.case.target}


def _decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def measure_photos(classifier: Classifier, frame: np.ndarray, rounds: int = 5,
                   pixel_budget: int = PIXEL_BUDGET) -> tuple[PhotoTiming, ...]:
    """e2e, full-decode and preprocess-only p50 for 320x320, 1280x960, 4000x3000 JPEGs and a 640x480 frame.

    `frame` is one of the bundle's test frames to render; each case is measured on its own, its three
    candidates interleaved over `rounds` rounds, with about `pixel_budget` decoded pixels each.
    """
    recipe = classifier.contract.preprocessing.id
    preprocess = classifier.preprocess
    timings = []
    for kind, (width, height) in (("jpeg", (320, 320)), ("jpeg", (1280, 960)), ("jpeg", (4000, 3000)),
                                  ("frame", (640, 480))):
        data = photo_for(frame, recipe, width, height)
        source: object = data
        if kind == "frame":
            with Image.open(io.BytesIO(data)) as image:
                source = np.asarray(image.convert("RGB"))
        runs = int(min(400, max(10, pixel_budget // (width * height))))
        samples = measure_in_rounds({"e2e": (lambda s=source: classifier.predict(s), runs),
                                     "decode": (lambda d=data: _decode(d), runs),
                                     "preprocess": (lambda s=source: preprocess(s), runs)},
                                    rounds=min(rounds, runs), warmup=3)
        case = PhotoCase(f"{kind}-{width}x{height}", width, height, kind, len(data), recipe)
        timings.append(PhotoTiming(case, *(LatencyStats.from_seconds(samples[k]) for k in ("e2e", "decode", "preprocess"))))
    return tuple(timings)


def describe(timings: tuple[PhotoTiming, ...]) -> str:
    """A plain-text table, one line per case."""
    lines = [f"{'photo':16s} {'bytes':>9s} {'e2e p50':>10s} {'decode p50':>11s} {'ratio':>6s} "
             f"{'preproc p50':>12s} {'ratio':>6s}  target (e2e/decode)"]
    for t in timings:
        verdict = "" if t.case.target is None else f"<= {t.case.target}: {'ok' if t.meets_target else 'MISSED'}"
        lines.append(f"{t.case.name:16s} {t.case.bytes:9,d} {t.e2e_us.p50 / 1000:8.2f} ms {t.decode_us.p50 / 1000:8.2f} ms "
                     f"{t.ratio:6.2f} {t.preprocess_us.p50 / 1000:9.2f} ms {t.preprocess_ratio:6.2f}  {verdict}")
    return "\n".join(lines)
