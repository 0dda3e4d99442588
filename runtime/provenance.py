"""Where a bundle's figures come from: the images it was calibrated and gated on, and how Keras' own
image loader and the bundle's preprocessing compare on them (manifest.json's `data` and `loader_check`).

Both are optional in the manifest: bundles exported before they existed read as None.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from fashion_edge.runtime.fields import Obj


@dataclass(frozen=True)
class DataRecord:
    """The images export measured on, and how they were split between calibration and the gate."""

    kind: str                       # "fashion-mnist", "image-folder" or "images" (frames handed over in code)
    name: str                       # the dataset, or the folder as given
    calibration_images: int         # calibration pool plus the validation images the recipe search judges on
    gate_images: int                # held out: the parity gate and the reported accuracy
    split: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))   # how an image folder was split
    skipped_images: int = 0         # unreadable images left out (--skip-bad-images)
    normalisation: Mapping[str, Any] | None = None   # --mean/--std folded into the exported graph

    @classmethod
    def read(cls, o: Obj) -> "DataRecord":
        split = o.obj("split", optional=True)
        norm = o.obj("normalisation", optional=True)
        return cls(o.str("kind"), o.str("name"), o.int("calibration_images", minimum=0),
                   o.int("gate_images", minimum=1), MappingProxyType(dict(split.raw) if split else {}),
                   o.int("skipped_images", optional=True, minimum=0) or 0,
                   MappingProxyType(dict(norm.raw)) if norm else None)

    def to_json(self) -> dict:
        raw = {"kind": self.kind, "name": self.name, "calibration_images": self.calibration_images,
               "gate_images": self.gate_images, "split": dict(self.split), "skipped_images": self.skipped_images}
        if self.normalisation:
            raw["normalisation"] = dict(self.normalisation)
        return raw


@dataclass(frozen=True)
class LoaderCheck:
    """Keras' accuracy on the held-out images read two ways: by the loader a model is usually trained with
    (keras.utils.image_dataset_from_directory) and by the bundle's recipe, which is what a device feeds.

    A gap between them is a training/deployment preprocessing mismatch, measured rather than guessed.
    """

    images: int
    loader_accuracy: float          # Keras on the loader's pixels
    recipe_accuracy: float          # Keras on the bundle's device frames
    agreement: float                # top-1 agreement between the two readings
    loader: str                     # the loader's settings, e.g. "image_dataset_from_directory(bilinear, crop)"

    @property
    def gap(self) -> float:
        return self.recipe_accuracy - self.loader_accuracy

    @classmethod
    def read(cls, o: Obj) -> "LoaderCheck":
        return cls(o.int("images", minimum=1), o.float("loader_accuracy"), o.float("recipe_accuracy"),
                   o.float("agreement"), o.str("loader"))

    def to_json(self) -> dict:
        return {"images": self.images, "loader_accuracy": self.loader_accuracy,
                "recipe_accuracy": self.recipe_accuracy, "gap": self.gap, "agreement": self.agreement,
                "loader": self.loader}
