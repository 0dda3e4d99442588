"""A Keras-style image folder, DIR/<class>/*.jpg (or train/, val/, test/ of those): read and split deterministically.

`train --data DIR` and `export --data DIR` read a user's photos through this module. The classes are
the sorted folder names, as keras.utils.image_dataset_from_directory orders them. A folder without
train/ and test/ subfolders is split per class with a seed, the same way on any machine (paths sorted
as strings, never in the file system's listing order). Every image is decoded by the runtime's own
preprocessing (runtime/recipes.Preprocessor), so training, calibration and the device see the same pixels.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from fashion_edge.runtime.errors import DataError, InvalidImageError, UsageError
from fashion_edge.runtime.recipes import Preprocessor
from fashion_edge.train.datasets import ImageSet

if TYPE_CHECKING:
    from fashion_edge.runtime.contract import InputContract

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
KERAS_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")   # what image_dataset_from_directory lists
PARTS = ("train", "val", "test")
REQUIRED_PARTS = ("train", "test")
IDX_PATTERNS = ("*-ubyte.gz", "*-ubyte")                      # Fashion-MNIST's files
SHOWN_BAD = 10                                                # unreadable images named in the error


class SplitSource(str, Enum):
    SUBFOLDERS = "subfolders"      # the folder's own train/, val/ and test/
    SEEDED = "seeded"              # drawn per class with a seed


@dataclass(frozen=True)
class FolderSplit:
    """How a folder's images were split into train, val and test: what the manifest and metrics.json record."""

    source: SplitSource
    seed: int | None                 # None for subfolders
    fractions: Mapping[str, float]   # seeded: {"val": .., "test": ..}; subfolders: {}
    counts: Mapping[str, int]        # image files per part, readable or not

    def __post_init__(self) -> None:
        object.__setattr__(self, "fractions", MappingProxyType(dict(self.fractions)))
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))

    def to_json(self) -> dict:
        return {"source": self.source.value, "seed": self.seed,
                "fractions": dict(self.fractions), "counts": dict(self.counts)}

    @classmethod
    def from_json(cls, raw: dict) -> "FolderSplit":
        try:
            source, seed = SplitSource(raw["source"]), raw["seed"]
            fractions = {str(k): float(v) for k, v in raw["fractions"].items()}
            counts = {str(k): int(v) for k, v in raw["counts"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"image folder split record is malformed ({exc!r}): {raw!r}") from None
        if not (seed is None or (isinstance(seed, int) and not isinstance(seed, bool))):
            raise DataError(f"image folder split record: seed must be an integer or null, not {seed!r}")
        return cls(source, seed, fractions, counts)


@dataclass(frozen=True, eq=False)
class Part:
    """One part's image files, class by class, sorted within a class, and their class ids."""

    paths: tuple[Path, ...]
    labels: np.ndarray               # int32

    def __len__(self) -> int:
        return len(self.paths)


@dataclass(frozen=True, eq=False)
class ImageFolder:
    root: Path
    classes: tuple[str, ...]         # sorted folder names: Keras' label order
    parts: Mapping[str, Part]        # "train", "val", "test" (val empty for subfolders without val/)
    split: FolderSplit

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", MappingProxyType(dict(self.parts)))


@dataclass(frozen=True, eq=False)
class LoadedFrames:
    frames: np.ndarray                      # uint8 (N, H, W, C); grey frames keep a trailing channel axis
    kept: np.ndarray                        # indices into the given paths of the images that decoded
    bad: tuple[tuple[Path, str], ...]       # (path, reason) of every image that could not be read


@dataclass(frozen=True)
class FolderLoad:
    """What reading a folder's images did: its split, and how many unreadable images were skipped."""

    split: FolderSplit
    skipped: int = 0
    gate_kept: tuple[int, ...] = field(default=(), compare=False)   # gate part's images that decoded (not recorded)

    def to_json(self) -> dict:
        return {"split": self.split.to_json(), "skipped": self.skipped}

    @classmethod
    def from_json(cls, raw: dict) -> "FolderLoad":
        try:
            return cls(FolderSplit.from_json(raw["split"]), int(raw.get("skipped", 0)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"image folder record is malformed ({exc!r}): {raw!r}") from None


def is_image_folder(path: Path) -> bool:
    """True for a folder of class (or split) folders, so `--data` reads it here; False for Fashion-MNIST's IDX files.

    Loose images without class folders count as an image folder, so scan_folder says what is wrong.
    """
    path = Path(path)
    try:
        if not path.is_dir() or any(next(path.glob(p), None) for p in IDX_PATTERNS):
            return False
        return any(not e.name.startswith(".") and (e.is_dir() or e.suffix.lower() in IMAGE_EXTENSIONS)
                   for e in path.iterdir())
    except OSError:
        return False


def scan_folder(root: Path, *, seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2) -> ImageFolder:
    """The folder's classes and its train/val/test files: its own subfolders if it has them, else a seeded split."""
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UsageError(f"validation fraction {val_fraction} and test fraction {test_fraction}: the test fraction "
                         "must be above 0, neither below 0, and together below 1")
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected one folder of images per class)")
    folders = _subfolders(root)
    if any(f.name in PARTS for f in folders):
        return _from_subfolders(root, folders)
    classes, files = _classes(root, folders)
    return _seeded(root, classes, files, seed, val_fraction, test_fraction)


def _subfolders(folder: Path) -> list[Path]:
    """Non-hidden folders, as Keras takes class folders (symlinked folders included)."""
    try:
        return sorted((e for e in folder.iterdir() if e.is_dir() and not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"{folder}: cannot read ({exc.strerror or exc})") from None


def _images_under(folder: Path) -> list[Path]:
    """Image files at any depth under a class folder (not through symlinked folders, as Keras), hidden ones left out."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(top, f) for f in files if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(found, key=str)


def _classes(folder: Path, subfolders: list[Path]) -> tuple[tuple[str, ...], list[list[Path]]]:
    if not subfolders:
        raise DataError(f"{folder}: no class folders; expected {folder}{os.sep}<class>{os.sep}<images> "
                        f"({' '.join(IMAGE_EXTENSIONS)}), or train/ and test/ folders laid out that way")
    classes = tuple(sorted(f.name for f in subfolders))
    if len(classes) < 2:
        raise DataError(f"{folder}: one class folder ({classes[0]!r}); a classifier needs 2 or more")
    files = []
    for name in classes:
        found = _images_under(folder / name)
        if not found:
            raise DataError(f"{folder / name}: class folder {name!r} holds no images ({' '.join(IMAGE_EXTENSIONS)})")
        files.append(found)
    return classes, files


def _from_subfolders(root: Path, folders: list[Path]) -> ImageFolder:
    splits, others = [f.name for f in folders if f.name in PARTS], [f.name for f in folders if f.name not in PARTS]
    if others:
        raise DataError(f"{root}: holds split folders ({', '.join(s + '/' for s in splits)}) and class folders "
                        f"({', '.join(others)}); use one layout, DIR/<class>/ or DIR/train|val|test/<class>/")
    missing = [p for p in REQUIRED_PARTS if p not in splits]
    if missing:
        raise DataError(f"{root}: has {', '.join(s + '/' for s in splits)} but no {missing[0]}/ "
                        "(split folders need train/ and test/; val/ is optional)")
    scanned = {p: _classes(root / p, _subfolders(root / p)) for p in PARTS if p in splits}
    classes = scanned["train"][0]
    for name, (got, _) in scanned.items():
        if got != classes:
            extra, lacking = sorted(set(got) - set(classes)), sorted(set(classes) - set(got))
            raise DataError(f"{root / name}: its classes differ from train/'s: "
                            + "; ".join(f"{what}: {', '.join(names)}" for what, names in
                                        ((f"only in {name}/", extra), ("only in train/", lacking)) if names))
    parts = {p: _part(scanned[p][1] if p in scanned else [[] for _ in classes]) for p in PARTS}
    split = FolderSplit(SplitSource.SUBFOLDERS, None, {}, {p: len(parts[p]) for p in PARTS})
    return ImageFolder(root, classes, parts, split)


def rescan(root: Path, split: Mapping[str, Any], seed: int | None = None) -> ImageFolder:
    """`root` split as a recorded `FolderSplit.to_json()` says (its seed unless `seed` is given, its fractions):
    how export and verify find the same held-out images training or export used."""
    fractions = split.get("fractions") or {}
    return scan_folder(root, seed=seed if seed is not None else split.get("seed") or 0,
                       **{f"{k}_fraction": float(v) for k, v in fractions.items() if k in ("val", "test")})


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(test, val) images of a class of n: rounded shares, at least one test image when n >= 2, one left to train."""
    n_test = min(max(round(n * test_fraction), 1 if n >= 2 and test_fraction > 0 else 0), max(n - 1, 0))
    return n_test, max(0, min(round(n * val_fraction), n - n_test - 1))


def _seeded(root: Path, classes: tuple[str, ...], files: list[list[Path]], seed: int,
            val_fraction: float, test_fraction: float) -> ImageFolder:
    """Stratified: each class's files (sorted as strings) shuffled by one generator, taken for test, val, train."""
    rng = np.random.default_rng(seed)
    chosen: dict[str, list[list[Path]]] = {p: [] for p in PARTS}
    for paths in files:
        order = rng.permutation(len(paths))
        n_test, n_val = split_sizes(len(paths), val_fraction, test_fraction)
        for part, picked in (("test", order[:n_test]), ("val", order[n_test:n_test + n_val]),
                             ("train", order[n_test + n_val:])):
            chosen[part].append([paths[i] for i in sorted(picked)])
    parts = {p: _part(chosen[p]) for p in PARTS}
    split = FolderSplit(SplitSource.SEEDED, seed, {"val": val_fraction, "test": test_fraction},
                        {p: len(parts[p]) for p in PARTS})
    return ImageFolder(root, classes, parts, split)


def _part(per_class: list[list[Path]]) -> Part:
    labels = np.repeat(np.arange(len(per_class), dtype=np.int32), [len(c) for c in per_class])
    return Part(tuple(p for c in per_class for p in c), labels)


def load_frames(paths: Sequence[Path], contract: "InputContract", *, skip_bad: bool = False,
                progress: bool = False) -> LoadedFrames:
    """Each image through the contract's recipe; every unreadable one is listed (and skipped with skip_bad)."""
    preprocessor = Preprocessor(contract)
    frames = np.empty((len(paths), contract.height, contract.width, contract.channels), np.uint8)
    kept: list[int] = []
    bad: list[tuple[Path, str]] = []
    for i, path in enumerate(_progress(paths, progress)):
        try:
            frame = preprocessor.preprocess(path)
        except (InvalidImageError, OSError, ValueError) as exc:   # Pillow's own errors, should one slip through
            bad.append((Path(path), _reason(exc, path)))
            continue
        frames[len(kept)] = frame.reshape(frames.shape[1:])
        kept.append(i)
    if bad and not skip_bad:
        raise bad_images_error(bad)
    return LoadedFrames(frames[:len(kept)], np.asarray(kept, dtype=np.intp), tuple(bad))


def _progress(paths: Sequence[Path], on: bool) -> Iterable[Path]:
    if on:
        try:
            from tqdm import tqdm
        except ImportError:
            return paths
        return tqdm(paths, file=sys.stderr, unit="image", desc="reading images")
    return paths


def _reason(exc: Exception, path: Path) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.removeprefix(f"{path}: ")


def bad_images_error(bad: Sequence[tuple[Path, str]]) -> DataError:
    """One line: the first SHOWN_BAD unreadable images with reasons, how many more, and the flag that skips them."""
    shown = "; ".join(f"{path} ({why})" for path, why in bad[:SHOWN_BAD])
    more = f"; and {len(bad) - SHOWN_BAD} more" if len(bad) > SHOWN_BAD else ""
    return DataError(f"{len(bad)} image{'s' if len(bad) != 1 else ''} cannot be read: {shown}{more}. "
                     "--skip-bad-images skips them")


def image_set(folder: ImageFolder, contract: "InputContract", *, skip_bad: bool = False, progress: bool = False,
              calibration_parts: Sequence[str] = ("train", "val"),
              gate_part: str = "test") -> tuple[ImageSet, FolderLoad]:
    """The folder as device frames: the calibration parts together as `train`, the gate part as `test`."""
    names = [*dict.fromkeys(calibration_parts)]
    if gate_part in names or any(p not in folder.parts for p in (*names, gate_part)):
        raise UsageError(f"calibration parts {names} and gate part {gate_part!r} must be distinct parts "
                         f"of {list(PARTS)}")
    names.append(gate_part)
    paths = [p for name in names for p in folder.parts[name].paths]
    labels = np.concatenate([folder.parts[name].labels for name in names])
    of_part = np.repeat(np.arange(len(names)), [len(folder.parts[name]) for name in names])
    loaded = load_frames(paths, contract, skip_bad=skip_bad, progress=progress)
    gate = of_part[loaded.kept] == len(names) - 1
    x, y = loaded.frames, labels[loaded.kept]
    if not gate.any() or gate.all():
        counts = ", ".join(f"{name} {int(np.sum(of_part[loaded.kept] == i))}" for i, name in enumerate(names))
        raise DataError(f"{folder.root}: too few readable images to calibrate and gate ({counts}); "
                        f"{'+'.join(names[:-1])} and {gate_part} each need at least one")
    images = ImageSet(str(folder.root), folder.classes, x[~gate], y[~gate], x[gate], y[gate])
    gate_kept = loaded.kept[gate] - (len(paths) - len(folder.parts[gate_part]))
    return images, FolderLoad(folder.split, len(loaded.bad), tuple(int(i) for i in gate_kept))


def keras_order(labels: np.ndarray) -> np.ndarray:
    """The permutation in which Keras reads a keras_view: class by class, the given order within a class."""
    return np.argsort(np.asarray(labels), kind="stable")


@contextlib.contextmanager
def keras_view(paths: Sequence[Path], labels: np.ndarray, classes: Sequence[str]) -> Iterator[Path]:
    """A temporary folder of symlinks, VIEW/<class>/<NNNNNN><ext>, to exactly these images with these labels.

    keras.utils.image_dataset_from_directory(view, class_names=list(classes), shuffle=False) then streams
    them from disk in keras_order(labels): class by class (Keras' own order), and within a class in the
    given order (the links are numbered by position). A Part is already class by class, so its order is
    kept as is. Keras lists only KERAS_EXTENSIONS, while TensorFlow's decode_image reads a file by its
    content, so a link to another image (WebP) is named .png.
    """
    labels = np.asarray(labels)
    if len(labels) != len(paths) or (len(labels) and not 0 <= labels.min() <= labels.max() < len(classes)):
        raise ValueError(f"{len(paths)} paths need as many labels in 0..{len(classes) - 1}")
    width = max(6, len(str(len(paths))))
    with tempfile.TemporaryDirectory(prefix="fashion-edge-view-") as tmp:
        view = Path(tmp)
        for name in classes:
            (view / name).mkdir()
        for i, (path, label) in enumerate(zip(paths, labels)):
            suffix = Path(path).suffix.lower()
            link = view / classes[int(label)] / f"{i:0{width}d}{suffix if suffix in KERAS_EXTENSIONS else '.png'}"
            link.symlink_to(Path(path).resolve())
        yield view
