"""`ServeConfig`: what `fashion-edge serve` was asked to do, checked before anything listens.

Everything a user can get wrong on the command line (a missing bundle, an unknown format, a backend
that is not installed, an unreadable key file, a zero-sized pool) fails here, as one line and a
non-zero exit, instead of as a server that starts and then answers 503 forever.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from fashion_edge.runtime.errors import UsageError

DEFAULT_PORT = 8000
DEFAULT_QUEUE = 32
DEFAULT_MAX_BODY_MB = 10.0
LOOPBACK_NAMES = ("localhost",)


def default_workers() -> int:
    """One interpreter per core this process may run on (a cgroup or taskset may allow fewer)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def is_loopback(host: str) -> bool:
    """True when `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so it counts as an explicit exposure


def read_api_key(path: Path) -> str:
    """The key is the file's content without surrounding whitespace; an empty or unreadable file is refused."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--api-key-file {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not key or len(key) < 16 or any(c.isspace() for c in key):
        raise UsageError(f"--api-key-file {path}: the key must be one word of at least 16 characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return key


@dataclass(frozen=True)
class ServeConfig:
    bundle: Path
    format: str
    backend: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    queue: int = DEFAULT_QUEUE
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 1024 * 1024)
    api_key: str | None = None       # never logged
    web_root: Path | None = None     # None: the installed fashion_edge.webapp package

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}")
        if self.queue < 0:
            raise UsageError(f"--queue must be 0 or more, not {self.queue}")
        if self.max_body_bytes < 1024:
            raise UsageError("--max-body-mb is too small to hold an image")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be within 0..65535, not {self.port}")
        if self.web_root is not None and not self.web_root.is_dir():
            raise UsageError(f"--web-root {self.web_root}: not a folder")

    @property
    def capacity(self) -> int:
        """Classify requests admitted at once: one per worker plus the waiting queue; the rest get 503."""
        return self.workers + self.queue

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @classmethod
    def from_args(cls, args) -> "ServeConfig":
        return cls(bundle=Path(args.bundle), format=args.format, backend=args.backend, host=args.host,
                   port=args.port, workers=default_workers() if args.workers is None else args.workers, queue=args.queue,
                   max_body_bytes=int(args.max_body_mb * 1024 * 1024),
                   api_key=read_api_key(Path(args.api_key_file)) if args.api_key_file else None,
                   web_root=Path(args.web_root) if args.web_root else None)
