"""The files the service hands out: the bundle's (manifest-listed only) and the web app's.

Nothing here joins a request path onto a folder. The bundle's servable names are the manifest's own
list (`Manifest.files()`, read through `Bundle.read_file`, which checks each file's sha256), plus
manifest.json itself; the web app's are enumerated once at start-up. A request names an entry in one
of those tables or gets 404, so `..`, encoded slashes or symlinks cannot lead anywhere else.
"""
from __future__ import annotations

import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from fashion_edge.runtime.bundle import Bundle

WEBAPP_PACKAGE = "fashion_edge.webapp"
MAX_WEB_FILES = 2000
_TYPES = {".tflite": "application/octet-stream", ".onnx": "application/octet-stream", ".ort": "application/octet-stream",
          ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
          ".webmanifest": "application/manifest+json", ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
_NOT_SERVED = {".py", ".pyc", ".pyo"}
_NOT_SERVED_DIRS = {"node_modules"}     # a development checkout (--web-root apps/web) has one


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str
    etag: str   # the file's sha256 (bundle) or size-mtime (web app): for If-None-Match


class BundleFiles:
    """manifest.json (as validated at start-up) and the files it lists, each verified once, then kept in memory."""

    def __init__(self, bundle: Bundle, manifest: bytes | None = None) -> None:
        """`manifest`: manifest.json's bytes as `bundle` was loaded from them (read again when not given)."""
        self._bundle = bundle
        self._listed = bundle.manifest.files()
        if manifest is None:
            manifest = (bundle.path / "manifest.json").read_bytes()
        from fashion_edge.runtime.bundle import sha256_bytes

        self._cache: dict[str, Blob] = {"manifest.json": Blob(manifest, "application/json", sha256_bytes(manifest))}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return ["manifest.json", *self._listed]

    def get(self, name: str) -> Blob | None:
        """The file's bytes, or None when the manifest does not list it. BundleError if it was altered on disk."""
        blob = self._cache.get(name)
        if blob is not None:
            return blob
        if name not in self._listed:
            return None
        data = self._bundle.read_file(name)   # sha256-checked: an altered file raises BundleError
        blob = Blob(data, media_type(name), self._listed[name])
        with self._lock:
            self._cache[name] = blob
        return blob


def _servable(relative: Path) -> bool:
    return (not any(part.startswith((".", "__")) or part in _NOT_SERVED_DIRS for part in relative.parts)
            and relative.suffix.lower() not in _NOT_SERVED)


def find_web_root(override: Path | None) -> Path | None:
    """The web app's folder: --web-root, else the installed fashion_edge.webapp package; None unless it has index.html."""
    if override is not None:
        root = override
    else:
        try:
            from importlib.resources import files

            root = Path(str(files(WEBAPP_PACKAGE)))
        except (ImportError, TypeError, ValueError):  # not installed, or not a folder on disk (zipped)
            return None
    return root if (root / "index.html").is_file() else None


def web_files(root: Path | None) -> Mapping[str, Path]:
    """URL path ('/', '/app.js', '/vendor/ort.wasm') -> file, for every servable regular file under `root`."""
    if root is None:
        return {}
    root = root.resolve()
    found: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):   # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if _servable(Path(d)))
        for name in sorted(names):
            path = Path(folder) / name
            relative = path.relative_to(root)
            real = path.resolve()
            if not _servable(relative) or not real.is_file() or root not in real.parents:
                continue   # hidden, Python, or a symlink pointing out of the folder
            found["/" + relative.as_posix()] = real
            if len(found) > MAX_WEB_FILES:
                raise ValueError(f"{root}: more than {MAX_WEB_FILES} files; is this the web app's folder?")
    if "/index.html" in found:
        found["/"] = found["/index.html"]
    return found
