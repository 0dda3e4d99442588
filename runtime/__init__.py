"""fashion_edge.runtime: what runs on the device. numpy and Pillow only; never TensorFlow.

    from fashion_edge.runtime import Classifier
    Classifier("artifacts/edge/bundle").predict("photo.jpg")
"""
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.errors import (
    BundleError,
    DataError,
    FashionEdgeError,
    InvalidImageError,
    MissingExtraError,
    UsageError,
)
from fashion_edge.runtime.prediction import Prediction

__all__ = [
    "BundleError",
    "Classifier",
    "DataError",
    "FashionEdgeError",
    "InvalidImageError",
    "MissingExtraError",
    "Prediction",
    "UsageError",
    "preprocess",
]


def __getattr__(name: str):
    """`preprocess` on first use: it imports Pillow, which a process fed only frames never needs (frames.py)."""
    if name == "preprocess":
        from fashion_edge.runtime.preprocess import preprocess

        return preprocess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
