"""The JSON of one classification, with what does not change between requests encoded once.

Every answer names the bundle that gave it (`bundle`: its id and version), so a client that talks to
a service through a reload knows which model spoke.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fashion_edge.runtime.service.pool import Classified


class Answer:
    def __init__(self, labels: tuple[str, ...], bundle: dict) -> None:
        self._label = [json.dumps(label) for label in labels]
        self._bundle = json.dumps(bundle)

    def encode(self, outcome: "Classified", top: int, total_s: float) -> bytes:
        p = outcome.prediction
        probs = p.probabilities
        order = p.ranked(top)
        label = self._label
        ranked = ", ".join(f'{{"label_id": {i}, "label": {label[i]}, "confidence": {probs[i]!r}}}' for i in order)
        return (f'{{"label_id": {p.label_id}, "label": {label[p.label_id]}, "confidence": {p.confidence!r}, '
                f'"probabilities": [{", ".join(map(repr, probs))}], "top": [{ranked}], '
                f'"timing_ms": {{"preprocess": {round(outcome.preprocess_s * 1e3, 3)!r}, '
                f'"inference": {round(outcome.inference_s * 1e3, 3)!r}, "total": {round(total_s * 1e3, 3)!r}}}, '
                f'"bundle": {self._bundle}}}').encode()
