"""Outbound events over the API: webhook subscriptions, the event feed, the delivery log,
and the safety net that starts deliveries left pending.

Also the middleware that starts, once a request has been answered, the deliveries its
route emitted (a page view, a task made by hand): see activities/events.py.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from activities.events import (
    TargetUnresolved,
    collecting_deliveries,
    resolve_webhook_target,
    start_deliveries,
    start_pending_deliveries,
)
from db import subscriptions
from db.rows import EventRow, WebhookSubscriptionRow
from db.subscriptions import DeliveryLogEntry
from domain.events import EVENT_TYPES, UnknownEventType, normalise_types
from domain.webhook_targets import RefusedTarget, allow_list
from messages.models import delivery_workflow_id
from starter.api.deps import API_KEY, Q2CState, State
from starter.api.errors import invalid_parameter, unprocessable
from starter.api.operations import iso
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.schemas import (
    Body,
    DeliveryDetailOut,
    DeliveryList,
    EventPage,
    RetriedDeliveriesOut,
    SubscriptionCreatedOut,
    SubscriptionDeletedOut,
    SubscriptionList,
    SubscriptionOut,
)


class SubscriptionIn(Body):
    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] | Literal["*"] = Field(
        description='event types to receive, or "*" (or ["*"]) for all of them'
    )
    description: str = Field(default="", max_length=500)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            raise ValueError("must be an absolute http:// or https:// URL")
        return url

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, types: list[str] | str) -> list[str]:
        try:
            return normalise_types([types] if isinstance(types, str) else types)
        except UnknownEventType as unknown:
            raise ValueError(f"{unknown}; known types: {', '.join(EVENT_TYPES)}") from None


def subscription_json(row: WebhookSubscriptionRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "url": row.url,
        "event_types": list(row.event_types),
        "description": row.description,
        "active": row.disabled_at is None,
        "created_at": iso(row.created_at),
        "deleted_at": iso(row.disabled_at),
    }


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "sequence": row.seq,
        "type": row.type,
        "occurred_at": iso(row.occurred_at),
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
        "proposal_id": str(row.proposal_id) if row.proposal_id else None,
        "data": json.loads(row.payload),
    }


def delivery_json(row: DeliveryLogEntry) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "event_id": str(row.event_id),
        "event_type": row.type,
        "subscription_id": str(row.subscription_id),
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "last_attempt_at": iso(row.last_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "delivered_at": iso(row.delivered_at),
        "failed_at": iso(row.failed_at),
        "created_at": iso(row.created_at),
        "workflow_id": delivery_workflow_id(str(row.id)),
    }


class StartDeliveriesMiddleware:
    """Starts the webhook deliveries a request's route emitted, once it has answered (its
    transactions are committed by then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collecting_deliveries() as created:
            try:
                await self.app(scope, receive, send)
            finally:
                if created:
                    state: Q2CState = scope["app"].state.q2c
                    await start_deliveries(state.temporal, state.settings.task_queue, created)


async def _subscription(state: Q2CState, subscription_id: UUID) -> WebhookSubscriptionRow:
    async with state.pool.acquire() as conn:
        row = await subscriptions.find(conn, subscription_id)
    if row is None:
        raise HTTPException(404, "webhook subscription not found")
    return row


router = APIRouter()


@router.post(
    "/api/v1/webhook-subscriptions",
    response_model=SubscriptionCreatedOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["events"],
)
async def create_subscription(body: SubscriptionIn, state: State) -> dict[str, Any]:
    """Subscribe a URL to event types. The answer carries the signing `secret`, shown
    this once: keep it to verify `Q2C-Signature`."""
    assert isinstance(body.event_types, list)
    # Only public addresses, unless allowed on purpose (domain.webhook_targets).
    try:
        await resolve_webhook_target(body.url, allow_list(state.settings.webhook_allow_hosts))
    except RefusedTarget as refused:
        raise unprocessable(f"url: {refused}") from None
    except TargetUnresolved:
        pass  # perhaps not in DNS yet: each delivery resolves and checks it again
    secret = "whsec_" + secrets.token_hex(32)
    async with state.pool.acquire() as conn:
        row = await subscriptions.create(conn, body.url, body.event_types, secret, body.description)
    return subscription_json(row) | {"secret": secret}


@router.get(
    "/api/v1/webhook-subscriptions",
    response_model=SubscriptionList,
    dependencies=API_KEY,
    tags=["events"],
)
async def list_subscriptions(state: State, include_deleted: bool = False) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rows = await subscriptions.list_all(conn, include_disabled=include_deleted)
    return {"items": [subscription_json(row) for row in rows]}


@router.get(
    "/api/v1/webhook-subscriptions/{subscription_id}",
    response_model=SubscriptionOut,
    dependencies=API_KEY,
    tags=["events"],
)
async def get_subscription(subscription_id: UUID, state: State) -> dict[str, Any]:
    return subscription_json(await _subscription(state, subscription_id))


@router.delete(
    "/api/v1/webhook-subscriptions/{subscription_id}",
    response_model=SubscriptionDeletedOut,
    dependencies=API_KEY,
    tags=["events"],
)
async def delete_subscription(subscription_id: UUID, state: State) -> dict[str, Any]:
    """Stop sending to it: nothing new is queued, pending deliveries are cancelled (one
    being retried stops at its next attempt). Kept, disabled, for its delivery log."""
    async with state.pool.acquire() as conn, conn.transaction():
        row = await subscriptions.disable(conn, subscription_id)
        if row is None:
            raise HTTPException(404, "webhook subscription not found")
        cancelled = await subscriptions.cancel_pending_deliveries(conn, subscription_id)
    return subscription_json(row) | {"cancelled_deliveries": cancelled}


PAGER: Pager[EventRow] = Pager("events", subscriptions.EVENT_ORDER)


@router.get(
    "/api/v1/events",
    response_model=EventPage,
    dependencies=API_KEY,
    tags=["events"],
    description=paged(
        "Events in the order they happened (by `sequence`). `after` and `next_after` are "
        "kept for existing callers: `after=N` starts after sequence N, and `next_after` "
        "(the last sequence seen, also on the last page) polls for newer events; give "
        "either `after` or `cursor`, not both (422)."
    ),
)
async def list_events(
    state: State,
    type: Annotated[
        str | None, Query(description="one event type; " + ", ".join(EVENT_TYPES))
    ] = None,
    since: Annotated[
        datetime | None, Query(description="only events that occurred after this instant")
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="only events after this sequence number"),
    ] = None,
    invoice_id: UUID | None = None,
    proposal_id: UUID | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    if type is not None and type not in EVENT_TYPES:
        raise invalid_parameter("query", "type", f"unknown event type {type!r}")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if after is not None and cursor is not None:
        raise invalid_parameter("query", "cursor", "give `after` or `cursor`, not both")
    filters = {
        "type": type,
        "since": None if since is None else since.isoformat(),
        "invoice_id": invoice_id,
        "proposal_id": proposal_id,
    }
    key = PAGER.after(cursor, filters)
    after_seq = after if key is None else int(key[0])
    async with state.pool.acquire() as conn:
        rows = await subscriptions.events_page(
            conn,
            event_type=type,
            occurred_after=since,
            after_seq=after_seq,
            invoice_id=invoice_id,
            proposal_id=proposal_id,
            limit=limit + 1,
        )
    answer = PAGER.page(rows, limit, filters, event_json)
    items = answer["items"]
    return answer | {"next_after": items[-1]["sequence"] if items else after_seq}


@router.get(
    "/api/v1/webhook-deliveries", response_model=DeliveryList, dependencies=API_KEY, tags=["events"]
)
async def list_deliveries(
    state: State,
    subscription_id: UUID | None = None,
    status: Literal["pending", "delivered", "failed", "cancelled"] | None = None,
    event_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The delivery log, newest first: attempts, last status code or error, when
    delivered."""
    async with state.pool.acquire() as conn:
        rows = await subscriptions.delivery_log(
            conn, subscription_id=subscription_id, status=status, event_id=event_id, limit=limit
        )
    return {"items": [delivery_json(row) for row in rows]}


@router.post(
    "/api/v1/webhook-deliveries/retry-pending",
    response_model=RetriedDeliveriesOut,
    dependencies=API_KEY,
    tags=["events"],
)
async def retry_pending(
    state: State,
    include_failed: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Start the delivery of every pending delivery whose workflow is not running (its
    emitter died between commit and start); with `include_failed`, retry failed ones
    too. Safe to call any time: a delivery in progress is left alone."""
    ids = await start_pending_deliveries(
        state.pool,
        state.temporal,
        state.settings.task_queue,
        include_failed=include_failed,
        limit=limit,
    )
    return {"started": len(ids), "delivery_ids": ids}


@router.get(
    "/api/v1/webhook-deliveries/{delivery_id}",
    response_model=DeliveryDetailOut,
    dependencies=API_KEY,
    tags=["events"],
)
async def get_delivery(delivery_id: UUID, state: State) -> dict[str, Any]:
    """One delivery and its every attempt."""
    async with state.pool.acquire() as conn:
        row = await subscriptions.delivery(conn, delivery_id)
        if row is None:
            raise HTTPException(404, "webhook delivery not found")
        attempts = await subscriptions.attempts_of(conn, delivery_id)
    return delivery_json(row) | {
        "attempt_log": [
            {
                "attempt": a.attempt,
                "started_at": iso(a.started_at),
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
            }
            for a in attempts
        ]
    }
