"""An engine's own set-input / run / get-output loop on a fresh interpreter, none of our code in it.

For the roofline's large models; the wrapper cost is timed on the classifier's own interpreter
(`Classifier.engine.bare_loop`, timing.py says why). The loops live with each backend's
implementation (`bare_loop`), so a new backend brings its own.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from fashion_edge.runtime.backends import open_backend
from fashion_edge.runtime.options import EngineOptions


def bare_call(backend: str, model: bytes, pixels: np.ndarray, options: EngineOptions) -> Callable[[], object]:
    return open_backend(backend, model, options).bare_loop(pixels)
