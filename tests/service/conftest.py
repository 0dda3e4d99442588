"""Fixtures for the service tests (helpers in serving.py).

`start_server` and the modules' `server` fixtures come in two kinds: in-process (the fast tier) and
a real `fashion-edge serve` process on a port (slow). A test that needs a socket of its own (raw
HTTP, signals, a full queue) asks for `process_server` instead.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from serving import InProcess, Server, jpeg

pytest.importorskip("fastapi")
KINDS = [pytest.param(InProcess, id="in-process"), pytest.param(Server, id="process", marks=pytest.mark.slow)]


@pytest.fixture(scope="session")
def bundle_dir(tiny_bundle) -> Path:
    return tiny_bundle


def _starter(kind, bundle_dir):
    started: list = []

    def start(*flags: str, bundle: Path | None = None):
        server = kind(["--bundle", str(bundle or bundle_dir), *flags])
        started.append(server)
        return server

    return start, started


@pytest.fixture(params=KINDS)
def start_server(request, bundle_dir):
    """start_server(*flags) -> a server (--bundle is the tiny bundle unless given); stopped after the test."""
    start, started = _starter(request.param, bundle_dir)
    yield start
    for server in started:
        server.stop()


@pytest.fixture
def process_server(bundle_dir):
    """As start_server, always a real process on a port."""
    start, started = _starter(Server, bundle_dir)
    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def photos(data) -> list[tuple[bytes, int]]:
    """Twelve real test images as JPEG bytes, with their true labels."""
    return [(jpeg(data.x_test[i]), int(data.y_test[i])) for i in range(12)]
