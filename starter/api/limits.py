"""What every way in is held to before a route runs: a request body size limit on every
route, and per-client-IP rate limits on the public paths (the client's pages under
/sign and /i, and the inbound webhooks under /webhooks).

Both are plain ASGI middlewares, registered in starter/api/app.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starter.api.deps import client_ip

# No route needs more: the largest form, the signing page's with a drawn signature of at
# most 200 KiB (pages.signing.SIGNATURE_FIELD_MAX), is about 300 KB once URL-encoded.
MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body without a Content-Length outgrows the limit. An
    HTTPException, so FastAPI's body parsing lets it through and it answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length says so (the body is
    not read), else as soon as the streamed (chunked) bytes pass the limit, before the
    route has the whole body to parse."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(self.max_bytes, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            # Read outside any route's exception handling (a middleware's own read).
            if started:
                raise
            await _too_large(self.max_bytes, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"the request body is larger than {limit} bytes"},
        status_code=413,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


# The first path segment each rate limit applies to, by the limit's name.
RATE_LIMITED_PATHS: Mapping[str, tuple[str, ...]] = {
    "pages": ("sign", "i"),
    "webhooks": ("webhooks",),
}


class RateLimitMiddleware:
    """Per client IP (deps.client_ip: behind a trusted proxy, the forwarded one) and per
    group of paths, a moving window kept in this process's memory: 429 with Retry-After
    once a client spent its allowance. `limits` maps a group to a limit in `limits`'
    notation ("60/minute"); an empty one does not limit."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, str]) -> None:
        self.app = app
        self.groups: dict[str, tuple[str, RateLimitItem]] = {}
        for group, notation in limits.items():
            if notation.strip():
                item = parse(notation)
                for segment in RATE_LIMITED_PATHS[group]:
                    self.groups[segment] = (group, item)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.groups:
            await self.app(scope, receive, send)
            return
        segment = str(scope["path"]).lstrip("/").partition("/")[0]
        limited = self.groups.get(segment)
        if limited is None:
            await self.app(scope, receive, send)
            return
        group, item = limited
        ip = client_ip(Request(scope))
        if self.limiter.hit(item, group, ip):
            await self.app(scope, receive, send)
            return
        reset_at = self.limiter.get_window_stats(item, group, ip).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        response = JSONResponse(
            {"detail": "too many requests from this address; try again later"},
            status_code=429,
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)
