"""Installed library versions, read from package metadata (importing a backend to ask could crash it)."""
from __future__ import annotations

import platform
from importlib import metadata

# A backend's import name -> its distribution on PyPI, where the two differ.
DISTRIBUTIONS = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}


def version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def module_version(module: str) -> str | None:
    """The version of the distribution that provides top-level `module`, without importing it."""
    return version_of(DISTRIBUTIONS.get(module, module))


def versions(*distributions: str) -> dict[str, str]:
    """Python plus every installed distribution among `distributions` (absent ones are left out)."""
    found = {"python": platform.python_version()}
    for name in distributions:
        v = version_of(name)
        if v is not None:
            found[name] = v
    return found
