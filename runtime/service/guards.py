"""Pure ASGI guards in front of the application: the API key, then the body limit.

They run before FastAPI reads anything, so a request without the key, or one announcing a body
over the limit, is answered (401 / 413) without its body ever being read. A body without a
Content-Length (chunked) is counted as it arrives and refused the moment it passes the limit.
"""
from __future__ import annotations

import hmac

from fashion_edge.runtime.service.problems import BodyTooLarge, send_problem

OPEN_PATHS = frozenset({"/healthz"})   # a health check must work without the key (systemd, load balancers)


def header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


class ApiKeyGuard:
    """With a key configured, every route except /healthz needs `Authorization: Bearer <key>` (else 401)."""

    def __init__(self, app, key: str) -> None:
        self.app = app
        self._expected = b"Bearer " + key.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given = header(scope, b"authorization") or b""
        # The scheme is case-insensitive; the comparison of the whole value takes constant time.
        if given[:7].lower() == b"bearer ":
            given = b"Bearer " + given[7:].strip()
        if not hmac.compare_digest(given, self._expected):
            message = "missing API key: send 'Authorization: Bearer <key>'" if not given else "wrong API key"
            return await send_problem(send, 401, message, "Unauthorized", [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


class BodyLimitGuard:
    """413 for a body over `limit` bytes: from Content-Length before reading, or while counting chunks."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:  # the HTTP parser refuses these first; belt and braces
                too_big = True
            if too_big:
                return await send_problem(send, 413, str(BodyTooLarge(self.limit)), "PayloadTooLarge",
                                          [(b"connection", b"close")])
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watched_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:  # only if the application let it escape before answering
            if started:
                raise
            await send_problem(send, 413, str(exc), "PayloadTooLarge", [(b"connection", b"close")])
