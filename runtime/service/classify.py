"""POST /v1/classify: the hot path, as a plain endpoint with a hand-written OpenAPI entry.

The service may add at most 1 ms to an in-process prediction. On the 2-core test machine FastAPI's
per-request machinery (its middleware stack, dependency solving, parameter models) cost ~0.7 ms of
that, so this one route reads its single query parameter itself and is reached through
`ClassifyLane` ahead of the app; its schema entry is added to FastAPI's generated /openapi.json
(`openapi_path`), so clients still see one complete API.
"""
from __future__ import annotations

import json
import logging
import time

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.service import problems
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


async def image_bytes(request: Request) -> bytes:
    """The raw body, or the `file` field of a multipart form (anything else is raw bytes: curl --data-binary)."""
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=16)
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidImageError("multipart form has no file field named 'file'")
            data = await upload.read()
        finally:
            await form.close()
    else:
        data = await request.body()
    if not data:
        raise InvalidImageError("empty body: send the image file's bytes (or multipart field 'file')")
    return data


def endpoint(pool: InferencePool, labels: tuple[str, ...], metrics: Metrics):
    """The route's handler: body -> pool (preprocess + inference on a worker thread) -> JSON."""

    async def classify(request: Request) -> Response:
        top = parse_top(request.query_params.get("top"), len(labels))
        data = await image_bytes(request)
        received = time.perf_counter()
        outcome = await pool.classify(data)
        probs = outcome.probabilities()
        best = outcome.logits.index(max(outcome.logits))
        order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:top]
        total = time.perf_counter() - received
        metrics.total.observe(total)
        return Response(json.dumps({
            "label_id": best, "label": labels[best], "confidence": probs[best], "probabilities": list(probs),
            "top": [{"label_id": i, "label": labels[i], "confidence": probs[i]} for i in order],
            "timing_ms": {"preprocess": round(outcome.preprocess_s * 1e3, 3),
                          "inference": round(outcome.inference_s * 1e3, 3), "total": round(total * 1e3, 3)},
        }).encode(), media_type="application/json")

    return classify


class ClassifyLane:
    """ASGI: POST /v1/classify goes straight to its endpoint; every other request to the FastAPI app.

    The route is also registered in the app (for its schema entry and for 405 on other methods),
    but the hot path skips FastAPI's middleware stack, which cost ~0.3 ms per request on the 2-core
    test machine. Errors get the same `{error, type}` answers as everywhere else (problems.py).
    """

    def __init__(self, app, route) -> None:
        self.app, self.route = app, route

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        scope["route"] = self.route     # metrics label, as for the app's own routes
        request = Request(scope, receive, send)
        try:
            response = await self.route.endpoint(request)
        except Exception as exc:  # a request's own fault -> its 4xx/503; anything else is a bug -> 500
            response = problems.response_for(request, exc)
            if response is None:
                log.exception("classify failed")
                response = problems.problem(500, f"internal error ({type(exc).__name__}); see the service log",
                                            "InternalError")
        await response(scope, receive, send)


_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
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
                                   k: {"type": "number"} for k in ("preprocess", "inference", "total")}}}}}}},
            "401": {"description": "Missing or wrong API key", **_ERROR},
            "413": {"description": "Body over --max-body-mb", **_ERROR},
            "422": {"description": "Not an image, no garment found, or a bad `top`", **_ERROR},
            "503": {"description": "Queue full (Retry-After) or model not ready", **_ERROR},
        }}}
