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
from fashion_edge.runtime.errors import BundleError, InvalidImageError
from fashion_edge.runtime.formats import DEFAULT_FORMAT, get_format, looks_like
from fashion_edge.runtime.options import EngineOptions
from fashion_edge.runtime.prediction import Prediction, eager
from fashion_edge.runtime.frames import SIZE, as_batch, dataset_frame
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
        self._session = Session(open_backend(self.backend_name, blob, self.options))
        got, want = self._session.backend.input, entry.input
        if (got.dtype, got.scale, got.zero_point) != (want.dtype, want.scale, want.zero_point):
            raise BundleError(f"{format}: the model's input ({got.dtype}, scale {got.scale}) "
                              f"disagrees with manifest.json ({want.dtype}, scale {want.scale})")
        self.labels: tuple[str, ...] = self.bundle.labels
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
        """Raw float logits for dataset-style uint8 pixels (N, 28, 28[, 1])."""
        return self._session.logits(as_batch(pixels))

    def predict(self, image: ImageLike) -> Prediction:
        """One image: a path, bytes, a PIL image, or a pixel array (28x28 dark-background passes as is)."""
        frame = dataset_frame(image)
        return self._answer(frame if frame is not None else _preprocess(image))

    def predict_preprocessed(self, pixels: np.ndarray) -> Prediction:
        """One frame that `preprocess` already produced (uint8, 28x28 in any batch-of-one shape), as is.

        For a caller that preprocesses elsewhere (another thread, a cache): unlike `predict`, the frame is
        not looked at again, so a garment filling the frame to its corners is not taken for a photo.
        """
        if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.size != SIZE * SIZE:
            got = f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
            raise InvalidImageError(f"expected a preprocessed uint8 28x28 frame, got {got}")
        return self._answer(pixels)

    def predict_batch(self, images: Sequence[ImageLike] | np.ndarray | Iterable[ImageLike]) -> list[Prediction]:
        """Many images in one backend call; a uint8 array (N, 28, 28[, 1]) skips preprocessing."""
        if isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim in (3, 4) \
                and images.shape[1:3] == (SIZE, SIZE):
            batch = as_batch(images)
        else:
            batch = as_batch(np.stack([_preprocess(image) for image in images]))
        softmax, labels = self._session.softmax, self.labels
        return [eager(softmax(row), labels) for row in self._session.outputs(batch)]


def _preprocess(image: ImageLike) -> np.ndarray:
    """The photo pipeline, imported on the first input that is not a dataset-style frame (frames.py):
    a process that only sees frames never loads Pillow."""
    from fashion_edge.runtime.preprocess import preprocess

    return preprocess(image)
