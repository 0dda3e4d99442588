"""`fashion-edge doctor`: JSON shape, a recommendation, and backends that crash or disagree reported, not fatal."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY

from bundle_edits import disagreeing_copy, trimmed_copy
from fashion_edge.runtime.backends import BACKENDS
from fashion_edge.runtime.bundle import Bundle


# Imported in place of the real backend, this kills its own process the way a wheel built for a
# newer CPU does: SIGILL, before Python can raise anything (no core file left behind).
CRASHING_MODULE = """import os, resource, signal
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.kill(os.getpid(), signal.SIGILL)
"""
SMALL = ("tflite-int8", "onnx-int8")   # one file per backend family: fewer pairs, same paths through doctor


@pytest.fixture(scope="module")
def bundle_dir(tiny_bundle) -> Path:
    return tiny_bundle


def doctor(*args: str, crash: tuple[str, ...] = (), tmp_path: Path) -> subprocess.CompletedProcess:
    """Run doctor in a fresh process; each top-level module in `crash` is replaced by one that dies with SIGILL."""
    env = dict(os.environ)
    if crash:
        fakes = tmp_path / "crashing-backends"
        for module in crash:
            (fakes / module).mkdir(parents=True, exist_ok=True)
            (fakes / module / "__init__.py").write_text(CRASHING_MODULE)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(fakes), env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "fashion_edge.cli", "doctor", *args], capture_output=True, text=True,
                          timeout=900, env=env, cwd=tmp_path)


@pytest.mark.parametrize("name", ["tiny-cnn", pytest.param("tiny-shapes12", marks=pytest.mark.slow),
                                  pytest.param("tiny-stripes2", marks=pytest.mark.slow)])
def test_json_report_checks_every_installed_pair_and_recommends_one(name, tmp_path):
    """On every input contract (two of them in the full suite: 5 s each): the golden check and the latency
    probe run at the bundle's own shape."""
    bundle_dir = TINY / name / "bundle"
    done = doctor("--bundle", str(bundle_dir), "--json", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) >= {"platform", "cpu", "bundle", "backends", "pairs", "recommendation", "ok", "advice"}
    assert set(report["platform"]) >= {"system", "machine", "python", "numpy"}
    assert set(report["cpu"]) >= {"model", "cores", "features", "present"}
    assert [b["name"] for b in report["backends"]] == list(BACKENDS)
    installed = {b["name"] for b in report["backends"] if b["installed"]}
    assert all(b["import"]["status"] == "ok" for b in report["backends"] if b["installed"])
    expected = {(f, b) for f in Bundle.load(bundle_dir).formats for b in installed if BACKENDS[b].can_run(f)}
    assert {(p["format"], p["backend"]) for p in report["pairs"]} == expected
    for pair in report["pairs"]:
        assert pair["ok"] and pair["check"]["max_abs_diff"] <= pair["check"]["atol"], pair
        assert pair["latency_us"]["p50"] > 0
    rec = report["recommendation"]
    assert (rec["format"], rec["backend"]) in expected and rec["threads"] >= 1 and report["ok"] is True


def test_a_backend_crashing_on_import_is_reported_and_the_others_still_checked(bundle_dir, tmp_path):
    small = trimmed_copy(bundle_dir, tmp_path / "small", SMALL)
    done = doctor("--bundle", str(small), "--json", crash=("ai_edge_litert",), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    litert = next(b for b in report["backends"] if b["name"] == "litert")
    assert litert["import"]["status"] == "crashed" and "SIGILL" in litert["import"]["error"]
    assert not any(p["backend"] == "litert" for p in report["pairs"])
    assert report["recommendation"]["backend"] != "litert"


def test_nothing_working_exits_1_with_one_line_saying_what_to_install(bundle_dir, tmp_path):
    everything = tuple(sorted({BACKENDS[b].module.split(".")[0] for b in BACKENDS}))
    done = doctor("--bundle", str(bundle_dir), crash=everything, tmp_path=tmp_path)
    assert done.returncode == 1
    assert "CRASHED with SIGILL" in done.stdout          # the report still printed, every crash listed
    last = done.stderr.strip().splitlines()
    assert len(last) == 1 and last[0].startswith("fashion-edge doctor: ") and "pip install" in last[0]
    assert "Traceback" not in done.stderr


def test_a_bundle_every_backend_disagrees_with_exits_1(bundle_dir, tmp_path):
    bad = disagreeing_copy(bundle_dir, trimmed_copy(bundle_dir, tmp_path / "bad", SMALL))
    done = doctor("--bundle", str(bad), "--json", tmp_path=tmp_path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["pairs"] and not any(p["ok"] for p in report["pairs"])
    assert all(p["status"] == "failed" and p["check"]["max_abs_diff"] > p["check"]["atol"] for p in report["pairs"])
    assert report["recommendation"] is None and "golden" in report["advice"]
    assert done.stderr.strip().startswith("fashion-edge doctor: ")
