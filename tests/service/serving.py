"""Test helpers: the service two ways, with one interface (request, classify, wait_healthy, stop, log).

`Server` is a real `fashion-edge serve` process on 127.0.0.1, started as a user or systemd starts it
(slow tier). `InProcess` is the same application built by `server.build` from the same flags and
called through Starlette's TestClient: no port, no process, the fast tier's service.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.recipes import FASHION_MNIST

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class Server:
    """A serve subprocess: stderr collected in the background, plain http.client requests."""

    def __init__(self, args: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "fashion_edge.cli", "serve", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._port = threading.Event()
        self.port = 0
        threading.Thread(target=self._read, daemon=True).start()
        if not self._port.wait(120) or not self.port:
            self.proc.kill()
            raise AssertionError("serve did not start:\n" + self.log)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match and not self.port:
                self.port = int(match.group(1))
                self._port.set()
        self._port.set()   # exited before listening

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def classify(self, data: bytes, query: str = "", headers: dict | None = None) -> Reply:
        return self.request("POST", "/v1/classify" + query, data, {"Content-Type": "image/jpeg", **(headers or {})})

    def wait_healthy(self, timeout: float = 120) -> list[int]:
        """Poll /healthz until 200; returns every status seen on the way."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen.append(self.request("GET", "/healthz").status)
            if seen[-1] == 200:
                return seen
            time.sleep(0.05)
        raise AssertionError(f"not healthy after {timeout} s: {seen[-5:]}\n{self.log}")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


class InProcess:
    """`fashion-edge serve FLAGS` built in this process: the ASGI stack `serve` runs, minus uvicorn."""

    def __init__(self, args: list[str], client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        """`client`: the address requests come from (loopback unless a test says otherwise)."""
        from starlette.testclient import TestClient

        from fashion_edge.cli.main import build_parser
        from fashion_edge.runtime.service.config import ServeConfig
        from fashion_edge.runtime.service.server import build

        self.lines: list[str] = []
        self._handler = _ListHandler(self.lines)
        logging.getLogger("fashion_edge").addHandler(self._handler)
        logging.getLogger("fashion_edge").setLevel(logging.INFO)
        service = build(ServeConfig.from_args(build_parser().parse_args(["serve", *args])))
        self.pool, self.reloader = service.pool, service.reloader
        self.client = TestClient(service.asgi, base_url="http://127.0.0.1", raise_server_exceptions=False,
                                 client=client)
        self.loading = self.pool.start()      # as serve does once it listens: /healthz is 503 until done

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60) -> Reply:
        resp = self.client.request(method, path, content=body, headers=headers or {})
        return Reply(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)

    classify = Server.classify
    wait_healthy = Server.wait_healthy

    def stop(self, timeout: float = 60) -> int:
        self.loading.join(timeout)
        self.pool.close()
        self.client.close()
        logging.getLogger("fashion_edge").removeHandler(self._handler)
        return 0


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record) -> None:
        self.lines.append(self.format(record) + "\n")


def jpeg(pixels: np.ndarray, size: int = 320) -> bytes:
    """A Fashion-MNIST test image as a shop-style JPEG (the benchmarks' photo, so tests and studies send the same kind)."""
    return photo_for(pixels[..., None], FASHION_MNIST, size, size, noise=0)
