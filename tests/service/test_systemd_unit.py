"""deploy/fashion-edge.service: sandboxed, restarts on failure, runs `fashion-edge serve` from the kit's current
release and reloads its model on `systemctl reload`."""
from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "fashion-edge.service"


def _service() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def test_unit_is_sandboxed_and_restarts_on_failure():
    s = _service()
    for key, value in {"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
                       "Restart": "on-failure", "KillSignal": "SIGTERM"}.items():
        assert s.get(key) == value, key
    assert s["MemoryMax"].endswith(("M", "G")) and "ProcSubset" not in s


def test_unit_runs_serve_from_the_venv_on_loopback():
    exec_start = _service()["ExecStart"].split()
    assert exec_start[:2] == ["/opt/fashion-edge/current/venv/bin/fashion-edge", "serve"]
    assert exec_start[exec_start.index("--bundle") + 1] == "/opt/fashion-edge/current/bundle"
    assert exec_start[exec_start.index("--host") + 1] == "127.0.0.1"


def test_unit_reloads_the_model_with_sighup_to_the_main_process():
    assert _service()["ExecReload"] == "/bin/kill -HUP $MAINPID"     # the service's reload signal: a new model, same code


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_unit(tmp_path):
    fashion_edge = shutil.which("fashion-edge") or "/bin/true"   # verify wants an existing executable
    unit = tmp_path / "fashion-edge.service"
    unit.write_text(UNIT.read_text().replace("/opt/fashion-edge/current/venv/bin/fashion-edge", fashion_edge))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "fashion-edge.service" not in done.stderr, done.stderr
