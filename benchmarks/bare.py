"""Each backend's own set-input / invoke / get-output loop, with none of our code in it.

The input is prepared once, outside the loop, in the model's own dtype: the difference between
this and `Classifier.predict` is exactly what the wrapper costs. The loops live with each backend's
implementation (`bare`), so a new backend brings its own.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from fashion_edge.runtime.backends import backend_class, get_backend
from fashion_edge.runtime.options import EngineOptions


def bare_call(backend: str, model: bytes, pixels: np.ndarray, options: EngineOptions) -> Callable[[], object]:
    return backend_class(backend).bare(model, pixels, get_backend(backend).resolve(options))
