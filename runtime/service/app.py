"""The HTTP API (FastAPI): health, info, classify, metrics, the bundle's files and the web app.

    GET  /healthz          200 once loaded and self-checked, 503 before (or forever, if it failed)
    GET  /v1/info          model, format, backend, labels, preprocessing id, versions, self-check
    POST /v1/classify      image bytes (any type Pillow reads) or multipart field `file`; ?top=K
    GET  /metrics          Prometheus text
    GET  /bundle/<file>    manifest.json and the files it lists, nothing else
    GET  /                 the web app, when it is installed (fashion_edge.webapp) or given (--web-root)

The OpenAPI schema is at /openapi.json; the interactive docs pages are off, because they would load
Swagger UI from a CDN that a device on a local network may not reach.
"""
from __future__ import annotations

import json

from fastapi import FastAPI, Request
from starlette.responses import FileResponse, Response

from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.errors import BundleError
from fashion_edge.runtime.service import classify, problems
from fashion_edge.runtime.service.config import ServeConfig
from fashion_edge.runtime.service.files import BundleFiles, media_type
from fashion_edge.runtime.service.metrics import Metrics, TemplateRoute
from fashion_edge.runtime.service.pool import InferencePool
from fashion_edge.runtime.versions import version_of


def _json(payload: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload).encode(), status, headers=headers, media_type="application/json")


def create_app(config: ServeConfig, bundle: Bundle, pool: InferencePool, metrics: Metrics, web: dict) -> FastAPI:
    """The application; `web` maps URL paths to the web app's files (empty when it is not installed)."""
    labels = bundle.labels
    files = BundleFiles(bundle)
    app = FastAPI(title="fashion-edge", version=version_of("fashion-edge") or "dev",
                  summary=f"{bundle.model}: {bundle.manifest.input.describe()} images, {len(labels)} classes "
                          f"({config.format})",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    problems.install(app)
    _document_classify(app, len(labels))

    @app.get("/healthz", summary="200 once the model is loaded and self-checked, 503 before")
    async def healthz() -> Response:
        if pool.ready:
            return _json({"status": "ok"})
        if pool.failure:
            return _json({"status": "failed", "error": pool.failure, "type": "NotReady"}, 503)
        return _json({"status": "loading", "error": "the model is loading", "type": "NotReady"}, 503,
                     {"Retry-After": problems.RETRY_AFTER_S})

    @app.get("/v1/info", summary="What is being served, by which backend, and its self-check")
    async def info() -> Response:
        m = bundle.manifest
        return _json({
            "status": "ok" if pool.ready else ("failed" if pool.failure else "loading"),
            "model": m.model, "format": config.format, "backend": pool.backend_name or config.backend,
            "labels": list(labels), "preprocessing": m.input.preprocessing.id,
            "input": m.input.to_json(), "output": m.output.to_json(), "keras_test_accuracy": m.keras_test_accuracy,
            "format_accuracy": m.formats[config.format].parity.accuracy,
            "self_check": pool.self_check.to_json() if pool.self_check else None, "failure": pool.failure,
            "workers": config.workers, "queue": config.queue, "max_body_bytes": config.max_body_bytes,
            "web_app": bool(web), "versions": service_versions(pool.backend_name), "export_versions": dict(m.versions),
        })

    route = TemplateRoute(classify.PATH, classify.endpoint(pool, labels, metrics), methods=["POST"])
    app.router.routes.append(route)
    app.state.classify_route = route     # server.build puts classify.ClassifyLane in front of the app

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        payload, content_type = metrics.render()
        return Response(payload, media_type=content_type)

    @app.get("/bundle/{name:path}", summary="manifest.json and the files it lists (sha256-checked)")
    async def bundle_file(name: str, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            blob = await run_in_threadpool(files.get, name)   # hashing a model file is not the event loop's job
        except BundleError as exc:   # altered on disk since start-up: the server's problem, said plainly
            return problems.problem(500, str(exc), "BundleError")
        if blob is None:
            return problems.problem(404, f"{name!r} is not a file of this bundle", "NotFound")
        etag = f'"{blob.etag}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(blob.data, media_type=blob.media_type, headers=headers)

    if web:
        for url, path in web.items():
            app.add_api_route(url, _static(path), methods=["GET"], include_in_schema=url == "/",
                              summary="The web app" if url == "/" else None)
    else:
        @app.get("/", summary="The web app (404: not installed)")
        async def no_web_app() -> Response:
            return problems.problem(404, "the web app is not part of this install (fashion_edge.webapp has no "
                                    "index.html); build apps/web into the wheel, or pass --web-root DIR",
                                    "WebAppMissing")
    return app


def _document_classify(app: FastAPI, classes: int) -> None:
    """Add the hand-routed POST /v1/classify (runtime/service/classify.py) to the generated schema."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"][classify.PATH] = classify.openapi_path(classes)
            schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = classify.ERROR_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _static(path):
    async def serve_file() -> FileResponse:
        return FileResponse(path, media_type=media_type(path.name), headers={"Cache-Control": "no-cache"})
    return serve_file


def service_versions(backend: str | None) -> dict[str, str]:
    from fashion_edge.runtime.backends import BACKENDS
    from fashion_edge.runtime.versions import module_version, versions

    found = versions("fashion-edge", "numpy", "Pillow", "fastapi", "uvicorn", "prometheus-client")
    if backend in BACKENDS:
        v = module_version(BACKENDS[backend].module)
        if v:
            found[backend] = v
    return found
