"""`fashion-edge serve` as clients use it: health, info, classify, metrics, OpenAPI, bundle files, web app."""
from __future__ import annotations

import hashlib

import json
import uuid

import pytest

from fashion_edge.runtime import Classifier

from conftest import KINDS


@pytest.fixture(scope="module", params=KINDS)
def server(request, bundle_dir):
    s = request.param(["--bundle", str(bundle_dir), "--workers", "2"])
    statuses = s.wait_healthy()
    s.statuses_before_healthy = statuses
    yield s
    assert s.stop() == 0, s.log


def test_health_is_503_until_loaded_then_200_for_good(server, bundle_dir):
    seen = server.statuses_before_healthy
    assert set(seen[:-1]) <= {503} and seen[-1] == 200, seen   # never 200 before the self-check ran
    assert "self-check passed" in server.log
    manifest = (bundle_dir / "manifest.json").read_bytes()
    assert server.request("GET", "/healthz").json() == {
        "status": "ok", "bundle": {"id": hashlib.sha256(manifest).hexdigest()[:12], "version": "1"},
        "reload": {"done": 0, "last": None, "running": False}}


def test_classify_matches_the_in_process_classifier(server, bundle_dir, photos):
    clf = Classifier(bundle_dir)
    for data, _label in photos:
        expected = clf.predict(data)
        reply = server.classify(data)
        assert reply.status == 200, reply.body
        got = reply.json()
        assert got["label_id"] == expected.label_id and got["label"] == expected.label
        # the worker runs Classifier's own batch-of-one path, and JSON carries floats exactly: equal
        assert got["confidence"] == expected.confidence
        assert got["probabilities"] == list(expected.probabilities)
        assert set(got["timing_ms"]) == {"preprocess", "inference", "total"}
        assert all(v >= 0 for v in got["timing_ms"].values())
    accuracy = sum(server.classify(d).json()["label_id"] == y for d, y in photos) / len(photos)
    assert accuracy >= 0.5   # real photos-as-JPEG of test images: far above chance (0.1)


def test_top_k_lists_the_k_best_classes_in_order(server, photos):
    got = server.classify(photos[0][0], "?top=10").json()
    confidences = [t["confidence"] for t in got["top"]]
    assert len(got["top"]) == 10 and confidences == sorted(confidences, reverse=True)
    assert sorted(confidences) == sorted(got["probabilities"])
    labels = server.request("GET", "/v1/info").json()["labels"]
    assert [t["label"] for t in got["top"]] == [labels[t["label_id"]] for t in got["top"]]
    assert server.classify(photos[0][0], "?top=2&top=4").json()["top"] == got["top"][:4]   # the last one counts
    assert got["top"][0]["label_id"] == got["label_id"]
    assert len(server.classify(photos[0][0]).json()["top"]) == 3   # the default
    assert len(server.classify(photos[0][0], "?top=1").json()["top"]) == 1


def test_multipart_field_file_is_accepted(server, photos):
    data = photos[1][0]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    reply = server.request("POST", "/v1/classify", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert reply.status == 200, reply.body
    assert reply.json()["label_id"] == server.classify(data).json()["label_id"]


def test_curl_style_form_urlencoded_body_is_taken_as_raw_bytes(server, photos):
    # `curl --data-binary @photo.jpg` labels the body application/x-www-form-urlencoded
    reply = server.request("POST", "/v1/classify", photos[2][0], {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200, reply.body


def test_info_names_model_format_backend_labels_versions_and_self_check(server, bundle_dir):
    info = server.request("GET", "/v1/info").json()
    assert info["model"] == json.loads((bundle_dir / "manifest.json").read_text())["model"] and info["format"] == "tflite-int8" and info["backend"] == "litert"
    assert len(info["labels"]) == 10 and info["preprocessing"] == "fashion-mnist-v1"
    assert info["self_check"]["passed"] is True and info["self_check"]["images"] > 0
    assert {"python", "numpy", "fastapi", "uvicorn", "litert"} <= set(info["versions"])
    assert info["workers"] == 2


def test_metrics_are_prometheus_text_with_requests_latency_queue_and_model(server, photos, bundle_dir):
    server.classify(photos[0][0])
    server.request("GET", "/no-such-page")
    reply = server.request("GET", "/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.body.decode()
    assert 'fashion_edge_requests_total{method="POST",route="/v1/classify",status="200"}' in text
    assert 'route="unmatched",status="404"' in text     # raw paths never become labels
    for name in ("fashion_edge_preprocess_seconds_bucket", "fashion_edge_inference_seconds_bucket",
                 "fashion_edge_classify_seconds_bucket", "fashion_edge_queue_depth", "fashion_edge_in_flight"):
        assert name in text, name
    manifest = (bundle_dir / "manifest.json").read_bytes()
    model, ident = json.loads(manifest)["model"], hashlib.sha256(manifest).hexdigest()[:12]
    assert (f'fashion_edge_model_info{{backend="litert",bundle_id="{ident}",bundle_version="1",format="tflite-int8",'
            f'model="{model}"') in text
    for result in ("ok", "failed", "busy"):    # every series from the start, at zero
        assert f'fashion_edge_reloads_total{{result="{result}"}} 0.0' in text
    assert "fashion_edge_ready 1.0" in text


def test_openapi_schema_is_served_and_docs_pages_are_off(server):
    schema = server.request("GET", "/openapi.json").json()
    assert {"/healthz", "/v1/info", "/v1/classify", "/metrics"} <= set(schema["paths"])
    body = schema["paths"]["/v1/classify"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "application/octet-stream" in body
    for page in ("/docs", "/redoc"):   # they would load Swagger UI / ReDoc from a CDN
        assert server.request("GET", page).status == 404


def test_bundle_serves_the_manifest_and_the_files_it_lists(server, bundle_dir):
    manifest = server.request("GET", "/bundle/manifest.json")
    assert manifest.status == 200 and manifest.body == (bundle_dir / "manifest.json").read_bytes()
    listed = json.loads(manifest.body)
    names = [e["file"] for e in listed["formats"].values()] + [a["file"] for a in listed["assets"]]
    for name in names:
        reply = server.request("GET", f"/bundle/{name}")
        assert reply.status == 200 and reply.body == (bundle_dir / name).read_bytes(), name
    etag = server.request("GET", "/bundle/int8.tflite").headers["etag"]
    assert server.request("GET", "/bundle/int8.tflite", headers={"If-None-Match": etag}).status == 304


def test_web_app_is_served_from_web_root_and_missing_one_is_a_404(start_server, tmp_path):
    web = tmp_path / "web"
    (web / "vendor").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>fashion-edge</title>")
    (web / "app.js").write_text("fetch('./bundle/manifest.json')")
    (web / "vendor" / "ort.wasm").write_bytes(b"\0asm\1\0\0\0")
    (web / "__init__.py").write_text("# not served")
    (web / ".secret").write_text("not served")
    s = start_server("--web-root", str(web))
    s.wait_healthy()
    page = s.request("GET", "/")
    assert page.status == 200 and b"fashion-edge" in page.body and page.headers["content-type"].startswith("text/html")
    assert s.request("GET", "/app.js").status == 200
    wasm = s.request("GET", "/vendor/ort.wasm")
    assert wasm.status == 200 and wasm.headers["content-type"] == "application/wasm"
    for hidden in ("/__init__.py", "/.secret", "/vendor/../.secret", "/%2e%2e/" + web.name + "/index.html"):
        assert s.request("GET", hidden).status == 404, hidden
    assert s.request("GET", "/bundle/manifest.json").status == 200   # what the page fetches

    empty = tmp_path / "empty"
    empty.mkdir()
    s2 = start_server("--web-root", str(empty))
    s2.wait_healthy()
    reply = s2.request("GET", "/")
    assert reply.status == 404 and reply.json()["type"] == "WebAppMissing"


def test_a_bundle_file_altered_after_start_is_refused_not_served(start_server, bundle_dir, tmp_path):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    s = start_server(bundle=copy)
    s.wait_healthy()
    (copy / "labels.txt").write_text("tampered\n")
    reply = s.request("GET", "/bundle/labels.txt")
    assert reply.status == 500 and reply.json()["type"] == "BundleError" and b"tampered" not in reply.body
    assert s.request("GET", "/healthz").status == 200
