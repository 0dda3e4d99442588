"""Fixtures for the service tests (helpers in serving.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from serving import Server, jpeg


@pytest.fixture(scope="session")
def bundle_dir(edge_bundle) -> Path:
    return Path(edge_bundle.bundle)


@pytest.fixture
def start_server(bundle_dir):
    """start_server(*flags) -> Server (--bundle is the session's edge bundle unless given); stopped after the test."""
    started: list[Server] = []

    def start(*flags: str, bundle: Path | None = None) -> Server:
        server = Server(["--bundle", str(bundle or bundle_dir), *flags])
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def photos(data) -> list[tuple[bytes, int]]:
    """Twelve real test images as JPEG bytes, with their true labels."""
    return [(jpeg(data.x_test[i]), int(data.y_test[i])) for i in range(12)]
