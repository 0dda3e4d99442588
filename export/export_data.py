"""The images an export measures on, as device frames of the bundle's contract, and their record.

Three sources: frames handed over in code (an `ImageSet`), a Keras-style image folder (decoded by
the bundle's own recipe, so calibration and the gate see what a device sees), or Fashion-MNIST's
IDX files. An image folder is split once, deterministically: calibration and the calibration-recipe
search take one part, the parity gate the other, never the same images.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from fashion_edge.export.sources import Normalisation, Source, read_labels
from fashion_edge.runtime.contract import Colour, InputContract, Preprocessing
from fashion_edge.runtime.errors import UsageError
from fashion_edge.runtime.provenance import DataRecord
from fashion_edge.runtime.recipes import PHOTO, Interpolation, Resize, contract_for, preprocessing
from fashion_edge.train.artifacts import ArtifactError
from fashion_edge.train.datasets import ImageSet


@dataclass(frozen=True)
class DataOptions:
    """How the user's images become device frames (`export --data/--resize/--interpolation/--color/...`)."""

    data_dir: Path | None = None
    resize: Resize | None = None                 # default: what training recorded, else Keras' (stretch)
    interpolation: Interpolation | None = None   # default: what training recorded, else Keras' (bilinear)
    colour: Colour | None = None                 # default: from the model's channel count
    labels_file: Path | None = None
    skip_bad_images: bool = False
    split_seed: int | None = None                # default: what training recorded, else 0
    preprocessing: Preprocessing | None = None   # a recipe given in code (frames handed over as an ImageSet)


@dataclass(frozen=True, eq=False)
class ExportData:
    images: ImageSet
    contract: InputContract
    record: DataRecord
    gate_paths: tuple[Path, ...] = ()            # the held-out images' files, for Keras' own loader


def export_data(options: DataOptions, source: Source, shape: tuple[int, int, int], classes: int,
                dataset: ImageSet | None = None, normalisation: Normalisation | None = None) -> ExportData:
    """Frames of the model's (H, W, C) with its class count; a mismatch is an error naming both sides."""
    _check_colour(options.colour, shape[2])
    folder = options.data_dir or (Path(source.data["root"]) if source.data.get("root") else None)
    if dataset is not None:
        data = ExportData(dataset, contract_for(*shape, options.preprocessing),
                          DataRecord("images", dataset.name, len(dataset.train), len(dataset.test)))
    elif folder is not None and _is_image_folder(folder):
        data = _from_folder(folder, options, source.data, shape)
    else:
        data = _from_fashion_mnist(options, shape)
    data = _labelled(data, options.labels_file, classes)
    if normalisation is not None:
        data = replace(data, record=replace(data.record, normalisation=normalisation.for_channels(shape[2]).to_json()))
    if data.images.shape != shape:
        raise ArtifactError(f"the model takes {'x'.join(map(str, shape))} images but {data.images.name} holds "
                            f"{'x'.join(map(str, data.images.shape))} frames")
    return data


def _is_image_folder(path: Path) -> bool:
    from fashion_edge.train.folder import is_image_folder

    return is_image_folder(path)


def _check_colour(colour: Colour | None, channels: int) -> None:
    if colour is not None and colour.channels != channels:
        raise UsageError(f"--color {colour.value} needs a model with {colour.channels} input channel(s); "
                         f"this one takes {channels}")


def _from_folder(root: Path, options: DataOptions, trained: Mapping[str, Any], shape: tuple[int, int, int]) -> ExportData:
    from fashion_edge.train.folder import image_set, rescan

    folder = rescan(root, trained.get("split") or {}, options.split_seed)
    recipe = preprocessing(PHOTO, resize=options.resize or Resize(trained.get("resize", Resize.STRETCH.value)),
                           interpolation=options.interpolation or Interpolation(trained.get("interpolation",
                                                                                            Interpolation.BILINEAR.value)))
    contract = contract_for(*shape, recipe)
    images, load = image_set(folder, contract, skip_bad=options.skip_bad_images, progress=True)
    gate_paths = tuple(folder.parts["test"].paths[i] for i in load.gate_kept)
    record = DataRecord("image-folder", str(root), len(images.train), len(images.test), load.split.to_json(),
                        load.skipped)
    return ExportData(images, contract, record, gate_paths if len(gate_paths) == len(images.test) else ())


def _from_fashion_mnist(options: DataOptions, shape: tuple[int, int, int]) -> ExportData:
    from fashion_edge.train.data import load_fashion_mnist

    if shape != (28, 28, 1):
        raise UsageError(f"the model takes {'x'.join(map(str, shape))} images: pass --data DIR, a folder of its "
                         "images (DIR/<class>/*.jpg), to calibrate and gate it")
    data = load_fashion_mnist(options.data_dir)
    images = data.image_set()
    return ExportData(images, contract_for(*shape, options.preprocessing),
                      DataRecord("fashion-mnist", data.source, len(images.train), len(images.test)))


def _labelled(data: ExportData, labels_file: Path | None, classes: int) -> ExportData:
    names = data.images.classes
    if labels_file is not None:
        given = read_labels(labels_file, classes)
        if len(given) != len(names):
            raise UsageError(f"{labels_file}: {len(given)} labels, but the data has {len(names)} classes")
        names = given
    if len(names) != classes:
        raise ArtifactError(f"the model scores {classes} classes but {data.images.name} has {len(names)}")
    return replace(data, images=replace(data.images, classes=names))
