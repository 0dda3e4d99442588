"""Int8 calibration that earns its margin: a declared set of recipes, judged on held-out images.

A quantized model's agreement with Keras depends on how its ranges were calibrated, and the best
recipe differs between models and between converters. The exporter therefore builds the int8 file
once per recipe of a small, declared set and keeps the one that agrees best with Keras on the
*validation split of the training set* (the images training held out). Calibration images come
from the rest of the training set; the test set is never looked at here: it stays for the report.

One recipe family keeps the *stem* (the first convolution) in float32 and quantizes the rest. The
stem reads raw pixels through 9 weights per filter, too few for int8 rounding errors to average
out; measured on the demo edge model (test images, LiteRT): every layer int8 flipped 54 top-1
answers, keeping any one later layer float changed nothing, keeping the stem float removed 20 of
them, at no cost in latency (it is 2% of the MACs) or size. Keeping the first (and last) layer at
higher precision is the usual practice of low-bit quantization; here it is one candidate among
the others and the validation split decides. A model whose stem is its only compute layer (the
linear model) is not offered it: its "int8" file would compute nothing in int8.

When no declared recipe reaches the gate, the TFLite int8 converter measures which layers' rounding
flips answers and adds one more candidate keeping the worst few float32 (export/sensitivity.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from fashion_edge.runtime.manifest import CalibrationChoice, Recipe, RecipeScore
from fashion_edge.runtime.sensitivity_record import Sensitivity


Int8Recipe = Recipe   # the manifest's record of a recipe is the recipe


@dataclass(frozen=True)
class Choice:
    recipe: Int8Recipe
    model: bytes
    candidates: tuple[RecipeScore, ...]
    sensitivity: Sensitivity | None = None   # why every declared recipe missed the gate (export/sensitivity.py)

    @property
    def agreement(self) -> float:
        """The chosen recipe's top-1 agreement with Keras on the validation split."""
        return next(c.validation_agreement for c in self.candidates if c.recipe == self.recipe.name)

    def adding(self, more: "Choice", sensitivity: Sensitivity | None = None) -> "Choice":
        """This search's candidates, then `more`'s, judged by the same rule (a tie keeps the earlier)."""
        winner = more if more.agreement > self.agreement else self
        return Choice(winner.recipe, winner.model, self.candidates + more.candidates, sensitivity)

    def record(self, validation_images: int) -> CalibrationChoice:
        return CalibrationChoice(self.recipe, validation_images, self.candidates, sensitivity=self.sensitivity)


@dataclass(frozen=True)
class HeldOut:
    """What the search is allowed to see: a calibration pool and a validation split, both from training data."""

    pool: np.ndarray            # uint8 (N, H, W, C), training images minus the validation split, shuffled
    images: np.ndarray          # uint8 (M, H, W, C) validation images
    labels: np.ndarray          # (M,)
    keras_top1: np.ndarray      # (M,) Keras' top-1 on `images`

    def calibration(self, recipe: Int8Recipe) -> np.ndarray:
        if recipe.images > len(self.pool):
            return self.pool
        return self.pool[: recipe.images]   # nested: the 1k images are the first 1k of the 5k


class NotApplicable(Exception):
    """A recipe that does not apply to this model (e.g. a float stem for a one-layer model): skipped."""


def search(recipes: Sequence[Int8Recipe], build: Callable[[Int8Recipe, np.ndarray], bytes],
           run: Callable[[bytes, np.ndarray], np.ndarray], held_out: HeldOut) -> Choice:
    """Build one model per recipe, keep the one that agrees best with Keras on the validation split."""
    best: tuple[float, bytes, Int8Recipe] | None = None
    candidates = []
    for recipe in recipes:
        try:
            model = build(recipe, held_out.calibration(recipe))
        except NotApplicable:
            continue
        top1 = run(model, held_out.images).argmax(1)
        agreement = float((top1 == held_out.keras_top1).mean())
        candidates.append(RecipeScore(recipe.name, agreement, float((top1 == held_out.labels).mean())))
        if best is None or agreement > best[0]:
            best = (agreement, model, recipe)
    if best is None:
        raise ValueError("no calibration recipes to try")
    return Choice(best[2], best[1], tuple(candidates))
