"""deploy/install.sh without pip: its options, the checksum refusal, and the switch to a release that
the running service must follow (reload, health wait on the bundle id, switch back when it does not).

The service here is a stand-in: a small process that answers /healthz with the bundle id of
PREFIX/current as it read it at start-up and at each SIGHUP, as `fashion-edge serve` does on reload.
A fake `python3` makes venvs whose pip and fashion-edge do nothing, so an upgrade runs in a second.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"
UNIT = (REPO / "deploy" / "fashion-edge.service").read_text()

FAKE_SERVICE = r"""
import hashlib, json, signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

prefix, mode = Path(sys.argv[1]), sys.argv[2]      # mode: follow | deaf (ignores SIGHUP) | refuse


def current_id():
    return hashlib.sha256((prefix / "current" / "bundle" / "manifest.json").read_bytes()).hexdigest()[:12]


state = {"id": current_id(), "done": 0, "last": None, "error": None}


def on_sighup(signum, frame):
    state["done"] += 1
    if mode == "refuse":
        state["last"], state["error"] = "failed", "golden self-check failed on int8.onnx"
    else:
        state["id"], state["last"] = current_id(), "ok"


signal.signal(signal.SIGHUP, signal.SIG_IGN if mode == "deaf" else on_sighup)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        reload = {"done": state["done"], "last": state["last"], "running": False}
        body = {"/healthz": {"status": "ok", "bundle": {"id": state["id"], "version": None}, "reload": reload},
                "/v1/info": {"bundle": {"id": state["id"]}, "reload": {**reload, "error": state["error"]}}}.get(self.path)
        data = json.dumps(body).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever(poll_interval=0.1)
"""

FAKE_PYTHON = """#!/bin/sh
# python3, except that `-m venv DIR` makes a venv whose pip and fashion-edge succeed doing nothing
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && ln -s {python} "$3/bin/python"
  printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/pip" && cp "$3/bin/pip" "$3/bin/fashion-edge"
  chmod +x "$3/bin/pip" "$3/bin/fashion-edge"
  exit 0
fi
exec {python} "$@"
"""


def bundle_id(release: Path) -> str:
    return hashlib.sha256((release / "bundle" / "manifest.json").read_bytes()).hexdigest()[:12]


def _unit(fmt: str) -> str:
    return "\n".join(f"{line} --format {fmt}" if line.startswith("ExecStart=") else line for line in UNIT.splitlines())


def _release(prefix: Path, name: str, version: str = "0.8.0", fmt: str = "onnx-int8") -> Path:
    """A release as install.sh leaves one (no venv: the stand-in service needs none)."""
    release = prefix / "releases" / name
    (release / "bundle").mkdir(parents=True)
    (release / "bundle" / "manifest.json").write_text(json.dumps({"model": name}))
    (release / "KIT.json").write_text(json.dumps({"extra": "onnx", "wheel": f"fashion_edge-{version}-py3-none-any.whl"}))
    (release / "fashion-edge.service").write_text(_unit(fmt))
    return release


def _link(prefix: Path, name: str, release: Path) -> None:
    (prefix / name).symlink_to(release)


@pytest.fixture
def prefix(tmp_path) -> Path:
    """Two releases, b current and a previous, both 0.8.0 serving onnx-int8."""
    prefix = tmp_path / "opt"
    a, b = _release(prefix, "0.8.0-a"), _release(prefix, "0.8.0-b")
    _link(prefix, "previous", a)
    _link(prefix, "current", b)
    return prefix


@pytest.fixture
def service(prefix):
    """start(mode) -> (pid, url) of a stand-in service watching `prefix`; stopped after the test."""
    procs = []

    def start(mode: str = "follow", python: str = sys.executable) -> tuple[int, str]:
        proc = subprocess.Popen([python, "-c", FAKE_SERVICE, str(prefix), mode], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc.pid, f"http://127.0.0.1:{proc.stdout.readline().strip()}"

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def healthz(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
        return json.load(answer)


def run(script: Path, *args: str, python: str = sys.executable, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FASHION_EDGE_PREFIX"}
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env={**env, "PYTHON": python})


def links(prefix: Path) -> tuple[str, str]:
    return os.readlink(prefix / "current"), os.readlink(prefix / "previous")


def served(prefix: Path, pid: int, url: str, health_timeout: str | None = None) -> tuple[str, ...]:
    """install.sh's options for the release tree at `prefix` and the running service `pid` answering at `url`."""
    timeout = ("--health-timeout", health_timeout) if health_timeout else ()
    return ("--prefix", str(prefix), "--service-pid", str(pid), "--url", url, *timeout)


def _kit(root: Path, manifest: str = '{"model": "new"}') -> Path:
    """An unpacked kit: installer, unit, KIT.json, an (empty) wheel, a bundle and SHA256SUMS."""
    kit = root / "fashion-edge-tiny-pi-onnx"
    (kit / "bundle").mkdir(parents=True)
    shutil.copy(INSTALL, kit / "install.sh")
    (kit / "fashion-edge.service").write_text(UNIT)
    (kit / "KIT.json").write_text(json.dumps({"model": "tiny", "extra": "onnx", "wheel": "fashion_edge-0.8.0-py3-none-any.whl",
                                              "format_for_extra": {"onnx": "onnx-int8"}}))
    (kit / "fashion_edge-0.8.0-py3-none-any.whl").write_bytes(b"")
    (kit / "bundle" / "manifest.json").write_text(manifest)
    files = sorted(p for p in kit.rglob("*") if p.is_file())
    (kit / "SHA256SUMS").write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(kit)}\n"
                                            for p in files))
    return kit


@pytest.fixture
def fake_python(tmp_path) -> str:
    path = tmp_path / "bin" / "python3"
    path.parent.mkdir()
    path.write_text(FAKE_PYTHON.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def test_install_sh_parses_and_passes_shellcheck():
    assert subprocess.run(["bash", "-n", str(INSTALL)]).returncode == 0
    if shutil.which("shellcheck"):
        done = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_help_lists_rollback_service_pid_health_timeout_and_url():
    done = run(INSTALL, "--help")
    assert done.returncode == 0
    for option in ("--rollback", "--service-pid", "--health-timeout", "--url", "--enable-service", "--prefix"):
        assert option in done.stdout, option
    assert "default 120" in done.stdout


def test_a_tampered_kit_is_refused_and_nothing_is_created(tmp_path):
    kit = _kit(tmp_path)
    (kit / "bundle" / "manifest.json").write_text('{"model": "changed after packing"}')
    done = run(kit / "install.sh", "--prefix", str(tmp_path / "opt"))
    assert done.returncode == 1 and "does not match its SHA256SUMS" in done.stderr
    assert not (tmp_path / "opt").exists()


def test_rollback_without_a_previous_release_says_so(tmp_path):
    prefix = tmp_path / "opt"
    release = _release(prefix, "0.8.0-a")
    _link(prefix, "current", release)
    done = run(INSTALL, "--rollback", "--prefix", str(prefix))
    assert done.returncode == 1 and "nothing to roll back to" in done.stderr
    assert os.readlink(prefix / "current").endswith("0.8.0-a")


def test_rollback_succeeds_when_the_service_reloads_the_previous_bundle(prefix, service):
    pid, url = service("follow")
    a, b = links(prefix)[::-1]
    done = run(INSTALL, "--rollback", *served(prefix, pid, url, "10"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert links(prefix) == (a, b)
    assert healthz(url)["bundle"]["id"] == bundle_id(Path(a)) != bundle_id(Path(b))
    assert "sent SIGHUP" in done.stdout and "rolled back" in done.stdout


def test_rollback_switches_back_when_the_service_ignores_the_reload(prefix, service):
    pid, url = service("deaf")
    before = links(prefix)
    started = time.monotonic()
    done = run(INSTALL, "--rollback", *served(prefix, pid, url, "3"))
    assert done.returncode == 1 and "rollback failed" in done.stderr and "did not serve bundle" in done.stderr
    assert links(prefix) == before
    assert healthz(url)["bundle"]["id"] == bundle_id(prefix / "current")
    assert time.monotonic() - started < 20


def test_a_refused_reload_fails_at_once_with_the_services_reason(prefix, service):
    pid, url = service("refuse")
    before = links(prefix)
    started = time.monotonic()
    done = run(INSTALL, "--rollback", *served(prefix, pid, url, "60"))
    assert done.returncode == 1 and "golden self-check failed on int8.onnx" in done.stderr
    assert links(prefix) == before
    assert time.monotonic() - started < 30     # not the 60 s timeout, twice


def test_service_pid_refuses_a_switch_that_needs_a_restart(prefix, service, tmp_path):
    pid, url = service("follow")
    (prefix / "previous").unlink()
    _link(prefix, "previous", _release(prefix, "0.7.0-c", version="0.7.0"))
    before = links(prefix)
    done = run(INSTALL, "--rollback", *served(prefix, pid, url))
    assert done.returncode == 1 and "fashion-edge 0.8.0 -> 0.7.0" in done.stderr and "restart" in done.stderr
    assert links(prefix) == before and healthz(url)["reload"]["done"] == 0    # never signalled


@pytest.mark.skipif(Path("/etc/systemd/system/fashion-edge.service").exists(),
                    reason="a real fashion-edge.service is installed here: install.sh would reload it")
def test_rollback_without_a_service_only_switches_the_links(prefix):
    a, b = links(prefix)[::-1]
    done = run(INSTALL, "--rollback", "--prefix", str(prefix))
    assert done.returncode == 0 and "none was reloaded" in done.stdout
    assert links(prefix) == (a, b)


def test_upgrade_keeps_two_releases_once_the_service_serves_the_new_bundle(prefix, service, tmp_path, fake_python):
    pid, url = service("follow")
    a, b = links(prefix)[::-1]
    done = run(_kit(tmp_path) / "install.sh", *served(prefix, pid, url, "10"), python=fake_python)
    assert done.returncode == 0, done.stdout + done.stderr
    current, previous = links(prefix)
    assert previous == b and current not in (a, b) and not Path(a).exists()
    assert healthz(url)["bundle"]["id"] == bundle_id(Path(current))
    assert (Path(current) / "fashion-edge.service").read_text() == _unit("onnx-int8") + "\n"


def test_a_failed_upgrade_switches_back_and_removes_the_new_release(prefix, service, tmp_path, fake_python):
    pid, url = service("deaf")
    before = links(prefix)
    done = run(_kit(tmp_path) / "install.sh", *served(prefix, pid, url, "3"), python=fake_python)
    assert done.returncode == 1 and "not installed" in done.stderr and "switched back" in done.stdout
    assert links(prefix) == before
    assert sorted(p.name for p in (prefix / "releases").iterdir()) == ["0.8.0-a", "0.8.0-b"]


def test_the_release_the_running_service_executes_is_never_removed(prefix, service, tmp_path, fake_python):
    """After reloads, the process may still run the code of a release that is neither current nor previous
    (pip pins its scripts to that venv): an upgrade keeps it, and compares versions with it."""
    running = _release(prefix, "0.8.0-0")
    (running / "venv" / "bin").mkdir(parents=True)
    (running / "venv" / "bin" / "python").symlink_to(sys.executable)
    pid, url = service("follow", python=str(running / "venv" / "bin" / "python"))
    a = Path(os.readlink(prefix / "previous"))
    done = run(_kit(tmp_path) / "install.sh", *served(prefix, pid, url, "10"), python=fake_python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert running.is_dir() and "kept 0.8.0-0: the running service executes its code" in done.stdout
    assert not a.exists()


def test_a_release_of_another_version_running_means_a_restart(prefix, service, tmp_path, fake_python):
    running = _release(prefix, "0.7.0-0", version="0.7.0")
    (running / "venv" / "bin").mkdir(parents=True)
    (running / "venv" / "bin" / "python").symlink_to(sys.executable)
    pid, url = service("follow", python=str(running / "venv" / "bin" / "python"))
    before = links(prefix)
    done = run(_kit(tmp_path) / "install.sh", *served(prefix, pid, url, "10"), python=fake_python)
    assert done.returncode == 1 and "fashion-edge 0.7.0 -> 0.8.0" in done.stderr, done.stdout + done.stderr
    assert links(prefix) == before and healthz(url)["reload"]["done"] == 0


@pytest.mark.parametrize("previous_format, told", [("onnx-int8", ["reload"]),
                                                   ("tflite-int8", ["daemon-reload", "restart"])])
def test_with_systemd_a_format_change_restarts_and_the_same_format_reloads(prefix, service, tmp_path,
                                                                           previous_format, told):
    """systemd stood in for: install.sh's paths moved into tmp_path, a systemctl that logs and signals."""
    pid, url = service("follow")
    a = Path(os.readlink(prefix / "previous"))
    (a / "fashion-edge.service").write_text(_unit(previous_format))
    (tmp_path / "run-systemd").mkdir()
    unit = tmp_path / "fashion-edge.service"
    unit.write_text((prefix / "current" / "fashion-edge.service").read_text().replace("/opt/fashion-edge", str(prefix)))
    script = tmp_path / "install.sh"
    script.write_text(INSTALL.read_text().replace("/run/systemd/system", str(tmp_path / "run-systemd"))
                      .replace("UNIT=/etc/systemd/system/fashion-edge.service", f"UNIT={unit}"))
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "systemctl").write_text(f'#!/bin/sh\necho "$1" >> {tmp_path}/told\n'
                                                f'case "$1" in reload|restart) kill -HUP {pid} ;; esac\n')
    (tmp_path / "bin" / "systemctl").chmod(0o755)
    done = subprocess.run(["bash", str(script), "--rollback", "--prefix", str(prefix), "--url", url, "--health-timeout", "10"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "PYTHON": sys.executable})
    assert done.returncode == 0, done.stdout + done.stderr
    actions = [a for a in (tmp_path / "told").read_text().split() if a in ("reload", "restart", "daemon-reload")]
    assert actions == told
    assert f"--format {previous_format}" in unit.read_text()
    assert healthz(url)["bundle"]["id"] == bundle_id(a)
