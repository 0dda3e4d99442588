"""Import TensorFlow without its start-up chatter (CUDA probes, oneDNN notices, absl preamble).

A user running `fashion-edge train` on a CPU machine should see one line per step, not dozens of
`E0000 ... cuInit` lines. The native log levels are raised before TensorFlow is first imported and
the import itself runs with stderr held back; `--verbose` (or setting TF_CPP_MIN_LOG_LEVEL yourself)
brings everything back, and FASHION_EDGE_DEBUG=1 shows what was held back if the import fails.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import warnings

from fashion_edge.runtime.quiet import captured_native_output


def import_tensorflow(verbose: bool = False) -> None:
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if importlib.util.find_spec("tensorflow") is None:
        return  # the stage names the extra to install when it needs TensorFlow
    with captured_native_output():
        import tensorflow  # noqa: F401  (the point: one quiet import that later imports reuse)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"keras(\..*)?$")
    warnings.filterwarnings("ignore", module=r"tf2onnx(\..*)?$")
