"""Hold back a native library's chatter; show it only on failure with FASHION_EDGE_DEBUG=1.

TensorFlow's converter and tf2onnx print pages of C++ logging on success, and LiteRT announces its
XNNPACK delegate on stderr; a user wants one line per step, and the native log only when debugging.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

WARNING = 30     # logging.WARNING; `logging` and `tempfile` are imported where used, off the runtime's cold start


@contextlib.contextmanager
def quiet_logger(name: str, level: int = WARNING) -> Iterator[None]:
    """Raise a Python logger's threshold for the block (tools that log every step at INFO)."""
    import logging

    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def captured_native_output(stdout: bool = True) -> Iterator[None]:
    """Redirect file descriptor 2 (and 1 if `stdout`) for the block: to a temporary file with
    FASHION_EDGE_DEBUG set (shown if the block fails), else to the null device (nothing would show it)."""
    fds = (2, 1) if stdout else (2,)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    debug = bool(os.environ.get("FASHION_EDGE_DEBUG"))
    with _sink(debug) as log:
        for fd in fds:
            os.dup2(log.fileno(), fd)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            if not ok and debug:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))


def _sink(debug: bool):
    if debug:
        import tempfile

        return tempfile.TemporaryFile(mode="w+b")
    return open(os.devnull, "wb")
