"""The bundle's input and output contract: what a consumer feeds the model and what it gets back.

Every consumer (runtime, CLI, service, doctor, bench, pack, Node, the web app) reads these instead of
assuming a shape: the device tensor is always uint8 pixels, NHWC, batch of one, `height` x `width` x
`channels`; the preprocessing recipe (recipes.py) turns an image into those pixels; the output is
`classes` scores, either logits (the runtime applies a softmax) or probabilities (it does not).
numpy-free and Pillow-free: reading a manifest costs neither.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Mapping

from fashion_edge.runtime.fields import Obj

MAX_SIDE = 4096                      # pixels per side of a device tensor; larger is not a device model
DEVICE_DTYPE = "uint8"
LAYOUT = "NHWC"
PIXEL_RANGE = (0, 255)


class Colour(str, Enum):
    GRAYSCALE = "grayscale"
    RGB = "rgb"

    @property
    def channels(self) -> int:
        return 1 if self is Colour.GRAYSCALE else 3


class OutputKind(str, Enum):
    LOGITS = "logits"                  # the runtime applies a softmax
    PROBABILITIES = "probabilities"    # the file ends in a softmax: taken as they are (renormalised)


@dataclass(frozen=True)
class Preprocessing:
    """A recipe of recipes.py by id, with its parameters (every one present: defaults filled in on read)."""

    id: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict:
        return {"id": self.id, "parameters": {k: list(v) if isinstance(v, tuple) else v
                                              for k, v in self.parameters.items()}}


@dataclass(frozen=True)
class InputContract:
    height: int
    width: int
    channels: int
    colour: Colour
    preprocessing: Preprocessing

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The device tensor: batch of one, NHWC."""
        return (1, self.height, self.width, self.channels)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """One preprocessed image as the recipes return it: (H, W) for grey, (H, W, 3) for colour."""
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, self.channels)

    @property
    def values(self) -> int:
        return self.height * self.width * self.channels

    def describe(self) -> str:
        return f"{self.height}x{self.width}x{self.channels} {self.colour.value}"

    @classmethod
    def read(cls, o: Obj) -> "InputContract":
        from fashion_edge.runtime.recipes import check_contract, read_preprocessing

        height, width = o.int("height", minimum=1), o.int("width", minimum=1)
        for key, side in (("height", height), ("width", width)):
            if side > MAX_SIDE:
                raise o.fail(key, f"must be at most {MAX_SIDE}, not {side}")
        channels = o.int("channels")
        if channels not in (1, 3):
            raise o.fail("channels", f"must be 1 or 3, not {channels}")
        colour = o.enum("colour", Colour)
        if colour.channels != channels:
            raise o.fail("colour", f"is {colour.value}, which has {colour.channels} channel(s), not {channels}")
        tensor = o.obj("tensor")
        for key, expected in (("dtype", DEVICE_DTYPE), ("layout", LAYOUT)):
            if tensor.str(key) != expected:
                raise tensor.fail(key, f"must be {expected!r}, not {tensor.str(key)!r}")
        if tensor.ints("shape") != (1, height, width, channels):
            raise tensor.fail("shape", f"must be [1, {height}, {width}, {channels}] (batch of one, NHWC), "
                                       f"not {list(tensor.ints('shape'))}")
        if tensor.ints("range") != PIXEL_RANGE:
            raise tensor.fail("range", f"must be {list(PIXEL_RANGE)}, not {list(tensor.ints('range'))}")
        contract = cls(height, width, channels, colour, read_preprocessing(o.obj("preprocessing")))
        check_contract(contract, o)
        return contract

    def to_json(self) -> dict:
        return {"height": self.height, "width": self.width, "channels": self.channels, "colour": self.colour.value,
                "tensor": {"dtype": DEVICE_DTYPE, "layout": LAYOUT, "shape": list(self.shape),
                           "range": list(PIXEL_RANGE)},
                "preprocessing": self.preprocessing.to_json()}


@dataclass(frozen=True)
class OutputContract:
    classes: int
    kind: OutputKind

    @property
    def is_logits(self) -> bool:
        """True: the runtime applies a softmax; False: the file's outputs are probabilities already."""
        return self.kind is OutputKind.LOGITS

    @classmethod
    def read(cls, o: Obj) -> "OutputContract":
        return cls(o.int("classes", minimum=2), o.enum("kind", OutputKind))

    def to_json(self) -> dict:
        return {"classes": self.classes, "kind": self.kind.value}

