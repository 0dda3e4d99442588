"""`Prediction`: one image's answer, an immutable value built in C on the batch-of-one hot path."""
from __future__ import annotations

from typing import NamedTuple, Sequence

Probabilities = tuple[float, ...]


class Prediction(NamedTuple):
    """One image's answer. A named tuple: immutable, hashable, unpacks, pickles."""

    label_id: int
    label: str
    confidence: float
    probabilities: Probabilities

    def to_json(self) -> dict:
        return {"label_id": self.label_id, "label": self.label, "confidence": self.confidence,
                "probabilities": list(self.probabilities)}

    def ranked(self, k: int) -> list[int]:
        """The k most probable class ids, best first (ties: the lower id first)."""
        return sorted(range(len(self.probabilities)), key=self.probabilities.__getitem__, reverse=True)[:k]

    def top(self, k: int, labels: Sequence[str]) -> list[dict]:
        return [{"label_id": i, "label": labels[i], "confidence": self.probabilities[i]} for i in self.ranked(k)]


# tuple.__new__ fills the named tuple in C; Prediction(...) goes through a generated Python __new__,
# a frame that on the hot path, right after an invoke, costs more than the tuple itself.
_make = tuple.__new__


def eager(answer: tuple[int, Probabilities], labels: Sequence[str]) -> Prediction:
    """A softmax's (top class, probabilities) -> its Prediction."""
    label_id, probabilities = answer
    return _make(Prediction, (label_id, labels[label_id], probabilities[label_id], probabilities))
