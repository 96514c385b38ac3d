"""The API's request metrics and its `GET /metrics`.

Every request is counted by method, route template (`/api/v1/invoices/{invoice_id}`, never
the path itself: paths carry ids and signing tokens) and status class, and timed. A request
no route matches (a 404, or one refused by a middleware before routing) is counted under
the template it would have matched, else under "unmatched".

`GET /metrics` answers the process's whole registry (activities.metrics: under `q2c dev`
the worker's metrics too) to an operator's key of any role, viewer included: the API's
port is the public one (signing pages, webhooks), and request volumes are not for anyone
who asks. Prometheus scrapes Q2C_METRICS_PORT instead, which needs no key and is never
published (docker-compose.yml).

Part of the HTTP API: imports activities.metrics and starter.api.deps; only
starter.api.app imports it.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities import metrics as _registry  # noqa: F401  (registers the SDK's collector)
from starter.api.deps import API_KEY

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "q2c_http_requests",
    "API requests answered, by method, route template and status class (2xx, 4xx...).",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "q2c_http_request_duration_seconds",
    "API request time until the response's last byte, by method, route template and status class.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def route_template(scope: Scope) -> str:
    """The path template of the route that served (or would have served) the request."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    router = getattr(app, "router", None)
    for candidate in getattr(router, "routes", ()):
        match, _ = candidate.matches(scope)
        if match != Match.NONE and isinstance(getattr(candidate, "path", None), str):
            return str(candidate.path)
    return UNMATCHED


class RequestMetricsMiddleware:
    """Counts and times every HTTP request; registered last in starter/api/app.py, so it
    runs first and sees the limits' 413 and 429 as well."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            method = str(scope.get("method", "")).upper()
            labels = (
                method if method in METHODS else "other",
                route_template(scope),
                f"{status // 100}xx",
            )
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)


router = APIRouter()


@router.get("/metrics", include_in_schema=False, dependencies=API_KEY)
async def prometheus_metrics() -> Response:
    """The registry in Prometheus' text format. Written on a thread: collecting drains the
    Temporal SDK's buffer, which must not hold up the event loop."""
    body = await asyncio.to_thread(generate_latest, REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
