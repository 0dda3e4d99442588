"""Read JSON that a user may have edited, truncated or replaced: every failure is one BundleError.

Python's parser raises RecursionError on deep nesting and happily reads NaN or a gigabyte; a bundle's
JSON files are small and plain, so anything else is refused before it is parsed or used.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fashion_edge.runtime.errors import BundleError


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BundleError(f"{where}: nested too deeply to be a bundle file") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise BundleError(f"{where}: not valid JSON ({exc})") from None


def read(path: Path, max_bytes: int) -> Any:
    """Parse one JSON file of at most `max_bytes`; missing, unreadable, oversized or malformed -> BundleError."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise BundleError(f"{path}: {size:,} bytes, more than a bundle's {path.name} can be ({max_bytes:,})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BundleError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return loads(data, str(path))


def finite(value: float) -> bool:
    return math.isfinite(value)
