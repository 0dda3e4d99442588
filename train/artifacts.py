"""Build-side artifacts: written whole or not at all, with the versions of the libraries that made them.

Training, export and the benchmarks build their output in a hidden sibling folder and swap it in at
the end, so a crash, a full disk or a SIGKILL midway leaves the previous artifacts exactly as they
were. None of this ships to a device.
"""
from __future__ import annotations

import contextlib
import os
import platform
import shutil
from importlib import metadata
from pathlib import Path
from typing import Iterator

from fashion_edge.runtime.errors import FashionEdgeError

# The libraries whose versions are recorded beside every artifact (absent ones are left out).
LIBRARIES = ("fashion-edge", "numpy", "Pillow", "tensorflow", "keras", "tf2onnx", "onnx",
             "onnxruntime", "ai-edge-litert", "tflite-runtime", "matplotlib")


class ArtifactError(FashionEdgeError):
    """A training or export artifact is missing, corrupt, or cannot be written."""


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed distributions among `names`, plus Python itself."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _clean_stale(final: Path) -> None:
    """Remove staging folders left by runs that were killed before they could clean up."""
    for stale in final.parent.glob(f".{final.name}.*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces `final`, on any error it vanishes."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(final)
        staging = final.with_name(f".{final.name}.new-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise ArtifactError(f"cannot write to {final.parent}: {exc.strerror or exc}") from exc
    try:
        yield staging
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a temporary sibling and rename, so it is never half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from exc
