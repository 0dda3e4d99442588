"""Prediction: the value `predict` returns, whichever way it was built."""
from __future__ import annotations

import pickle

from fashion_edge.runtime.prediction import Prediction, eager

PROBS = (0.1, 0.7, 0.2)
LABELS = ("T-shirt/top", "Trouser", "Pullover")


def test_the_hot_paths_prediction_is_the_named_tuple_itself():
    p = eager((1, PROBS), LABELS)
    assert type(p) is Prediction and p == Prediction(1, "Trouser", 0.7, PROBS)
    assert (p.label_id, p.label, p.confidence, p.probabilities) == (1, "Trouser", 0.7, PROBS)
    assert pickle.loads(pickle.dumps(p)) == p and hash(p) == hash(Prediction(*p))
    assert p.to_json() == {"label_id": 1, "label": "Trouser", "confidence": 0.7, "probabilities": list(PROBS)}
    assert p.ranked(2) == [1, 2]
    assert p.top(2, LABELS) == [{"label_id": 1, "label": "Trouser", "confidence": 0.7},
                                {"label_id": 2, "label": "Pullover", "confidence": 0.2}]
