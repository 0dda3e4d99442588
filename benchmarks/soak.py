"""Soak: tens of thousands of requests, one in ten malformed, every answer checked, memory watched.

Good requests are real JPEGs whose label the in-process Classifier gave; each answer must carry
that label. Malformed ones (truncated, random, empty, blank, a PNG claiming 10^10 pixels, bad
`top`, multipart without `file`, wrong method, unknown path) must get a 4xx. Nothing may get a 5xx
or a dropped connection. The server's RSS is read from /proc after a warm-up and at the end:
growth beyond a few MB over the run would mean a leak per request.
"""
from __future__ import annotations

import http.client
import io
import json
import struct
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

WARMUP_SHARE = 0.1   # RSS baseline after this share of the requests


@dataclass(frozen=True)
class Case:
    kind: str
    method: str
    path: str
    body: bytes | None
    headers: dict
    expect_label: int | None     # good requests
    expect_4xx: bool


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def malformed_cases(photo: bytes) -> list[Case]:
    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    boundary = "soakboundary"
    no_file = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n\r\n").encode() \
        + photo + f"\r\n--{boundary}--\r\n".encode()
    jpeg = {"Content-Type": "image/jpeg"}
    rng = np.random.default_rng(0)
    return [
        Case("truncated-jpeg", "POST", "/v1/classify", photo[: len(photo) // 2], jpeg, None, True),
        Case("random-bytes", "POST", "/v1/classify", rng.bytes(4096), jpeg, None, True),
        Case("empty", "POST", "/v1/classify", b"", jpeg, None, True),
        Case("blank-image", "POST", "/v1/classify", blank.getvalue(), {"Content-Type": "image/png"}, None, True),
        Case("png-bomb-header", "POST", "/v1/classify", _png_claiming(100000, 100000), jpeg, None, True),
        Case("top-0", "POST", "/v1/classify?top=0", photo, jpeg, None, True),
        Case("multipart-no-file", "POST", "/v1/classify", no_file,
             {"Content-Type": f"multipart/form-data; boundary={boundary}"}, None, True),
        Case("wrong-method", "GET", "/v1/classify", None, {}, None, True),
        Case("unknown-path", "POST", "/v1/classiffy", photo, jpeg, None, True),
        Case("text", "POST", "/v1/classify", b"not an image", {"Content-Type": "text/plain"}, None, True),
    ]


def plan(good: list[tuple[bytes, int]], photo: bytes, total: int) -> list[Case]:
    """`total` requests: every tenth malformed (cycling through the kinds), the rest good ones in turn."""
    bad = malformed_cases(photo)
    cases = []
    for i in range(total):
        if i % 10 == 9:
            cases.append(bad[(i // 10) % len(bad)])
        else:
            data, label = good[i % len(good)]
            cases.append(Case("good", "POST", "/v1/classify", data, {"Content-Type": "image/jpeg"}, label, False))
    return cases


def run_soak(port: int, cases: list[Case], rss_mb: Callable[[], float], clients: int = 4,
             max_seconds: float = 900) -> dict:
    """Send `cases` from `clients` keep-alive connections; check each answer; RSS after warm-up and at the end."""
    lock = threading.Lock()
    next_index = 0
    statuses: Counter = Counter()
    wrong_labels, good_ok, bad_4xx, errors, done = 0, 0, 0, 0, 0
    warm_at = int(len(cases) * WARMUP_SHARE)
    rss: dict[str, float] = {}
    deadline = time.monotonic() + max_seconds

    def client() -> None:
        nonlocal next_index, wrong_labels, good_ok, bad_4xx, errors, done
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                if next_index >= len(cases):
                    break
                case = cases[next_index]
                next_index += 1
            try:
                conn.request(case.method, case.path, body=case.body, headers=case.headers)
                resp = conn.getresponse()
                payload = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    errors += 1
                    done += 1
                continue
            with lock:
                statuses[status] += 1
                if case.expect_label is not None:
                    if status == 200 and json.loads(payload)["label_id"] == case.expect_label:
                        good_ok += 1
                    else:
                        wrong_labels += 1
                elif 400 <= status < 500:
                    bad_4xx += 1
                done += 1
                if done == warm_at:
                    rss["after_warmup"] = rss_mb()
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    end_rss = rss_mb()
    good = sum(1 for c in cases[:done] if c.expect_label is not None)
    malformed = done - good
    start_rss = rss.get("after_warmup", end_rss)
    return {"requests": done, "planned": len(cases), "clients": clients, "seconds": round(seconds, 1),
            "good": good, "good_correct": good_ok, "good_wrong_or_failed": wrong_labels,
            "malformed": malformed, "malformed_4xx": bad_4xx, "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
            "connection_errors": errors, "status_counts": {str(k): v for k, v in sorted(statuses.items())},
            "rss_mb_after_warmup": round(start_rss, 2), "rss_mb_end": round(end_rss, 2),
            "rss_growth_mb": round(end_rss - start_rss, 2), "warmup_requests": warm_at}
