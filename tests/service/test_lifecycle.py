"""Start-up and shutdown: one-line refusals, the self-check gate, and SIGTERM draining in-flight requests."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from bundle_edits import disagreeing_copy


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_then_exits_0(process_server, photos):
    s = process_server()
    s.wait_healthy()
    photo = photos[3][0]
    half = len(photo) // 2
    with socket.create_connection(("127.0.0.1", s.port), timeout=30) as sock:
        # A request in flight: headers and half of the body are in, the rest comes after SIGTERM.
        sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                     + f"Content-Length: {len(photo)}\r\n\r\n".encode() + photo[:half])
        time.sleep(0.3)
        s.proc.send_signal(15)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:   # shutting down: new connections are refused...
            try:
                socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
                time.sleep(0.05)
            except OSError:
                break
        else:
            pytest.fail("the server kept accepting connections after SIGTERM")
        assert s.proc.poll() is None        # ...but it waits for the request it holds
        sock.sendall(photo[half:])
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), reply[:300]
    assert "label" in json.loads(body)
    assert s.proc.wait(30) == 0, s.log
    assert "stopped" in s.log and "Traceback" not in s.log


def test_a_backend_that_disagrees_with_the_export_never_becomes_healthy(start_server, bundle_dir, tmp_path, photos):
    bad = disagreeing_copy(bundle_dir, tmp_path / "bad", formats=("tflite-int8",))
    s = start_server(bundle=bad)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = s.request("GET", "/healthz")
        assert health.status == 503, health.body    # never 200, not even for a moment
        if health.json()["status"] == "failed":
            break
        time.sleep(0.05)
    assert "self-check FAILED" in health.json()["error"]
    reply = s.classify(photos[0][0])
    assert reply.status == 503 and reply.json()["type"] == "NotReady"
    info = s.request("GET", "/v1/info").json()
    assert info["status"] == "failed" and "self-check FAILED" in info["failure"]
    assert "self-check FAILED" in s.log   # up, unhealthy, saying why
    assert not hasattr(s, "proc") or s.proc.poll() is None
    # Another format whose golden outputs are intact serves fine from the same folder.
    other = start_server("--format", "tflite-float32", bundle=bad)
    other.wait_healthy()


@pytest.mark.parametrize("flags, message", [
    (["--bundle", "/nonexistent"], "no manifest.json"),
    (["--format", "onnx-float32", "--backend", "litert"], "cannot run onnx-float32"),
    (["--workers", "0"], "--workers"),
    (["--api-key-file", "/nonexistent/key"], "--api-key-file"),
    (["--web-root", "/nonexistent"], "--web-root"),
])
def test_configuration_mistakes_are_one_line_and_nonzero_before_listening(flags, message, bundle_dir):
    args = ["--bundle", str(bundle_dir), *flags] if flags[0] != "--bundle" else flags
    done = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (1, 2), done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr and "listening" not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


@pytest.mark.slow
def test_a_port_in_use_is_a_clean_failure(process_server, bundle_dir):
    s = process_server()
    done = subprocess.run([sys.executable, "-m", "fashion_edge.cli", "serve", "--bundle", str(bundle_dir),
                           "--port", str(s.port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
