"""`fashion-edge pack BUNDLE`: one archive a user copies to a Raspberry Pi and installs.

fashion-edge is not on the package index, so `pip install fashion-edge` on a Pi would fail (or,
worse, install someone else's package of that name). The kit carries the project's own wheel, the
verified bundle, the systemd unit and install.sh; only third-party dependencies come from the index.
A SHA256SUMS file covers every file, and install.sh refuses a kit that does not match it.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Callable

from fashion_edge.runtime.backends import BACKENDS, device_extras
from fashion_edge.runtime.formats import DEFAULT_FORMAT, FORMATS
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import FashionEdgeError, UsageError

EXTRAS = device_extras()     # litert, onnx: the first is the kit's default
UNIT = "fashion-edge.service"


class PackError(FashionEdgeError):
    """The kit could not be built (no wheel, unverifiable bundle, unwritable output)."""


@dataclass(frozen=True)
class Kit:
    path: Path
    bytes: int
    files: int
    wheel: str


def kit_format(bundle: Bundle, extra: str) -> str | None:
    """The format a device with only `extra` installed runs: the default one if it can, else the same precision.

    Written into KIT.json so install.sh gives the service (and its hints) a format the kit's backend runs.
    """
    spec = next(b for b in BACKENDS.values() if b.extra == extra and not b.slow and not b.legacy)
    runnable = [f for f in bundle.formats if spec.can_run(f)]
    if not runnable:
        return None
    if DEFAULT_FORMAT in runnable:
        return DEFAULT_FORMAT
    same = [f for f in runnable if FORMATS[f].precision == FORMATS[DEFAULT_FORMAT].precision]
    return (same or runnable)[0]


def kit_name(model: str, extra: str) -> str:
    return f"fashion-edge-{model}-pi" + ("" if extra == EXTRAS[0] else f"-{extra}")


def build_wheel(source: Path, out: Path) -> Path:
    """The project's wheel, built from its source tree (pip wheel, no dependencies)."""
    if not (source / "pyproject.toml").is_file() or 'name = "fashion-edge"' not in (source / "pyproject.toml").read_text():
        raise PackError(f"{source}: not the fashion-edge source tree; run pack from it or pass --wheel FILE")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(source)], capture_output=True, text=True)
    wheels = sorted(out.glob("fashion_edge-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise PackError(f"building the wheel failed: {last}")
    return wheels[-1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pack(bundle_path: Path, extra: str = EXTRAS[0], out: Path = Path("dist"), wheel: Path | None = None,
         source: Path | None = None, log: Callable[[str], None] = print) -> Kit:
    if extra not in EXTRAS:
        raise UsageError(f"--extra must be one of {', '.join(EXTRAS)}, not {extra!r}")
    from fashion_edge.export.verify import verify  # runtime only: no TensorFlow

    bundle = Bundle.load(bundle_path)
    verify(Path(bundle_path), log=lambda line: log(f"  verify {line.strip()}"))
    name = kit_name(bundle.model, extra)
    formats = {e: f for e in EXTRAS if (f := kit_format(bundle, e)) is not None}
    if extra not in formats:
        raise PackError(f"{bundle_path}: no format in this bundle runs with the [{extra}] extra")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / name
        (root / "bundle").mkdir(parents=True)
        wheel = Path(wheel) if wheel else build_wheel(Path(source or Path.cwd()), Path(tmp) / "wheel")
        if not wheel.is_file() or not wheel.name.startswith("fashion_edge-"):
            raise PackError(f"{wheel}: not a fashion-edge wheel")
        shutil.copy2(wheel, root / wheel.name)
        for file in ["manifest.json", *bundle.manifest.files()]:
            (root / "bundle" / file).parent.mkdir(parents=True, exist_ok=True)
            (root / "bundle" / file).write_bytes(bundle.read_file(file) if file != "manifest.json"
                                                 else (Path(bundle_path) / file).read_bytes())
        templates = resources.files("fashion_edge.deploy")
        for template, mode in (("install.sh", 0o755), (UNIT, 0o644)):
            (root / template).write_bytes(templates.joinpath(template).read_bytes())
            (root / template).chmod(mode)
        (root / "KIT.json").write_text(json.dumps({
            "model": bundle.model, "extra": extra, "wheel": wheel.name,
            "format_for_extra": formats,
            "formats": list(bundle.formats), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }, indent=2) + "\n")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        (root / "SHA256SUMS").write_text("".join(f"{_sha256(p)}  {p.relative_to(root)}\n" for p in files))
        return _archive(root, Path(out), wheel.name, len(files) + 1)


def _archive(root: Path, out: Path, wheel: str, count: int) -> Kit:
    """tar.gz written beside its final name and renamed, so a killed pack leaves no half archive."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        final = out / f"{root.name}.tar.gz"
        partial = final.with_name(f".{final.name}.partial")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(root, arcname=root.name, filter=lambda info: _normalised(info))
        partial.write_bytes(buffer.getvalue())
        partial.replace(final)
    except OSError as exc:
        raise PackError(f"cannot write the kit to {out}: {exc.strerror or exc}") from exc
    return Kit(final, final.stat().st_size, count, wheel)


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
