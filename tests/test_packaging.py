"""Packaging contract: one distribution whose wheel holds only fashion_edge/**, tested as installed."""
from __future__ import annotations

import zipfile
from pathlib import Path


STAGES = ("cli", "train", "export", "runtime", "benchmarks")


def test_tests_run_against_the_installed_package_not_the_source_tree():
    import fashion_edge.runtime

    assert "site-packages" in Path(fashion_edge.runtime.__file__).parts


def test_wheel_contains_only_the_fashion_edge_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"fashion_edge", next(t for t in tops if t.endswith(".dist-info"))}
    for stage in STAGES:
        assert f"fashion_edge/{stage}/__init__.py" in names
    assert not any(n.startswith("fashion_edge/tests") for n in names)


def test_wheel_metadata_keeps_heavy_libraries_in_extras(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    assert sorted(r.split(">")[0].split("=")[0].split("<")[0] for r in base) == ["Pillow", "numpy"]
    extras = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")}
    assert {"train", "export", "litert", "onnx", "tflite"} <= extras
    assert "fashion-edge = fashion_edge.cli.main:main" in zipfile.ZipFile(wheel).read(
        next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))).decode()


def test_the_build_says_nothing_alarming(wheel_build):
    """Every folder of data is declared (setuptools would warn "Package would be ignored" otherwise)."""
    _, log = wheel_build
    for alarm in ("would be ignored", "is absent from the `packages` configuration", "SetuptoolsDeprecationWarning"):
        assert alarm not in log, next(line for line in log.splitlines() if alarm in line)


def test_data_folders_ship_in_the_wheel(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("fashion_edge/benchmarks/roofline/") and n.endswith(".tflite") for n in names)
    assert "fashion_edge/webapp/vendor/files.json" in names
    assert "fashion_edge/deploy/install.sh" in names


def test_version_follows_the_changelog():
    """pyproject.toml's version is CHANGELOG.md's latest release, and `fashion-edge --version` says it."""
    import re
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    declared = re.search(r'^version = "([^"]+)"', (repo / "pyproject.toml").read_text(), re.M).group(1)
    released = re.search(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (repo / "CHANGELOG.md").read_text(), re.M).group(1)
    shown = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "--version"], capture_output=True, text=True)
    assert declared == released and shown.returncode == 0 and shown.stdout.strip() == f"fashion-edge {declared}"
