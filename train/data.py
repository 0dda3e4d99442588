"""Real Fashion-MNIST, found without the internet wherever it can be.

Search order: an explicit folder, then $FASHION_MNIST_DIR, then Debian's `dataset-fashion-mnist`
package, then Keras' own cache and, last, Keras' own download. Files are checked by the sha256 of
their *decompressed* IDX bytes: Debian recompressed the .gz files, so checksums of the .gz would
reject the official data in a different wrapper while the data inside is identical.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fashion_edge.runtime.errors import DataError

if TYPE_CHECKING:
    from fashion_edge.runtime.bundle import Bundle
    from fashion_edge.train.datasets import ImageSet

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "fashion-mnist"
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# name -> (sha256 of the decompressed IDX file, expected shape)
FILES: dict[str, tuple[str, tuple[int, ...]]] = {
    "train-images-idx3-ubyte.gz": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", (60000,)),
    "t10k-images-idx3-ubyte.gz": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", (10000,)),
}

HOW_TO_GET = (
    "Fashion-MNIST not found. Get it one of three ways: "
    "(1) pass --data DIR or set FASHION_MNIST_DIR to a folder holding the four *-ubyte.gz files; "
    "(2) apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist); "
    "(3) let Keras download it (needs internet and the [train] extra)."
)


@dataclass(frozen=True)
class FashionMNIST:
    """The four arrays plus where they came from; images are uint8 (N, 28, 28), labels uint8 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str]

    def image_set(self) -> "ImageSet":
        """The dataset as device frames (N, 28, 28, 1) with its class names: what export reads."""
        from fashion_edge.runtime.labels import LABELS
        from fashion_edge.train.datasets import ImageSet

        return ImageSet(f"Fashion-MNIST ({self.source})", LABELS, self.x_train[..., None], self.y_train,
                        self.x_test[..., None], self.y_test)

    def split_validation(self, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, ...]:
        """(x_fit, y_fit, x_val, y_val) drawn from the training set only.

        The test set is kept for the final figure, never for choosing epochs or models.
        """
        from fashion_edge.train.datasets import validation_split

        fit, val = validation_split(len(self.x_train), fraction, seed)
        return self.x_train[fit], self.y_train[fit], self.x_train[val], self.y_train[val]


def test_set_for(bundle: "Bundle", folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The held-out frames (N, H, W, C) and labels `bundle` was gated on, when they are at hand: Fashion-MNIST's
    test set (its recipe and ten classes), or the image folder's gate part, re-read through the bundle's
    recipe (when the folder still holds the same number of images). None otherwise; a DataError when it is
    Fashion-MNIST's but the dataset is not at hand."""
    from fashion_edge.runtime.labels import LABELS
    from fashion_edge.runtime.recipes import FASHION_MNIST

    record = bundle.manifest.data
    if record is not None and record.kind == "image-folder":
        return _folder_test_set(bundle, Path(folder) if folder else Path(record.name))
    if bundle.manifest.input.preprocessing.id != FASHION_MNIST or bundle.labels != LABELS:
        return None
    data = load_fashion_mnist(folder, allow_download=False)
    return data.x_test[..., None], data.y_test


def _folder_test_set(bundle: "Bundle", root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    from fashion_edge.train.folder import is_image_folder, load_frames, rescan

    record = bundle.manifest.data
    if not is_image_folder(root):
        return None
    gate = rescan(root, record.split).parts["test"]
    loaded = load_frames(gate.paths, bundle.manifest.input, skip_bad=True)
    if len(loaded.kept) != record.gate_images:
        return None     # the folder changed since export: its figures are not comparable
    return loaded.frames, np.asarray(gate.labels)[loaded.kept]


def read_idx(path: Path, expected_sha256: str, expected_shape: tuple[int, ...]) -> np.ndarray:
    """Decompress, verify and parse one IDX file; any defect becomes a DataError naming the file."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: not a readable .gz file ({exc}); reinstall or re-download it") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise DataError(
            f"{path}: decompressed sha256 {digest[:16]}… does not match Fashion-MNIST "
            f"({expected_sha256[:16]}…); the file is corrupt or not Fashion-MNIST"
        )
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if raw[2] != 0x08 or dims != expected_shape:
        raise DataError(f"{path}: IDX header says dtype {raw[2]:#x} shape {dims}, expected uint8 {expected_shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _has_all(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def _keras_download() -> Path:
    """Fetch the four files with Keras' own downloader into Keras' own cache."""
    from fashion_edge.runtime.extras import require

    keras = require("keras", "train", "downloading Fashion-MNIST")
    for name in FILES:
        keras.utils.get_file(name, origin=KERAS_ORIGIN + name, cache_subdir="datasets/fashion-mnist")
    return KERAS_CACHE_DIR


def find_data_dir(folder: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """The first folder holding all four files; a named folder that lacks them is an error, not a skip."""
    explicit = folder or os.environ.get("FASHION_MNIST_DIR")
    if explicit:
        path = Path(explicit)
        if not _has_all(path):
            missing = [n for n in FILES if not (path / n).is_file()]
            raise DataError(f"{path}: missing {', '.join(missing)}. {HOW_TO_GET}")
        return path
    for candidate in (DEBIAN_DIR, KERAS_CACHE_DIR):
        if _has_all(candidate):
            return candidate
    if allow_download:
        try:
            return _keras_download()
        except DataError:
            raise
        except Exception as exc:  # network errors come in many types; the remedy is the same
            raise DataError(f"{HOW_TO_GET} (Keras download failed: {exc.__class__.__name__})") from exc
    raise DataError(HOW_TO_GET)


def load_fashion_mnist(folder: str | os.PathLike | None = None, allow_download: bool = True) -> FashionMNIST:
    """Load and verify all four files (about a second: the checksum covers every byte)."""
    path = find_data_dir(folder, allow_download)
    arrays, digests = {}, {}
    for name, (sha, shape) in FILES.items():
        arrays[name] = read_idx(path / name, sha, shape)
        digests[name.removesuffix(".gz")] = sha
    for name in ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        if arrays[name].max() > 9:
            raise DataError(f"{path / name}: labels outside 0..9")
    return FashionMNIST(
        x_train=arrays["train-images-idx3-ubyte.gz"],
        y_train=arrays["train-labels-idx1-ubyte.gz"],
        x_test=arrays["t10k-images-idx3-ubyte.gz"],
        y_test=arrays["t10k-labels-idx1-ubyte.gz"],
        source=str(path),
        sha256=digests,
    )
