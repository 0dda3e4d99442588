"""Hot reload: POST /v1/admin/reload and SIGHUP swap bundles between requests, or refuse one and serve on.

The service's --bundle is a symlink, as the deploy kit's `current` is; a test switches it and asks
for a reload. Answers are compared with an in-process Classifier of the bundle that must have given
them: same file, same backend, one thread, so the probabilities are equal, not close.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import signal
import threading
import time
import weakref
from pathlib import Path

import pytest

from bundle_edits import disagreeing_copy
from serving import InProcess, Server

from fashion_edge.runtime.classifier import Classifier

pytest.importorskip("ai_edge_litert")
TINY = Path(__file__).resolve().parents[1] / "data"
KEY = "reload-test-key-0123456789"


def ident(bundle: Path) -> str:
    return hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()[:12]


def point(link: Path, target: Path) -> None:
    """Switch `link` to `target` atomically, as install.sh does (a new link renamed over the old)."""
    tmp = link.with_name(link.name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


@pytest.fixture
def bundles(tmp_path) -> dict[str, Path]:
    """Copies of two committed tiny bundles of different contracts and labels, and `current` pointing at the first."""
    found = {name: Path(shutil.copytree(TINY / name / "bundle", tmp_path / name)) for name in ("tiny-cnn", "tiny-shapes12")}
    point(tmp_path / "current", found["tiny-cnn"])
    return found


@pytest.fixture
def expected(bundles):
    """bundle name -> an in-process Classifier of it, as the service's workers run it."""
    return {name: Classifier(path, format="tflite-int8", backend="litert", threads=1) for name, path in bundles.items()}


def started(kind, bundles: dict[str, Path], *flags: str, **kwargs):
    server = kind(["--bundle", str(bundles["tiny-cnn"].parent / "current"), "--workers", "2", *flags], **kwargs)
    server.wait_healthy()
    return server


def reload(server, headers: dict | None = None):
    return server.request("POST", "/v1/admin/reload", b"", headers)


def answered_by(reply, clf: Classifier, data: bytes, bundle: Path) -> bool:
    got = reply.json()
    want = clf.predict(data)
    return (got["bundle"]["id"] == ident(bundle) and got["label"] == want.label
            and got["probabilities"] == list(want.probabilities))


@pytest.fixture
def server(bundles):
    s = started(InProcess, bundles)
    yield s
    s.stop()


def test_a_reload_swaps_in_a_bundle_of_another_contract_and_every_answer_names_its_bundle(server, bundles, expected,
                                                                                          photos):
    data = photos[0][0]
    before = server.classify(data)
    assert before.status == 200 and answered_by(before, expected["tiny-cnn"], data, bundles["tiny-cnn"])
    assert before.json()["bundle"]["version"] == "1"

    point(bundles["tiny-cnn"].parent / "current", bundles["tiny-shapes12"])
    reply = reload(server)
    assert reply.status == 200, reply.body
    outcome = reply.json()
    assert outcome["result"] == "ok"
    assert outcome["serving"]["id"] == ident(bundles["tiny-shapes12"]) and outcome["previous"]["id"] == ident(bundles["tiny-cnn"])
    assert outcome["changed"] == ["input", "labels", "output"]   # 12 classes, not 10

    for data, _ in photos[:6]:   # preprocessed for the new contract (32x48 RGB), answered with its 12 labels
        after = server.classify(data)
        assert after.status == 200 and answered_by(after, expected["tiny-shapes12"], data, bundles["tiny-shapes12"])
        assert len(after.json()["probabilities"]) == 12
    assert server.classify(photos[0][0], "?top=12").status == 200     # `top` is checked against the new classes

    info = server.request("GET", "/v1/info").json()
    assert info["bundle"]["id"] == ident(bundles["tiny-shapes12"]) and len(info["labels"]) == 12
    assert info["input"]["height"] == 32 and info["input"]["width"] == 48
    assert info["reload"]["last"] == "ok" and info["reload"]["changed"] == ["input", "labels", "output"]
    health = server.request("GET", "/healthz").json()
    assert health == {"status": "ok", "bundle": {"id": ident(bundles["tiny-shapes12"]), "version": "1"},
                      "reload": {"done": 1, "last": "ok", "running": False}}
    served = server.request("GET", "/bundle/manifest.json")
    assert served.body == (bundles["tiny-shapes12"] / "manifest.json").read_bytes()
    schema = server.request("GET", "/openapi.json").json()
    top = schema["paths"]["/v1/classify"]["post"]["parameters"][0]["schema"]
    assert top["maximum"] == 12
    metrics = server.request("GET", "/metrics").body.decode()
    assert 'fashion_edge_reloads_total{result="ok"} 1.0' in metrics
    assert f'bundle_id="{ident(bundles["tiny-shapes12"])}"' in metrics


def test_the_old_model_is_freed_once_replaced(server, bundles, photos):
    old = weakref.ref(server.pool.model)
    assert server.classify(photos[0][0]).status == 200
    point(bundles["tiny-cnn"].parent / "current", bundles["tiny-shapes12"])
    assert reload(server).status == 200
    assert server.classify(photos[1][0]).status == 200    # every worker has taken a job of the new model since
    assert server.classify(photos[2][0]).status == 200
    gc.collect()
    assert old() is None, gc.get_referrers(old())
    assert "freed: its last request has finished" in server.log


def test_a_model_that_answered_an_error_is_freed_without_the_garbage_collector(server, bundles, photos):
    """A 422 carries a traceback; nothing of it may keep the replaced model (and its interpreters) alive."""
    old = weakref.ref(server.pool.model)
    gc.collect()
    gc.disable()
    try:
        assert server.classify(b"not an image").status == 422
        assert server.classify(photos[0][0]).status == 200
        point(bundles["tiny-cnn"].parent / "current", bundles["tiny-shapes12"])
        assert reload(server).status == 200
        assert server.classify(photos[1][0]).status == 200
        assert server.classify(photos[2][0]).status == 200
        assert old() is None
    finally:
        gc.enable()


def future_schema(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def flip_byte(bundle: Path) -> None:
    model = bundle / "int8.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))


BAD = {   # name -> (how the bundle is spoiled, what the refusal must say)
    "vanished path": (lambda b: shutil.rmtree(b), "does not exist"),
    "missing file": (lambda b: (b / "labels.txt").unlink(), "labels.txt: cannot read"),
    "missing model": (lambda b: (b / "int8.tflite").unlink(), "int8.tflite: cannot read"),
    "future schema": (future_schema, "schema_version is 99; this runtime reads 2, 3 (a newer fashion-edge"),
    "corrupt manifest": (lambda b: (b / "manifest.json").write_bytes(b'{"schema_version": 3, "mod'), "not valid JSON"),
    "tampered model": (flip_byte, "sha256 differs"),
    "tampered and re-hashed": (lambda b: disagreeing_copy(b, b), "self-check FAILED"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_bundle_is_refused_with_its_reason_and_the_old_one_serves_on(server, bundles, photos, case, tmp_path):
    spoil, reason = BAD[case]
    bad = Path(shutil.copytree(bundles["tiny-shapes12"], tmp_path / "bad"))
    spoil(bad)
    point(bundles["tiny-cnn"].parent / "current", bad)
    reply = reload(server)
    assert reply.status == 422, reply.body
    body = reply.json()
    assert reason in body["error"] and body["result"] == "failed", body
    assert body["serving"]["id"] == ident(bundles["tiny-cnn"])
    for data, _ in photos[:4]:   # never a 5xx on classify: the old model answers
        got = server.classify(data)
        assert got.status == 200 and got.json()["bundle"]["id"] == ident(bundles["tiny-cnn"])
    health = server.request("GET", "/healthz")
    assert health.status == 200 and health.json()["reload"] == {"done": 1, "last": "failed", "running": False}
    info = server.request("GET", "/v1/info").json()
    assert reason in info["reload"]["error"] and info["bundle"]["id"] == ident(bundles["tiny-cnn"])
    assert 'fashion_edge_reloads_total{result="failed"} 1.0' in server.request("GET", "/metrics").body.decode()
    assert reason in server.log


def test_a_reload_during_a_reload_gets_409_while_the_old_model_answers(server, bundles, photos):
    release = threading.Event()
    load = server.pool.load

    def slow_load():
        assert release.wait(60)
        return load()

    server.pool.load = slow_load
    point(bundles["tiny-cnn"].parent / "current", bundles["tiny-shapes12"])
    first: list = []
    worker = threading.Thread(target=lambda: first.append(reload(server)))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not server.reloader.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.reloader.running
        second = reload(server)
        assert second.status == 409 and second.json()["type"] == "ReloadInProgress", second.body
        assert server.request("GET", "/healthz").json()["reload"]["running"] is True
        during = server.classify(photos[0][0])      # the old model serves while the new one loads
        assert during.status == 200 and during.json()["bundle"]["id"] == ident(bundles["tiny-cnn"])
    finally:
        release.set()
        worker.join(60)
    assert first[0].status == 200, first[0].body
    assert server.classify(photos[0][0]).json()["bundle"]["id"] == ident(bundles["tiny-shapes12"])
    metrics = server.request("GET", "/metrics").body.decode()
    assert 'fashion_edge_reloads_total{result="busy"} 1.0' in metrics and 'result="ok"} 1.0' in metrics


def test_reload_needs_the_key_when_one_is_configured(bundles, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    server = started(InProcess, bundles, "--api-key-file", str(key_file))
    try:
        missing = reload(server)
        assert missing.status == 401 and missing.json()["type"] == "Unauthorized"
        assert reload(server, {"Authorization": "Bearer wrong-key-0123456789"}).status == 401
        assert reload(server, {"Authorization": f"Bearer {KEY}"}).status == 200
    finally:
        server.stop()


def test_reload_without_a_key_is_refused_from_beyond_loopback(bundles):
    server = started(InProcess, bundles, client=("192.0.2.7", 40000))
    try:
        reply = reload(server)
        assert reply.status == 403 and "--api-key-file" in reply.json()["error"]
        assert server.request("GET", "/healthz").json()["reload"]["done"] == 0    # nothing was tried
    finally:
        server.stop()


def test_reload_without_a_key_is_refused_through_a_proxy_on_this_machine(server):
    """A reverse proxy on the Pi connects from loopback: what it forwards must not count as local."""
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"}):
        reply = reload(server, header)
        assert reply.status == 403 and "proxy" in reply.json()["error"], header


def test_a_service_whose_first_bundle_failed_becomes_healthy_after_a_good_reload(bundles, tmp_path):
    bad = disagreeing_copy(bundles["tiny-cnn"], tmp_path / "bad")
    point(bundles["tiny-cnn"].parent / "current", bad)
    server = InProcess(["--bundle", str(bundles["tiny-cnn"].parent / "current")])
    try:
        server.loading.join(60)
        assert server.request("GET", "/healthz").status == 503
        point(bundles["tiny-cnn"].parent / "current", bundles["tiny-shapes12"])
        assert reload(server).status == 200
        assert server.request("GET", "/healthz").json()["status"] == "ok"
    finally:
        server.stop()


@pytest.mark.slow
def test_sighup_reloads_a_running_service_while_clients_keep_asking(bundles, expected, photos):
    """A real process: SIGHUP swaps bundles back and forth under steady requests; no request fails, and each
    answer is exactly what the bundle it names computes for that photo."""
    server = started(Server, bundles)
    link = bundles["tiny-cnn"].parent / "current"
    stop = threading.Event()
    replies: list = []

    def client(offset: int) -> None:
        i = offset
        while not stop.is_set():
            data = photos[i % len(photos)][0]
            replies.append((data, server.classify(data)))
            i += 1

    clients = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for c in clients:
        c.start()
    try:
        for n, name in enumerate(["tiny-shapes12", "tiny-cnn", "tiny-shapes12", "tiny-cnn"], start=1):
            point(link, bundles[name])
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                health = server.request("GET", "/healthz").json()
                if health["reload"]["done"] == n and not health["reload"]["running"]:
                    break
                time.sleep(0.05)
            assert health["reload"] == {"done": n, "last": "ok", "running": False}, server.log
            assert health["bundle"]["id"] == ident(bundles[name])
    finally:
        stop.set()
        for c in clients:
            c.join(60)
    by_id = {ident(path): name for name, path in bundles.items()}
    assert len(replies) > 20
    assert all(reply.status == 200 for _, reply in replies), [r.body for _, r in replies if r.status != 200][:3]
    assert {reply.json()["bundle"]["id"] for _, reply in replies} == set(by_id)
    for data, reply in replies:
        name = by_id[reply.json()["bundle"]["id"]]
        assert answered_by(reply, expected[name], data, bundles[name])
    assert server.log.count("reload (SIGHUP) ok") == 4
    assert server.stop() == 0, server.log
