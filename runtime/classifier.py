"""`Classifier`: a bundle's model on a backend, from an image to a `Prediction`.

    from fashion_edge.runtime import Classifier
    clf = Classifier("artifacts/edge/bundle")          # tflite-int8 on the best installed backend
    clf.predict("shirt.jpg").label                       # 'Shirt'

Thread-safe: one interpreter per Classifier behind a lock (see Session), so results from many
threads are identical to serial calls.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from fashion_edge.runtime.backends import Backend, choose_backend, get_backend, open_backend
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.formats import DEFAULT_FORMAT, get_format, looks_like
from fashion_edge.runtime.options import EngineOptions
from fashion_edge.runtime.prediction import Prediction, eager
from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.frames import as_batch, exact_frames
from fashion_edge.runtime.recipes import Preprocessor
from fashion_edge.runtime.session import Session

if TYPE_CHECKING:
    from fashion_edge.runtime.picture import ImageLike

DEFAULT_BUNDLE = Path("artifacts/edge/bundle")


class Classifier:
    def __init__(self, bundle: str | Path | Bundle = DEFAULT_BUNDLE, format: str = DEFAULT_FORMAT,
                 backend: str | None = None, threads: int | None = None, xnnpack: bool | None = None,
                 spinning: bool | int | None = None, self_check: bool = False) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        self.format = format
        self.backend_name = choose_backend(format, backend)
        self.options = get_backend(self.backend_name).resolve(EngineOptions(threads, xnnpack, spinning))
        entry = self.bundle.entry(format)
        blob = self.bundle.read_model(format)
        family = get_format(format).family
        if not looks_like(family, blob):
            raise BundleError(f"{format}: {entry.file} is not a {family} file")
        manifest = self.bundle.manifest
        self.contract = manifest.input
        self._session = Session(open_backend(self.backend_name, blob, self.options),
                                probabilities=not manifest.output.is_logits)
        got, want = self._session.backend.input, entry.input
        if (got.dtype, got.scale, got.zero_point) != (want.dtype, want.scale, want.zero_point):
            raise BundleError(f"{format}: the model's input ({got.dtype}, scale {got.scale}) "
                              f"disagrees with manifest.json ({want.dtype}, scale {want.scale})")
        if tuple(got.shape[1:]) != self.contract.shape[1:]:
            raise BundleError(f"{format}: {entry.file} takes {list(got.shape)} but manifest.json's input contract is "
                              f"{list(self.contract.shape)} ({self.contract.describe()})")
        out = self._session.backend.output
        if out.shape[-1] != manifest.output.classes:
            raise BundleError(f"{format}: {entry.file} gives {out.shape[-1]} outputs but manifest.json names "
                              f"{manifest.output.classes} classes (output.classes, labels)")
        self.labels: tuple[str, ...] = self.bundle.labels
        self._preprocessor = Preprocessor(self.contract)
        self._frame = self._preprocessor.frame                 # numpy only: a device frame passes as is
        self._exact = exact_frames(self.contract)              # predict_preprocessed's shape check
        self._answer = self._session.predictor(self.labels)   # the batch-of-one path: frame -> Prediction
        # Opt-in golden run (runtime/selfcheck.py): raises SelfCheckError if this backend disagrees.
        self.self_check_result = None
        if self_check:
            from fashion_edge.runtime import selfcheck

            self.self_check_result = selfcheck.require(self)

    @property
    def engine(self) -> Backend:
        """The backend object underneath (`backend_name` names it): benchmarks time its own loop beside
        `predict`. Not thread-safe by itself, and not behind the classifier's lock."""
        return self._session.backend

    @property
    def threads(self) -> int | None:
        return self.options.threads

    def __repr__(self) -> str:
        return (f"Classifier({str(self.bundle.path)!r}, format={self.format!r}, backend={self.backend_name!r}, "
                f"{', '.join(f'{k}={v!r}' for k, v in self.options.given().items())})")

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """The file's float outputs (logits, or probabilities: manifest.output.kind) for device frames
        (N, H, W, C) uint8, or (N, H, W) for a grey contract."""
        return self._session.logits(as_batch(pixels, self.contract.shape[1:]))

    def preprocess(self, image: ImageLike) -> np.ndarray:
        """The bundle's recipe on one image: the device frame `predict` would classify."""
        return self._preprocessor(image)

    def predict(self, image: ImageLike) -> Prediction:
        """One image: a path, bytes, a PIL image, or a pixel array (a device frame passes as is)."""
        frame = self._frame(image)
        return self._answer(frame if frame is not None else self._preprocessor.preprocess(image))

    def predict_preprocessed(self, pixels: np.ndarray) -> Prediction:
        """One frame that the recipe already produced (uint8 at the contract's shape, any batch-of-one form), as is.

        For a caller that preprocesses elsewhere (another thread, a cache): unlike `predict`, the frame is
        not looked at again, so a garment filling a fashion-mnist-v1 frame to its corners is not taken
        for a photo. Any other shape is an InvalidImageError naming the contract.
        """
        return self._answer(self._exact(pixels))

    def predict_batch(self, images: Sequence[ImageLike] | np.ndarray | Iterable[ImageLike]) -> list[Prediction]:
        """Many images in one backend call: a sequence of images, or an array of them (N, ...) whose first axis
        is the batch; a uint8 array of device frames (N, H, W[, C]) skips preprocessing."""
        shape = self.contract.shape[1:]
        array = isinstance(images, np.ndarray)
        if array and images.ndim < (3 if shape[2] == 1 else 4):
            raise InvalidImageError(f"predict_batch takes images (N, ...) in a batch, got one array of shape "
                                    f"{images.shape}; for one image use predict")
        if array and images.dtype == np.uint8 and images.shape[1:3] == shape[:2] and (images.ndim == 4 or shape[2] == 1):
            batch = as_batch(images, shape)
        else:
            batch = as_batch(np.stack([self._preprocessor(image) for image in images]), shape)
        softmax, labels = self._session.softmax, self.labels
        return [eager(softmax(row), labels) for row in self._session.outputs(batch)]
