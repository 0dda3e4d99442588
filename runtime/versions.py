"""Versions of the libraries that made or ran something, recorded beside every artifact."""
from __future__ import annotations

import platform
from importlib import metadata

LIBRARIES = ("fashion-edge", "numpy", "Pillow", "tensorflow", "keras", "tf2onnx", "onnx",
             "onnxruntime", "ai-edge-litert", "tflite-runtime", "matplotlib")


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed distributions among `names` (absent ones are left out), plus Python itself."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
