"""Every error the service answers, in one shape: `{"error": "<what and how to fix it>", "type": "<Name>"}`.

Client mistakes are 4xx. The handlers here turn Starlette's own 404/405/400, FastAPI's query
validation, the runtime's typed errors and the service's guards into that shape, so a client parses
one kind of error body whatever went wrong.
"""
from __future__ import annotations

import json
from http import HTTPStatus
from typing import Iterable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from fashion_edge.runtime.errors import InvalidImageError
from fashion_edge.runtime.service.classify import BadQuery
from fashion_edge.runtime.service.pool import NotReady, QueueFull

RETRY_AFTER_S = "1"


class BodyTooLarge(Exception):
    """The request body passed --max-body-mb (raised from the guarded `receive`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is over the {limit / 1024 / 1024:g} MB limit (--max-body-mb)")


def type_for(status: int) -> str:
    """'Not Found' -> 'NotFound': the HTTP phrase as a type name, for errors that are plain HTTP ones."""
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def body(message: str, kind: str) -> bytes:
    return json.dumps({"error": message, "type": kind}).encode()


def problem(status: int, message: str, kind: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
    return Response(body(message, kind or type_for(status)), status, headers=dict(headers or {}),
                    media_type="application/json")


async def send_problem(send, status: int, message: str, kind: str | None = None,
                       headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """The same body from a pure ASGI middleware, before the application has seen the request."""
    payload = body(message, kind or type_for(status))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", "invalid"))
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the `{error, type}` shape."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route or file (see /openapi.json)"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
        return problem(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return problem(422, _validation_message(exc), "ValidationError")

    @app.exception_handler(BadQuery)
    async def _query(_request: Request, exc: BadQuery) -> Response:
        return problem(422, str(exc), "ValidationError")

    @app.exception_handler(InvalidImageError)
    async def _image(_request: Request, exc: InvalidImageError) -> Response:
        return problem(422, str(exc), type(exc).__name__)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_request: Request, exc: BodyTooLarge) -> Response:
        return problem(413, str(exc), "PayloadTooLarge", {"Connection": "close"})

    @app.exception_handler(QueueFull)
    async def _full(_request: Request, _exc: QueueFull) -> Response:
        return problem(503, "every worker is busy and the queue is full; retry shortly", "QueueFull",
                       {"Retry-After": RETRY_AFTER_S})

    @app.exception_handler(NotReady)
    async def _not_ready(_request: Request, exc: NotReady) -> Response:
        if exc.failed:
            return problem(503, f"the model did not load or failed its self-check: {exc}", "NotReady")
        return problem(503, "the model is loading; retry shortly", "NotReady", {"Retry-After": RETRY_AFTER_S})
