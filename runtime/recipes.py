"""Preprocessing recipes, by id: how an image becomes the device tensor's pixels.

Each entry says which parameters the recipe takes (closed sets, validated where the manifest is read,
defaults filled in), which input contracts it can fill, how an input that already is a device frame
is recognised (numpy only, so a process fed frames never imports Pillow), and where its
implementation lives (imported on first use). Its twins: `RECIPES` in apps/web/preprocess.js (the page
and Node) and `BUILDERS` in export/vectors.py (the test photos every bundle carries).
Adding a recipe is one entry in each.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from fashion_edge.runtime import frames
from fashion_edge.runtime.contract import Colour, InputContract, Preprocessing
from fashion_edge.runtime.errors import BundleError, UsageError
from fashion_edge.runtime.fields import Obj

if TYPE_CHECKING:
    import numpy as np

FASHION_MNIST = "fashion-mnist-v1"
PHOTO = "photo-v1"


class Resize(str, Enum):
    """How a photo meets the tensor's aspect ratio, as Keras' image_dataset_from_directory offers it."""

    STRETCH = "stretch"      # resize to (H, W) whatever the aspect (Keras' default)
    CROP = "crop"            # crop_to_aspect_ratio: the largest centred window of the target aspect, then resize
    PAD = "pad"              # pad_to_aspect_ratio: resize to fit inside the target, keeping the aspect, then pad with black


class Interpolation(str, Enum):
    """Pillow's resampling filters (runtime/photo.py); Keras' default is bilinear."""

    BILINEAR = "bilinear"
    NEAREST = "nearest"
    BICUBIC = "bicubic"
    LANCZOS = "lanczos"
    BOX = "box"              # the mean of the pixels each output pixel covers (TensorFlow's "area")


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    read: Callable[[Obj, str], Any]       # the validated value, or a BundleError naming the field
    summary: str


@dataclass(frozen=True)
class PreprocessingRecipe:
    id: str
    summary: str
    parameters: tuple[Parameter, ...]
    implementation: str                                   # "module:function" (source, contract) -> frame
    frames: Callable[[InputContract], Callable[[Any], "np.ndarray | None"]]   # contract -> the frame test (numpy)
    fits: Callable[[InputContract], str | None]           # why the recipe cannot fill a contract, or None


def _choice(kind: type[Enum]) -> Callable[[Obj, str], Enum]:
    return lambda o, key: o.enum(key, kind)


def _rgb(o: Obj, key: str) -> tuple[int, int, int]:
    value = o.ints(key)
    if len(value) != 3 or not all(0 <= v <= 255 for v in value):
        raise o.fail(key, f"must be three integers 0..255 (red, green, blue), not {list(value)}")
    return tuple(value)


def _fashion_mnist_fits(contract: InputContract) -> str | None:
    if (contract.height, contract.width, contract.channels) != (frames.SIZE, frames.SIZE, 1):
        return f"takes {frames.SIZE}x{frames.SIZE}x1 grayscale input, not {contract.describe()}"
    return None


RECIPES: Mapping[str, PreprocessingRecipe] = MappingProxyType({r.id: r for r in (
    PreprocessingRecipe(
        FASHION_MNIST,
        "the dataset authors' conversion of product photos: trim, resize the longest edge to 28, sharpen, "
        "centre, negate, grey (runtime/preprocess.py)",
        (), "fashion_edge.runtime.preprocess:for_contract", frames.dataset_frames, _fashion_mnist_fits),
    PreprocessingRecipe(
        PHOTO,
        "an ordinary photo: EXIF orientation, alpha onto a colour, RGB or grey, resize to (H, W) (runtime/photo.py)",
        (Parameter("resize", Resize.STRETCH, _choice(Resize), "stretch, crop or pad to the tensor's aspect ratio"),
         Parameter("interpolation", Interpolation.BILINEAR, _choice(Interpolation), "the resampling filter"),
         Parameter("background", (255, 255, 255), _rgb, "the colour transparent pixels are composited onto")),
        "fashion_edge.runtime.photo:preprocess_photo", frames.device_frames, lambda contract: None),
)})


def get_recipe(recipe_id: str) -> PreprocessingRecipe:
    if recipe_id not in RECIPES:
        raise UsageError(f"unknown preprocessing recipe {recipe_id!r}; known: {', '.join(RECIPES)}")
    return RECIPES[recipe_id]


def read_preprocessing(o: Obj) -> Preprocessing:
    """manifest.json's input.preprocessing: a known id and its parameters, validated, defaults filled in."""
    recipe_id = o.str("id")
    if recipe_id not in RECIPES:
        raise o.fail("id", f"is {recipe_id!r}, a recipe this runtime does not know; known: {', '.join(RECIPES)}")
    recipe = RECIPES[recipe_id]
    given = o.obj("parameters")
    known = {p.name for p in recipe.parameters}
    unknown = sorted(set(given.raw) - known)
    if unknown:
        raise given.fail(unknown[0], f"is not a parameter of {recipe_id} (it takes: {', '.join(sorted(known)) or 'none'})")
    return Preprocessing(recipe_id, MappingProxyType(
        {p.name: p.read(given, p.name) if p.name in given.raw else p.default for p in recipe.parameters}))


def preprocessing(recipe_id: str, **parameters: Any) -> Preprocessing:
    """A recipe reference from code (the exporter, tests): unknown ids and parameters are UsageErrors."""
    recipe = get_recipe(recipe_id)
    known = {p.name: p for p in recipe.parameters}
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise UsageError(f"{recipe_id} takes no parameter {unknown[0]!r} (it takes: {', '.join(known) or 'none'})")
    raw = {k: (v.value if isinstance(v, Enum) else list(v) if isinstance(v, tuple) else v) for k, v in parameters.items()}
    try:   # the manifest's own reader validates: one rule for both
        return read_preprocessing(Obj({"id": recipe_id, "parameters": raw}, "", f"preprocessing {recipe_id}"))
    except BundleError as exc:
        raise UsageError(str(exc)) from None


def unfit(contract: InputContract) -> str | None:
    """Why the contract's recipe cannot fill it (e.g. fashion-mnist-v1 for an RGB tensor), or None."""
    why = RECIPES[contract.preprocessing.id].fits(contract)
    return f"{contract.preprocessing.id} {why}" if why else None


def check_contract(contract: InputContract, o: Obj) -> None:
    why = unfit(contract)
    if why:
        raise o.fail("preprocessing", why)


def default_for(height: int, width: int, channels: int) -> Preprocessing:
    """The recipe a model of this input shape gets unless told otherwise: Fashion-MNIST's for 28x28x1."""
    if (height, width, channels) == (frames.SIZE, frames.SIZE, 1):
        return Preprocessing(FASHION_MNIST, MappingProxyType({}))
    return preprocessing(PHOTO)


def contract_for(height: int, width: int, channels: int, recipe: Preprocessing | None = None) -> InputContract:
    colour = Colour.GRAYSCALE if channels == 1 else Colour.RGB
    contract = InputContract(height, width, channels, colour, recipe or default_for(height, width, channels))
    why = unfit(contract)
    if why:
        raise UsageError(f"preprocessing {why}")
    return contract


class Preprocessor:
    """`contract`'s recipe as one callable: a device frame passes as is, anything else is preprocessed.

    The implementation (Pillow) is imported on the first input that needs it.
    """

    def __init__(self, contract: InputContract) -> None:
        self.contract = contract
        self.recipe = RECIPES[contract.preprocessing.id]
        self.frame: Callable[[Any], "np.ndarray | None"] = self.recipe.frames(contract)   # None: not a frame
        self._implementation: Callable[[Any, InputContract], "np.ndarray"] | None = None

    def preprocess(self, source: Any) -> "np.ndarray":
        """Always the recipe's own pipeline (a device frame included: what `preprocess` would make of it)."""
        if self._implementation is None:
            module, name = self.recipe.implementation.split(":")
            self._implementation = getattr(importlib.import_module(module), name)
        return self._implementation(source, self.contract)

    def __call__(self, source: Any) -> "np.ndarray":
        frame = self.frame(source)
        return frame if frame is not None else self.preprocess(source)
