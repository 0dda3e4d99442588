"""The deploy kit as a user meets it: one archive, checksummed; install.sh refuses a tampered kit,
installs into a venv of its own, upgrades in place keeping the previous release, and rolls back.
install.sh runs here on the host with its own --prefix (pi-check runs it inside an emulated Pi)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from fashion_edge.deploy.pack import PackError, pack
from fashion_edge.runtime.errors import BundleError, UsageError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kit(tiny_bundle, wheel, tmp_path_factory):
    return pack(tiny_bundle, out=tmp_path_factory.mktemp("dist"), wheel=wheel, log=lambda _: None)


def _unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (root,) = into.iterdir()
    return root


def test_the_kit_holds_wheel_bundle_unit_and_installer_all_checksummed(kit, tiny_bundle, tmp_path):
    assert kit.path.name == "fashion-edge-tiny-cnn-pi.tar.gz" and kit.bytes < 50e6
    root = _unpack(kit.path, tmp_path)
    names = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert {"install.sh", "SHA256SUMS", "KIT.json", "fashion-edge.service", "bundle/manifest.json",
            "bundle/int8.tflite", "bundle/golden.json", kit.wheel} <= names
    sums = dict(reversed(line.split("  ", 1)) for line in (root / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == names - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((root / name).read_bytes()).hexdigest() == digest, name
    assert os.access(root / "install.sh", os.X_OK)
    assert (root / "bundle" / "int8.tflite").read_bytes() == (tiny_bundle / "int8.tflite").read_bytes()
    # each device extra gets a format its backend runs: the unit and install.sh's hints use it
    kit_json = json.loads((root / "KIT.json").read_text())
    assert kit_json["extra"] == "litert"
    assert kit_json["format_for_extra"] == {"litert": "tflite-int8", "onnx": "onnx-int8"}


def test_pack_refuses_a_tampered_bundle_an_unknown_extra_and_a_non_project_source(tiny_bundle, wheel, tmp_path):
    import shutil

    bad = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bad)
    blob = bytearray((bad / "int8.tflite").read_bytes())
    blob[200] ^= 1
    (bad / "int8.tflite").write_bytes(bytes(blob))
    with pytest.raises(BundleError, match="sha256"):
        pack(bad, out=tmp_path / "dist", wheel=wheel, log=lambda _: None)
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    with pytest.raises(UsageError, match="--extra"):
        pack(tiny_bundle, extra="tensorrt", out=tmp_path / "dist", wheel=wheel)
    with pytest.raises(PackError, match="source tree"):
        pack(tiny_bundle, out=tmp_path / "dist", source=tmp_path, log=lambda _: None)


def _install(root: Path, prefix: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(root / "install.sh"), "--prefix", str(prefix), *args], capture_output=True,
                          text=True, env=env, timeout=1200)


def test_install_sh_refuses_tampering_installs_upgrades_and_rolls_back(kit, tmp_path):
    tampered = _unpack(kit.path, tmp_path / "tampered")
    blob = bytearray((tampered / "bundle" / "int8.tflite").read_bytes())
    blob[100] ^= 1
    (tampered / "bundle" / "int8.tflite").write_bytes(bytes(blob))
    prefix = tmp_path / "opt"
    refused = _install(tampered, prefix)
    assert refused.returncode == 1 and "does not match its SHA256SUMS" in refused.stderr
    assert not prefix.exists()

    root = _unpack(kit.path, tmp_path / "kit")
    first = _install(root, prefix)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    release1 = (prefix / "current").resolve()
    predict = subprocess.run([str(prefix / "current" / "venv" / "bin" / "fashion-edge"), "info",
                              str(prefix / "current" / "bundle")], capture_output=True, text=True)
    assert predict.returncode == 0 and "tflite-int8" in predict.stdout
    exec_start = next(line for line in (prefix / "current" / "fashion-edge.service").read_text().splitlines()
                      if line.startswith("ExecStart="))
    assert exec_start.endswith("--format tflite-int8") and "--format tflite-int8" in first.stdout

    second = _install(root, prefix)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (prefix / "current").resolve() != release1 and (prefix / "previous").resolve() == release1

    back = _install(root, prefix, "--rollback")
    assert back.returncode == 0 and "rolled back" in back.stdout
    assert (prefix / "current").resolve() == release1
