"""Self-check at load: does this backend, on this CPU, compute what the export recorded?

A backend wheel can install fine and still compute wrong answers on one CPU (int8 kernels chosen
by ISA detection, a numpy ABI mismatch). The bundle's golden.json holds preprocessed test images
and every format's logits as the exporter measured them; running them once costs milliseconds and
turns a silently wrong service into one that refuses to start.

The criterion is the bundle's own: every logit within the manifest's `golden_atol` of the recorded
one. A top-1 flip inside that tolerance is a near-tie the tolerance already allows, so it is
reported but does not fail the check.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from fashion_edge.runtime.errors import SelfCheckError

if TYPE_CHECKING:
    from fashion_edge.runtime.classifier import Classifier


@dataclass(frozen=True)
class SelfCheck:
    """The outcome of one golden run: what was compared and how far apart it was."""

    format: str
    backend: str
    images: int
    max_abs_diff: float
    atol: float
    top1_mismatches: int

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_abs_diff)) and self.max_abs_diff <= self.atol

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"self-check {verdict}: {self.format} on {self.backend}, {self.images} golden images, "
                f"max |Δlogit| {self.max_abs_diff:.2e} (allowed {self.atol:.1e}), "
                f"{self.top1_mismatches} top-1 difference(s)")

    def to_json(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def measure(classifier: "Classifier") -> SelfCheck:
    """Run the bundle's golden images through `classifier` and compare with the recorded logits."""
    golden = classifier.bundle.golden()
    fmt = classifier.format
    if fmt not in golden.outputs:
        raise SelfCheckError(f"{classifier.bundle.path}: golden.json records no outputs for {fmt}; "
                             "re-export the bundle")
    expected = golden.outputs[fmt]
    got = classifier.logits(golden.images)
    if got.shape != expected.logits.shape:
        raise SelfCheckError(f"{fmt} on {classifier.backend_name}: output shape {got.shape} "
                             f"differs from golden.json's {expected.logits.shape}")
    diff = np.abs(got.astype(np.float64) - expected.logits)
    max_diff = float(diff.max()) if np.isfinite(diff).all() else float("inf")
    mismatches = int((got.argmax(axis=1) != np.asarray(expected.top1)).sum())
    return SelfCheck(fmt, classifier.backend_name, len(golden.images), max_diff,
                     classifier.bundle.entry(fmt).golden_atol, mismatches)


def require(classifier: "Classifier") -> SelfCheck:
    """`measure`, raising SelfCheckError (with the figures) when the backend disagrees with the export."""
    result = measure(classifier)
    if not result.passed:
        raise SelfCheckError(result.describe() + ": this backend disagrees with the export on this machine; "
                             "try another backend or format (`fashion-edge doctor` tests them all)")
    return result
