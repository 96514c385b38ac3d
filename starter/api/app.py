"""The HTTP API: operator endpoints under /api/v1 (bearer key), the webhooks, and the
client's pages (signing, invoice). Each resource is a router; this module assembles them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from temporalio.client import Client

import temporal_connection
from activities import metrics as activity_metrics
from db import connection
from db import operators as operator_store
from settings import Settings
from starter.api import metrics, webhooks
from starter.api.deps import Q2CState, State
from starter.api.errors import add_error_handlers
from starter.api.limits import BodyLimitMiddleware, RateLimitMiddleware
from starter.api.pages import invoice_page, signing
from starter.api.routers import (
    audit,
    clients,
    codec,
    company,
    contracts,
    credit_notes,
    credits,
    efactura,
    events,
    invoice_actions,
    invoices,
    matters,
    numbering,
    operators,
    proposals,
    reports,
    resend,
    tasks,
)

# In the order they were registered before the split, so matching and the OpenAPI
# document keep their order.
ROUTERS = (
    clients.router,
    proposals.router,
    invoices.router,
    signing.router,
    invoice_page.router,
    webhooks.router,
    audit.router,
    reports.router,
    tasks.router,
    numbering.router,
    events.router,
    credits.router,
    credit_notes.router,
    invoice_actions.router,
    company.router,
    contracts.router,
    codec.router,
    operators.router,
    efactura.router,
    resend.router,
    matters.router,
)


def create_app(
    settings: Settings, pool: asyncpg.Pool | None = None, temporal: Client | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        db = pool or await asyncpg.create_pool(settings.resolved_database_url(), max_size=10)
        client = temporal or await temporal_connection.connect(settings)
        app.state.q2c = Q2CState(settings, db, client)
        serve_metrics(settings)
        # After uvicorn configured its loggers: the OAuth callback's code never reaches them.
        efactura.hide_callback_query_in_access_log()
        if settings.api_key:
            # The bootstrap key (env or the one `q2c dev` saved) is the first admin.
            async with db.acquire() as conn:
                await operator_store.ensure_bootstrap(conn, settings.api_key)
        try:
            yield
        finally:
            if own_pool:
                await db.close()

    app = FastAPI(
        title="q2c",
        summary="Quote-to-cash: proposals, e-signature, invoices, reminders, payments.",
        version="0.1.0",
        lifespan=lifespan,
    )
    add_error_handlers(app)
    app.add_exception_handler(signing.LinkNotFound, signing.unknown_link)  # type: ignore[arg-type]
    app.add_exception_handler(signing.LinkClosed, signing.closed_link)  # type: ignore[arg-type]
    app.add_middleware(events.StartDeliveriesMiddleware)
    # Added last, so they run first: a request over its limits reaches no route.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(
        RateLimitMiddleware,
        limits={"pages": settings.rate_limit_pages, "webhooks": settings.rate_limit_webhooks},
    )
    # Last of all, so it runs first: it counts what the limits refuse too.
    app.add_middleware(metrics.RequestMetricsMiddleware)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(state: State) -> dict[str, str]:
        async with state.pool.acquire() as conn:
            await connection.ping(conn)
        return {"status": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(metrics.router)
    return app


def serve_metrics(settings: Settings) -> None:
    """The registry on Q2C_METRICS_PORT too, for Prometheus (no key; never published). Under
    `q2c dev` the worker serves it already, in this process."""
    if settings.metrics_port is not None:
        activity_metrics.serve(settings.metrics_port, settings.api_host)


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment."""
    return create_app(Settings.from_env())
