"""fashion_edge.runtime: what runs on the device. numpy and Pillow only; never TensorFlow."""
from fashion_edge.runtime.errors import (
    BundleError,
    DataError,
    FashionEdgeError,
    InvalidImageError,
    MissingExtraError,
)

__all__ = [
    "BundleError",
    "DataError",
    "FashionEdgeError",
    "InvalidImageError",
    "MissingExtraError",
]
