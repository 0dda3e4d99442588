"""The parity gate: does an exported model agree with Keras on every held-out image?

Agreement is gated in images: at most floor((1 - min_agreement) x N) of the N held-out images may
change their top-1 (50 of Fashion-MNIST's 10,000 at 99.5%, 2 of a 400-image folder's). With few
images the measured agreement is uncertain; the report states its Wilson 95% interval beside it.

The thresholds are the project's promises and live with each format in the registry
(runtime/formats.py), with the reason for each; this module only measures and compares.
"""
from __future__ import annotations

import numpy as np

from fashion_edge.runtime.formats import FORMATS
from fashion_edge.runtime.manifest import Parity, SizeCheck, allowed_flips


def compare(fmt: str, model: str, keras_logits: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> Parity:
    limits = FORMATS[fmt].gate_for(model)
    keras_top1, top1 = keras_logits.argmax(axis=1), logits.argmax(axis=1)
    keras_acc = float((keras_top1 == labels).mean())
    acc = float((top1 == labels).mean())
    agreement = float((top1 == keras_top1).mean())
    diff = np.abs(logits.astype(np.float64) - keras_logits)
    max_diff = float(diff.max()) if np.isfinite(diff).all() else float("inf")
    failures = []
    flips, allowed = int((top1 != keras_top1).sum()), allowed_flips(limits.min_agreement, len(labels))
    if flips > allowed:
        failures.append(f"{flips:,} of {len(labels):,} images differ from Keras, at most {allowed:,} may "
                        f"(agreement {100 * agreement:.2f}% < {100 * limits.min_agreement:.2f}%)")
    if limits.max_accuracy_drop is not None and keras_acc - acc > limits.max_accuracy_drop:
        failures.append(f"accuracy drop {100 * (keras_acc - acc):.2f} pp > {100 * limits.max_accuracy_drop:.2f} pp")
    if limits.max_abs_logit_diff is not None and not max_diff <= limits.max_abs_logit_diff:
        failures.append(f"max |Δlogit| {max_diff:.2e} > {limits.max_abs_logit_diff:.0e}")
    if not np.isfinite(diff).all():
        failures.append("logits are not all finite")
    return Parity(len(labels), acc, keras_acc, agreement, max_diff, limits, tuple(failures))


def size_checks(model: str, sizes: dict[str, int]) -> tuple[SizeCheck, ...]:
    """Every registry size limit whose two files were exported (enforced only for the models it names)."""
    checks = []
    for name, size in sizes.items():
        limit = FORMATS[name].size_limit
        if limit is not None and limit.of in sizes:
            checks.append(SizeCheck(name, limit.of, size / sizes[limit.of], limit.ratio, model in limit.models))
    return tuple(checks)
