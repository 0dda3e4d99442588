"""golden.json as types: inputs and the outputs every format must reproduce, for apps' own tests."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.fields import Obj
from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.preprocess import SIZE

FILE = "golden.json"
SIDE = SIZE


@dataclass(frozen=True, eq=False)
class GoldenOutput:
    logits: np.ndarray          # (N, classes) float32, dequantized
    top1: tuple[int, ...]
    test_top1: str              # every test image's top-1, one digit each

    @classmethod
    def read(cls, name: str, o: Obj) -> "GoldenOutput":
        if name not in FORMATS:
            raise BundleError(f"{o.file}: unknown format {name!r} in outputs")
        logits = _matrix(o, "logits")
        top1 = o.ints("top1")
        test_top1 = o.str("test_top1")
        if len(top1) != len(logits) or not test_top1.isdigit():
            raise o.fail("top1", "must give one class per golden image (and test_top1 one digit per test image)")
        return cls(logits, top1, test_top1)

    def test_top1_array(self) -> np.ndarray:
        return np.frombuffer(self.test_top1.encode(), np.uint8) - ord("0")

    def to_json(self) -> dict:
        return {"logits": np.round(self.logits, 6).tolist(), "top1": list(self.top1), "test_top1": self.test_top1}


@dataclass(frozen=True, eq=False)
class Golden:
    preprocessing: str
    images: np.ndarray           # (N, 28, 28) uint8, already preprocessed
    labels: tuple[int, ...]
    keras_logits: np.ndarray
    outputs: Mapping[str, GoldenOutput]

    @classmethod
    def from_json(cls, raw: Any, file: str = FILE) -> "Golden":
        o = Obj(raw, "", file)
        images = o.get("images", _is_image_list, f"a list of {SIDE}x{SIDE} arrays of 0..255")
        pixels = np.asarray(images, dtype=np.uint8).reshape(-1, SIDE, SIDE)
        outputs = o.mapping("outputs", GoldenOutput.read)
        for name, out in outputs.items():
            if len(out.logits) != len(pixels):
                raise BundleError(f"{file}: outputs.{name}.logits has {len(out.logits)} rows for {len(pixels)} images")
        return cls(o.str("preprocessing"), pixels, o.ints("labels"), _matrix(o, "keras_logits"), outputs)

    def to_json(self) -> dict:
        return {"preprocessing": self.preprocessing, "images": self.images.tolist(), "labels": list(self.labels),
                "keras_logits": np.round(self.keras_logits, 6).tolist(),
                "outputs": {k: v.to_json() for k, v in self.outputs.items()}}


def _is_image_list(value: Any) -> bool:
    return (isinstance(value, list) and len(value) > 0 and all(
        isinstance(img, list) and len(img) == SIDE and all(
            isinstance(row, list) and len(row) == SIDE and all(
                isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in row) for row in img)
        for img in value))


def _matrix(o: Obj, key: str) -> np.ndarray:
    rows = o.get(key, lambda v: isinstance(v, list) and all(
        isinstance(r, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r) for r in v),
        "a list of lists of numbers")
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except ValueError:
        raise o.fail(key, "must have rows of equal length") from None
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise o.fail(key, "must be a finite matrix")
    return matrix
