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
from fashion_edge.runtime.preprocess import preprocess

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
