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
from starlette.formparsers import MultiPartException
from starlette.responses import Response

from fashion_edge.runtime.errors import InvalidImageError
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


class BadQuery(ValueError):
    """A query parameter that cannot be used (answered 422 ValidationError)."""


HANDLED = (StarletteHTTPException, MultiPartException, RequestValidationError, BadQuery, InvalidImageError,
           BodyTooLarge, QueueFull, NotReady)


def response_for(request: Request, exc: Exception) -> Response | None:
    """The `{error, type}` answer to an exception a request can cause, or None for anything else (a bug)."""
    if isinstance(exc, StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route or file (see /openapi.json)"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
        return problem(exc.status_code, message, headers=exc.headers)
    if isinstance(exc, MultiPartException):   # Starlette turns it into a 400 only inside its own app
        return problem(400, f"malformed multipart body: {exc.message}", "BadRequest")
    if isinstance(exc, RequestValidationError):
        return problem(422, _validation_message(exc), "ValidationError")
    if isinstance(exc, BadQuery):
        return problem(422, str(exc), "ValidationError")
    if isinstance(exc, InvalidImageError):
        return problem(422, str(exc), type(exc).__name__)
    if isinstance(exc, BodyTooLarge):
        return problem(413, str(exc), "PayloadTooLarge", {"Connection": "close"})
    if isinstance(exc, QueueFull):
        return problem(503, "every worker is busy and the queue is full; retry shortly", "QueueFull",
                       {"Retry-After": RETRY_AFTER_S})
    if isinstance(exc, NotReady):
        if exc.failed:
            return problem(503, f"the model did not load or failed its self-check: {exc}", "NotReady")
        return problem(503, "the model is loading; retry shortly", "NotReady", {"Retry-After": RETRY_AFTER_S})
    return None


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the `{error, type}` shape."""

    async def handler(request: Request, exc: Exception) -> Response:
        return response_for(request, exc)

    async def internal(_request: Request, exc: Exception) -> Response:   # a bug: still the same shape
        return problem(500, f"internal error ({type(exc).__name__}); see the service log", "InternalError")

    for kind in HANDLED:
        app.add_exception_handler(kind, handler)
    app.add_exception_handler(Exception, internal)
