"""Bad and hostile requests: each gets its 4xx with `{error, type}`, never a 5xx, and the server stays healthy."""
from __future__ import annotations

import io
import os
import socket
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import KINDS
from serving import Server

LIMIT_MB = 0.05                       # 52,428 bytes: small enough to cross in one chunk
LIMIT = int(LIMIT_MB * 1024 * 1024)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A few bytes whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _multipart(field: str, data: bytes, boundary: str = "b0undary") -> tuple[bytes, dict]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"x.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _raw(server: Server, payload: bytes, read_timeout: float = 30) -> tuple[int, bytes]:
    """Send bytes as they are (no client-side path normalisation, partial bodies) and read the reply."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as sock:
        sock.sendall(payload)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _started(kind, bundle_dir):
    s = kind(["--bundle", str(bundle_dir), "--max-body-mb", str(LIMIT_MB), "--workers", "2"])
    s.wait_healthy()
    return s


@pytest.fixture(scope="module", params=KINDS)
def server(request, bundle_dir):
    s = _started(request.param, bundle_dir)
    yield s
    assert s.stop() == 0, s.log


@pytest.fixture(scope="module")
def raw_server(bundle_dir):
    """A real process: these tests send bytes no HTTP client would (unnormalised paths, lying headers)."""
    s = _started(Server, bundle_dir)
    yield s
    assert s.stop() == 0, s.log


def hostile_requests(photo: bytes) -> list[tuple[str, str, str, bytes | None, dict, int, str | None]]:
    """(name, method, path, body, headers, expected status, expected type)."""
    blank = _png(Image.new("RGB", (300, 300), "white"))
    no_file, no_file_headers = _multipart("image", photo)
    jpeg = {"Content-Type": "image/jpeg"}
    return [
        ("truncated JPEG", "POST", "/v1/classify", photo[: len(photo) // 2], jpeg, 422, "InvalidImageError"),
        ("JPEG header only", "POST", "/v1/classify", photo[:20], jpeg, 422, "InvalidImageError"),
        ("random bytes", "POST", "/v1/classify", np.random.default_rng(0).bytes(5000), jpeg, 422, "InvalidImageError"),
        ("text", "POST", "/v1/classify", b"hello, world", {"Content-Type": "text/plain"}, 422, "InvalidImageError"),
        ("empty body", "POST", "/v1/classify", b"", jpeg, 422, "InvalidImageError"),
        ("blank white image", "POST", "/v1/classify", blank, {"Content-Type": "image/png"}, 422, "InvalidImageError"),
        ("PNG claiming 100000x100000", "POST", "/v1/classify", _png_claiming(100000, 100000), jpeg, 422,
         "InvalidImageError"),
        ("PNG claiming 6000x5000 (30 MP, over the service's ceiling)", "POST", "/v1/classify",
         _png_claiming(6000, 5000), jpeg, 422, "InvalidImageError"),
        ("multipart without field file", "POST", "/v1/classify", no_file, no_file_headers, 422, "InvalidImageError"),
        ("multipart with a wrong boundary", "POST", "/v1/classify", no_file,
         {"Content-Type": "multipart/form-data; boundary=other"}, 400, "BadRequest"),
        ("top=abc", "POST", "/v1/classify?top=abc", photo, jpeg, 422, "ValidationError"),
        ("top=0", "POST", "/v1/classify?top=0", photo, jpeg, 422, "ValidationError"),
        ("top=-1", "POST", "/v1/classify?top=-1", photo, jpeg, 422, "ValidationError"),
        ("top=99", "POST", "/v1/classify?top=99", photo, jpeg, 422, "ValidationError"),
        ("top=1e9", "POST", "/v1/classify?top=1e9", photo, jpeg, 422, "ValidationError"),
        ("GET on classify", "GET", "/v1/classify", None, {}, 405, "MethodNotAllowed"),
        ("DELETE on classify", "DELETE", "/v1/classify", None, {}, 405, "MethodNotAllowed"),
        ("POST on healthz", "POST", "/healthz", b"x", {}, 405, "MethodNotAllowed"),
        ("PUT on a bundle file", "PUT", "/bundle/labels.txt", b"x", {}, 405, "MethodNotAllowed"),
        ("unknown path", "GET", "/v2/classify", None, {}, 404, "NotFound"),
        ("file the manifest does not list", "GET", "/bundle/model.keras", None, {}, 404, "NotFound"),
        ("bundle folder itself", "GET", "/bundle/", None, {}, 404, "NotFound"),
    ]


TRAVERSALS = [
    "/bundle/../manifest.json", "/bundle/%2e%2e/manifest.json", "/bundle/..%2fmanifest.json",
    "/bundle/%2e%2e%2fmanifest.json", "/bundle/..%5cmanifest.json", "/bundle/../../../../etc/passwd",
    "/bundle/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/bundle//etc/passwd", "/bundle/%2fetc%2fpasswd",
    "/bundle/./labels.txt", "/bundle/labels.txt/../../model.keras", "/bundle/labels.txt%00.json",
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
    "/bundle/%252e%252e/manifest.json",
]


def test_each_hostile_request_gets_its_4xx_and_never_a_5xx(server, photos):
    photo = photos[0][0]
    seen = []
    for name, method, path, body, headers, status, kind in hostile_requests(photo):
        reply = server.request(method, path, body, headers)
        seen.append((name, reply.status))
        assert reply.status == status, (name, reply.status, reply.body[:300])
        payload = reply.json()
        assert set(payload) >= {"error", "type"} and payload["error"], name
        if kind:
            assert payload["type"] == kind, (name, payload)
    print("\n".join(f"{status}  {name}" for name, status in seen))   # the list, for the report (-s)
    assert server.request("GET", "/healthz").status == 200
    assert server.classify(photo).status == 200


@pytest.mark.slow
def test_no_path_leaves_the_bundle_or_web_folders(raw_server):
    for path in TRAVERSALS:
        status, body = _raw(raw_server, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert status in (400, 404), (path, status, body[:200])
        assert b"root:" not in body and b"schema_version" not in body, path
    assert raw_server.request("GET", "/healthz").status == 200


@pytest.mark.slow
def test_body_over_the_limit_is_refused_before_it_is_sent(raw_server):
    # Headers announce 1 GB and no body byte follows: the answer must come anyway, at once.
    started = time.monotonic()
    status, body = _raw(raw_server, b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                b"Content-Length: 1000000000\r\n\r\n", read_timeout=20)
    assert status == 413 and b"PayloadTooLarge" in body
    assert time.monotonic() - started < 20     # the read timeout: it did not wait for the body


@pytest.mark.slow
def test_chunked_body_over_the_limit_is_refused_while_counting(raw_server):
    chunk = b"\xff" * (LIMIT + 4096)
    status, body = _raw(raw_server, b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    assert status == 413 and b"PayloadTooLarge" in body
    assert raw_server.request("GET", "/healthz").status == 200


@pytest.mark.slow
def test_malformed_http_is_a_4xx(raw_server):
    for payload in (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                    b"GARBAGE\r\n\r\n"):
        status, _ = _raw(raw_server, payload)
        assert 400 <= status < 500, payload
    assert raw_server.request("GET", "/healthz").status == 200


def test_api_key_guards_every_route_but_healthz(start_server, tmp_path, photos):
    key = "k3y-" + os.urandom(16).hex()
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    s = start_server("--api-key-file", str(key_file))
    s.wait_healthy()   # /healthz needs no key
    good = {"Authorization": f"Bearer {key}"}
    for method, path, body in (("GET", "/v1/info", None), ("POST", "/v1/classify", photos[0][0]), ("GET", "/metrics", None),
                               ("GET", "/openapi.json", None), ("GET", "/bundle/manifest.json", None), ("GET", "/", None),
                               ("GET", "/no-such-route", None)):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"},
                        {"Authorization": f"Bearer {key}x"}, {"Authorization": key}):
            reply = s.request(method, path, body, headers)
            assert reply.status == 401, (path, headers, reply.status)
            assert reply.json()["type"] == "Unauthorized" and reply.headers["www-authenticate"] == "Bearer"
    assert s.request("GET", "/v1/info", headers=good).status == 200
    assert s.request("GET", "/v1/info", headers={"Authorization": f"bearer {key}"}).status == 200
    assert s.classify(photos[0][0], headers=good).status == 200
    if isinstance(s, Server):   # the key is checked before the body is read: a huge upload is refused at once
        status, _ = _raw(s, b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        assert status == 401


def _heavy_jpeg() -> bytes:
    """A 3000x2000 photo-sized JPEG: tens of milliseconds of decoding and preprocessing."""
    rng = np.random.default_rng(1)
    small = Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).resize((3000, 2000), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return out.getvalue()


def _in_flight(server: Server) -> float:
    for line in server.request("GET", "/metrics").body.decode().splitlines():
        if line.startswith("fashion_edge_in_flight "):
            return float(line.split()[1])
    return 0.0


@pytest.mark.slow
def test_full_queue_gets_503_with_retry_after_and_recovers(process_server, photos):
    s = process_server("--workers", "1", "--queue", "0")
    s.wait_healthy()
    heavy, small = _heavy_jpeg(), photos[0][0]
    refused, heavy_replies = None, []
    for _attempt in range(30):   # capacity 1: a request while the heavy one runs must be refused
        worker = threading.Thread(target=lambda: heavy_replies.append(s.classify(heavy)))
        worker.start()
        while worker.is_alive() and _in_flight(s) < 1:
            time.sleep(0.001)
        reply = s.classify(small)
        worker.join()
        if reply.status == 503:
            refused = reply
            break
        assert reply.status == 200   # the heavy one had already finished: try again
    assert refused is not None, "never saw the queue full"
    assert refused.headers["retry-after"] == "1" and refused.json()["type"] == "QueueFull"
    assert all(r.status in (200, 422) for r in heavy_replies)   # a noise photo may hold no garment
    assert s.request("GET", "/healthz").status == 200 and s.classify(small).status == 200
