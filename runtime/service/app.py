"""The HTTP API (FastAPI): health, info, classify, metrics, the bundle's files and the web app.

    GET  /healthz          200 once a model is loaded and self-checked (with its bundle id), 503 before
    GET  /v1/info          bundle, model, format, backend, labels, preprocessing, versions, self-check, reloads
    POST /v1/classify      image bytes (any type Pillow reads) or multipart field `file`; ?top=K
    POST /v1/admin/reload  load the bundle path again and swap it in (the API key, or loopback without one)
    GET  /metrics          Prometheus text
    GET  /bundle/<file>    manifest.json and the files it lists, nothing else
    GET  /                 the web app, when it is installed (fashion_edge.webapp) or given (--web-root)

Everything about the model comes from the one serving now (`pool.model`), which a reload may replace
by a bundle with another contract or label set; before the first is ready, from the bundle that
`build` read to check the command line.

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
from fashion_edge.runtime.service.config import ServeConfig, is_loopback
from fashion_edge.runtime.service.files import BundleFiles, media_type
from fashion_edge.runtime.service.metrics import Metrics, TemplateRoute
from fashion_edge.runtime.service.pool import InferencePool
from fashion_edge.runtime.service.reload import Reloader
from fashion_edge.runtime.versions import version_of


def _json(payload: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload).encode(), status, headers=headers, media_type="application/json")


def _summary(bundle: Bundle, fmt: str) -> str:
    return f"{bundle.model}: {bundle.manifest.input.describe()} images, {len(bundle.labels)} classes ({fmt})"


def create_app(config: ServeConfig, bundle: Bundle, pool: InferencePool, reloader: Reloader, metrics: Metrics,
               web: dict) -> FastAPI:
    """The application; `bundle` is the one the command line named, as read before loading (shown until a model
    serves); `web` maps URL paths to the web app's files (empty when it is not installed)."""
    first_files = BundleFiles(bundle)
    app = FastAPI(title="fashion-edge", version=version_of("fashion-edge") or "dev", summary=_summary(bundle, config.format),
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    problems.install(app)
    shown = lambda: pool.model.bundle if pool.model else bundle   # noqa: E731
    _document_classify(app, lambda: len(shown().labels))

    def on_model(model) -> None:   # a new model serves: the schema's `top` range and summary follow it
        app.summary = _summary(model.bundle, config.format)
        app.openapi_schema = None

    app.state.on_model = on_model

    @app.get("/healthz", summary="200 once a model is loaded and self-checked (naming its bundle), 503 before")
    async def healthz() -> Response:
        model = pool.model
        if model is not None and not pool.closed:
            return _json({"status": "ok", "bundle": model.tag(), "reload": reloader.state()})
        if pool.failure:
            return _json({"status": "failed", "error": pool.failure, "type": "NotReady", "bundle": None,
                          "reload": reloader.state()}, 503)
        return _json({"status": "loading", "error": "the model is loading", "type": "NotReady", "bundle": None,
                      "reload": reloader.state()}, 503, {"Retry-After": problems.RETRY_AFTER_S})

    @app.get("/v1/info", summary="What is being served (which bundle), by which backend, its self-check and reloads")
    async def info() -> Response:
        model = pool.model
        m = shown().manifest
        return _json({
            "status": "ok" if pool.ready else ("failed" if pool.failure else "loading"),
            "bundle": model.to_json() if model else None,
            "model": m.model, "format": config.format, "backend": pool.backend_name or config.backend,
            "labels": list(m.labels), "preprocessing": m.input.preprocessing.id,
            "input": m.input.to_json(), "output": m.output.to_json(), "keras_test_accuracy": m.keras_test_accuracy,
            "format_accuracy": m.formats[config.format].parity.accuracy if config.format in m.formats else None,
            "self_check": pool.self_check.to_json() if pool.self_check else None, "failure": pool.failure,
            "reload": reloader.details(),
            "workers": config.workers, "queue": config.queue, "max_body_bytes": config.max_body_bytes,
            "web_app": bool(web), "versions": service_versions(pool.backend_name), "export_versions": dict(m.versions),
        })

    route = TemplateRoute(classify.PATH, classify.endpoint(pool, metrics), methods=["POST"])
    app.router.routes.append(route)
    app.state.classify_route = route     # server.build puts classify.ClassifyLane in front of the app

    @app.post("/v1/admin/reload", summary="Load the bundle path again and swap it in between requests",
              responses={200: {"description": "Reloaded: the bundle now serving, and the one it replaced"},
                         401: {"description": "Missing or wrong API key"},
                         403: {"description": "No API key is configured and the request is not from loopback"},
                         409: {"description": "A reload (or the first load) is already running"},
                         422: {"description": "The bundle was refused; the previous one serves on"}})
    async def admin_reload(request: Request) -> Response:
        client = request.client.host if request.client else ""
        forwarded = any(h in request.headers for h in ("forwarded", "x-forwarded-for", "x-real-ip"))
        if not config.api_key and (forwarded or not is_loopback(client)):   # a proxy on this machine is loopback too
            return problems.problem(403, "reloading is allowed from this machine only, and not through a proxy, while "
                                    "the service has no API key (--api-key-file)", "Forbidden")
        outcome = await reloader.reload("POST /v1/admin/reload")
        return _json(outcome.to_json(), outcome.status)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        payload, content_type = metrics.render()
        return Response(payload, media_type=content_type)

    @app.get("/bundle/{name:path}", summary="manifest.json and the files it lists (sha256-checked)")
    async def bundle_file(name: str, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            files = pool.model.files if pool.model else first_files
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


def _document_classify(app: FastAPI, classes) -> None:
    """Add the hand-routed POST /v1/classify (runtime/service/classify.py) to the generated schema; `classes()`
    is the serving model's number of classes (the schema is made again after a reload)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"][classify.PATH] = classify.openapi_path(classes())
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
