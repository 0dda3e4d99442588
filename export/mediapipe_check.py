"""MediaPipe's own Python ImageClassifier on a bundle's Tasks-ready files, against fashion-edge's runtime.

Three comparisons separate MediaPipe, the file and the preprocessing:
- same file: MediaPipe and LiteRT on the same Tasks-ready file and the runtime's preprocessed frames (the
  tensor's size, so MediaPipe resizes nothing): MediaPipe runs the file as it is meant to run (gated);
- frames: MediaPipe against the runtime running the format the file was made from (a variant's
  `based_on`, or the file itself): a difference is the variant's own (an int8 variant requantizes its
  softmax; its parity against Keras is in the manifest);
- photos: the decoded photos as they are (Pillow, EXIF-rotated, RGB) — MediaPipe resizes them itself, so
  what differs beyond the frames' figure comes from its resize, not from the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fashion_edge.export import evaluate
from fashion_edge.export.tasks_ready import as_rgb
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import UsageError

MIN_AGREEMENT = 0.99         # same class as LiteRT on the same file and frames (MediaPipe resizes nothing)


@dataclass(frozen=True)
class Agreement:
    file: str                       # the Tasks-ready file MediaPipe ran
    runtime_format: str             # the format the runtime ran
    images: int
    same_file: float                # top-1 agreement with LiteRT on the same file and frames
    frames: float                   # top-1 agreement on the runtime's own frames (no resize by MediaPipe)
    photos: float | None            # top-1 agreement on the photos as they are (MediaPipe's resize)
    labels_match: bool              # MediaPipe's category names are the bundle's labels
    max_score_diff: float           # largest |MediaPipe score - runtime probability| on the frames
    accuracy: tuple[float, float] | None = None          # (MediaPipe, runtime) on the frames, given labels
    photo_accuracy: tuple[float, float] | None = None    # (MediaPipe, runtime) on the photos, given labels

    @property
    def passed(self) -> bool:
        """MediaPipe runs the file as LiteRT does: the same class on >= 99% of frames, the bundle's labels.
        The rest is measured, not gated: a variant's own parity is gated at export, and photos differ by
        MediaPipe's resize, which the app controls."""
        return self.same_file >= MIN_AGREEMENT and self.labels_match

    def describe(self) -> str:
        acc = "" if self.accuracy is None else (f" (accuracy {100 * self.accuracy[0]:.2f}% vs "
                                                f"{100 * self.accuracy[1]:.2f}%)")
        photos = ""
        if self.photos is not None:
            photos = f"; photos at their own size {100 * self.photos:.2f}% (MediaPipe's resize)"
            if self.photo_accuracy is not None:
                photos += (f" (accuracy {100 * self.photo_accuracy[0]:.2f}% vs "
                           f"{100 * self.photo_accuracy[1]:.2f}%)")
        return (f"{self.file}: MediaPipe's ImageClassifier on {self.images:,} held-out images: same class as "
                f"LiteRT on this file {100 * self.same_file:.2f}%; as the runtime ({self.runtime_format}) on frames "
                f"{100 * self.frames:.2f}%{acc}{photos}; labels {'match' if self.labels_match else 'DIFFER'}; "
                f"max |score diff| {self.max_score_diff:.3f}")


def check(bundle_dir: Path, frames: np.ndarray, photos: Sequence[Path] | None = None,
          labels: np.ndarray | None = None) -> list[Agreement]:
    """Every Tasks-ready file of the bundle, on `frames` (uint8 N x H x W x C device frames), their photos
    and, given their class ids, each side's accuracy."""
    bundle = Bundle.load(bundle_dir)
    manifest = bundle.manifest
    if not manifest.tasks_ready_files():
        raise UsageError(f"{bundle_dir}: no Tasks-ready TFLite file (manifest tasks: "
                         f"{manifest.tasks.note if manifest.tasks else 'not recorded'})")
    runs = [(f.file, f.based_on) for f in manifest.tasks.files]
    runs += [(manifest.formats[n].file, n) for n, v in manifest.tasks.formats.items() if v.ready]
    return [_one(bundle, manifest, file, fmt, frames, photos, labels) for file, fmt in runs if fmt in manifest.formats]


def held_out(bundle_dir: Path, data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray, list[Path] | None]:
    """The images the bundle was gated on: frames, class ids, and for image folders the photos themselves."""
    from fashion_edge.runtime.errors import DataError
    from fashion_edge.train.data import test_set_for
    from fashion_edge.train.folder import rescan

    bundle = Bundle.load(bundle_dir)
    found = test_set_for(bundle, data_dir)
    if found is None:
        raise DataError(f"{bundle_dir}: the images it was gated on are not at hand here (--data DIR)")
    record = bundle.manifest.data
    if record is None or record.kind != "image-folder":
        return found[0], found[1], None
    gate = rescan(Path(data_dir or record.name), record.split).parts["test"]
    return found[0], found[1], list(gate.paths)


def _one(bundle: Bundle, manifest, file: str, fmt: str, frames: np.ndarray, photos: Sequence[Path] | None,
         labels: np.ndarray | None) -> Agreement:
    import mediapipe as mp

    runtime = Classifier(bundle, format=fmt)
    want = [runtime.predict_preprocessed(frame) for frame in frames]
    with _classifier(bundle.path / file) as mediapipe:
        rgb = frames if frames.shape[-1] == 3 else as_rgb(frames)
        got = [_top(mediapipe.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(f))))
               for f in rgb]
        on_photos = photo_accuracy = None
        if photos is not None:
            runtime_photos = np.asarray([runtime.predict(p).label_id for p in photos])
            mp_photos = np.asarray([_top(mediapipe.classify(_photo(mp, p)))[0] for p in photos])
            on_photos = float(np.mean(runtime_photos == mp_photos))
            if labels is not None:
                photo_accuracy = (float(np.mean(mp_photos == labels)), float(np.mean(runtime_photos == labels)))
    mp_top = np.asarray([g[0] for g in got])
    litert = evaluate.logits("litert", bundle.read_file(file), np.ascontiguousarray(rgb)).argmax(1)
    runtime_top = np.asarray([w.label_id for w in want])
    names = all(g[1] == manifest.labels[g[0]] for g in got)
    diff = max(abs(g[2] - float(w.probabilities[g[0]])) for g, w in zip(got, want))
    accuracy = None if labels is None else (float(np.mean(mp_top == labels)), float(np.mean(runtime_top == labels)))
    return Agreement(file, fmt, len(frames), float(np.mean(mp_top == litert)), float(np.mean(mp_top == runtime_top)),
                     on_photos, names, diff, accuracy, photo_accuracy)


def _top(result) -> tuple[int, str, float]:
    best = max(result.classifications[0].categories, key=lambda c: c.score)
    return best.index, best.category_name, float(best.score)


def _photo(mp, path: Path):
    """The photo decoded as the runtime decodes it (Pillow, EXIF-rotated, RGB), at its own size."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


class _classifier:
    """MediaPipe's ImageClassifier over one file, every class scored, closed on exit."""

    def __init__(self, path: Path) -> None:
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_buffer=path.read_bytes()),
                                                max_results=-1)
        self._classifier = vision.ImageClassifier.create_from_options(options)

    def __enter__(self):
        return self._classifier

    def __exit__(self, *exc) -> None:
        self._classifier.close()
