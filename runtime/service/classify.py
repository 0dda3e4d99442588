"""POST /v1/classify: the hot path, as a plain endpoint with a hand-written OpenAPI entry.

The service may add at most 1 ms to an in-process prediction. On the 2-core test machine FastAPI's
per-request machinery (its middleware stack, dependency solving, parameter models) cost ~0.7 ms of
that, so this one route reads its single query parameter itself and is reached through
`ClassifyLane` ahead of the app; its schema entry is added to FastAPI's generated /openapi.json
(`openapi_path`), so clients still see one complete API.
"""
from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.service import problems
from fashion_edge.runtime.service.guards import header
from fashion_edge.runtime.service.metrics import Metrics
from fashion_edge.runtime.service.pool import InferencePool
from fashion_edge.runtime.service.problems import BadQuery

log = logging.getLogger("fashion_edge.serve")

PATH = "/v1/classify"
DEFAULT_TOP = 3


def parse_top(raw: str | None, classes: int) -> int:
    if raw is None:
        return min(DEFAULT_TOP, classes)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= classes:
        raise BadQuery(f"top: must be a whole number from 1 to {classes}, not {raw[:20]!r}")
    return int(raw)


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody is left to answer."""


def query_top(scope) -> str | None:
    """`?top=` from the raw query string (the last one, as Starlette's QueryParams); None when absent."""
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    values = [v for k, v in parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if k == "top"]
    return values[-1] if values else None


async def image_bytes(scope, receive) -> bytes:
    """The raw body, or the `file` field of a multipart form (anything else is raw bytes: curl --data-binary)."""
    if (header(scope, b"content-type") or b"").lower().startswith(b"multipart/form-data"):
        form = await Request(scope, receive).form(max_files=1, max_fields=16)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidImageError("multipart form has no file field named 'file'")
            data = await upload.read()
        finally:
            await form.close()
    else:
        chunks = []
        while True:   # the ASGI messages themselves: a Starlette Request per call costs more than this loop
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not data:
        raise InvalidImageError("empty body: send the image file's bytes (or multipart field 'file')")
    return data


def handler(pool: InferencePool, metrics: Metrics):
    """The route's work on raw ASGI: body -> pool (preprocess + inference on a worker thread) -> JSON bytes.

    The request is bound to the model current when it starts: its `top` is checked against that model's
    classes, that model classifies it and its answer names that bundle, even if a reload swaps models
    while the body is still arriving.
    """

    async def classify(scope, receive) -> bytes:
        model = pool.current()
        top = parse_top(query_top(scope), len(model.labels))
        data = await image_bytes(scope, receive)
        received = time.perf_counter()
        outcome = await pool.classify(data, model)
        total = time.perf_counter() - received
        metrics.total.observe(total)
        return model.answer.encode(outcome, top, total)

    return classify


def endpoint(pool: InferencePool, metrics: Metrics):
    """The same handler as a Starlette endpoint (the app's own route: its schema entry, 405 for other methods)."""
    classify = handler(pool, metrics)

    async def endpoint(request: Request) -> Response:
        return Response(await classify(request.scope, request.receive), media_type="application/json")

    endpoint.handler = classify
    return endpoint


_JSON_HEADERS = [(b"content-type", b"application/json")]


class ClassifyLane:
    """ASGI: POST /v1/classify goes straight to its handler; every other request to the FastAPI app.

    The route is also registered in the app (for its schema entry and for 405 on other methods),
    but the hot path skips FastAPI's middleware stack and Starlette's Request and Response objects,
    which together cost ~0.5 ms per request on the 2-core test machine. Errors get the same
    `{error, type}` answers as everywhere else (problems.py).
    """

    def __init__(self, app, route) -> None:
        self.app, self.route = app, route
        self.handle = route.endpoint.handler

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        scope["route"] = self.route     # metrics label, as for the app's own routes
        try:
            payload = await self.handle(scope, receive)
        except (ClientGone, ClientDisconnect):   # nobody left to answer
            return
        except Exception as exc:  # a request's own fault -> its 4xx/503; anything else is a bug -> 500
            request = Request(scope, receive, send)
            response = problems.response_for(request, exc)
            if response is None:
                log.exception("classify failed")
                response = problems.problem(500, f"internal error ({type(exc).__name__}); see the service log",
                                            "InternalError")
            return await response(scope, receive, send)
        await send({"type": "http.response.start", "status": 200,
                    "headers": _JSON_HEADERS + [(b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
BUNDLE_SCHEMA = {"type": "object", "description": "The bundle that answered: the first 12 hex digits of its "
                 "manifest's sha256, and the model's version (null when the export gave none)",
                 "properties": {"id": {"type": "string"}, "version": {"type": ["string", "null"]}}}
ERROR_SCHEMA = {"type": "object", "required": ["error", "type"],
                "properties": {"error": {"type": "string"}, "type": {"type": "string"}}}


def openapi_path(classes: int) -> dict:
    """The OpenAPI path item of POST /v1/classify."""
    ranked = {"type": "object", "properties": {"label_id": {"type": "integer"}, "label": {"type": "string"},
                                               "confidence": {"type": "number"}}}
    return {"post": {
        "summary": "Classify one image",
        "operationId": "classify",
        "parameters": [{"name": "top", "in": "query", "required": False, "description": "how many best classes to list",
                        "schema": {"type": "integer", "minimum": 1, "maximum": classes, "default": DEFAULT_TOP}}],
        "requestBody": {"required": True, "description": "The image file's bytes (JPEG, PNG, WebP, ...), or "
                        "multipart/form-data with the image in field `file`.",
                        "content": {"application/octet-stream": _BINARY, "image/*": _BINARY,
                                    "multipart/form-data": {"schema": {
                                        "type": "object", "required": ["file"],
                                        "properties": {"file": {"type": "string", "format": "binary"}}}}}},
        "responses": {
            "200": {"description": "The prediction", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"label_id": {"type": "integer"}, "label": {"type": "string"},
                               "confidence": {"type": "number"},
                               "probabilities": {"type": "array", "items": {"type": "number"}},
                               "top": {"type": "array", "items": ranked},
                               "timing_ms": {"type": "object", "properties": {
                                   k: {"type": "number"} for k in ("preprocess", "inference", "total")}},
                               "bundle": BUNDLE_SCHEMA}}}}},
            "401": {"description": "Missing or wrong API key", **_ERROR},
            "413": {"description": "Body over --max-body-mb", **_ERROR},
            "422": {"description": "Not an image, no garment found, or a bad `top`", **_ERROR},
            "503": {"description": "Queue full (Retry-After) or model not ready", **_ERROR},
        }}}
