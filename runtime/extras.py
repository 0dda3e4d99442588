"""Import optional dependencies at the point of use, failing with the extra that provides them."""
from __future__ import annotations

import importlib
from types import ModuleType

from fashion_edge.runtime.errors import MissingExtraError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import `module`, or raise MissingExtraError naming `pip install "fashion-edge[extra]"`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Only a missing top-level package means "not installed"; a broken install should show its
        # own error, but still as one line that names the extra to reinstall.
        raise MissingExtraError(module, extra, purpose) from exc
