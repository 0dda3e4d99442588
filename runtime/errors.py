"""The package's own exceptions.

Every mistake a user can make surfaces as one of these, never as an exception from deep inside
numpy, Pillow or a native runtime; the CLI turns them into one line and a non-zero exit.
"""
from __future__ import annotations


class FashionEdgeError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""

    exit_code = 1


class MissingExtraError(FashionEdgeError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    exit_code = 2

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        self.module, self.extra = module, extra
        why = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{module} is needed{why} but is not installed: pip install \"fashion-edge[{extra}]\""
        )


class UsageError(FashionEdgeError, ValueError):
    """A flag or argument value that cannot work (e.g. an unknown model name)."""

    exit_code = 2


class DataError(FashionEdgeError):
    """The Fashion-MNIST files are missing, corrupt or not what they claim to be."""


class InvalidImageError(FashionEdgeError, ValueError):
    """An image or array cannot be turned into a model input."""


class BundleError(FashionEdgeError):
    """A bundle is missing, incomplete, tampered with or not loadable."""


class SelfCheckError(BundleError):
    """The backend's answers on the bundle's golden images differ from what the export recorded."""
