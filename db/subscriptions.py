"""Outbound webhook subscriptions, the event feed and the delivery log, as the API reads
and changes them. (Posting deliveries is db.events; emitting events is db.store.emit_event.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from db import keyset
from db.connection import Connection
from db.rows import (
    EventRow,
    WebhookDeliveryAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
    row_as,
    rows_as,
)


async def create(
    conn: Connection, url: str, event_types: list[str], secret: str, description: str
) -> WebhookSubscriptionRow:
    record = await conn.fetchrow(
        """INSERT INTO webhook_subscriptions (url, event_types, secret, description)
           VALUES ($1, $2, $3, $4) RETURNING *""",
        url,
        event_types,
        secret,
        description,
    )
    assert record is not None
    return row_as(WebhookSubscriptionRow, record)


async def list_all(conn: Connection, *, include_disabled: bool) -> list[WebhookSubscriptionRow]:
    """Oldest first; disabled ones only when asked for."""
    records = await conn.fetch(
        """SELECT * FROM webhook_subscriptions WHERE $1 OR disabled_at IS NULL
           ORDER BY created_at, id""",
        include_disabled,
    )
    return rows_as(WebhookSubscriptionRow, records)


async def find(conn: Connection, subscription_id: Any) -> WebhookSubscriptionRow | None:
    record = await conn.fetchrow(
        "SELECT * FROM webhook_subscriptions WHERE id = $1", subscription_id
    )
    return None if record is None else row_as(WebhookSubscriptionRow, record)


async def disable(conn: Connection, subscription_id: Any) -> WebhookSubscriptionRow | None:
    """Disable it (keeping the first disabling instant); None when it does not exist."""
    record = await conn.fetchrow(
        """UPDATE webhook_subscriptions SET disabled_at = coalesce(disabled_at, now())
           WHERE id = $1 RETURNING *""",
        subscription_id,
    )
    return None if record is None else row_as(WebhookSubscriptionRow, record)


async def cancel_pending_deliveries(conn: Connection, subscription_id: Any) -> int:
    """Cancel the subscription's pending deliveries; how many were cancelled."""
    cancelled: int = await conn.fetchval(
        """WITH cancelled AS (
               UPDATE webhook_deliveries SET status = 'cancelled'
               WHERE subscription_id = $1 AND status = 'pending' RETURNING 1
           ) SELECT count(*) FROM cancelled""",
        subscription_id,
    )
    return cancelled


# In the order they happened: `seq` is unique and only grows.
EVENT_ORDER = keyset.Order((keyset.Key("seq", "bigint"),))


async def events_page(
    conn: Connection,
    *,
    event_type: str | None,
    occurred_after: datetime | None,
    after_seq: int | None,
    invoice_id: UUID | None,
    proposal_id: UUID | None,
    limit: int,
) -> list[EventRow]:
    """Events in EVENT_ORDER after sequence `after_seq`; each filter left None does not
    filter."""
    records = await conn.fetch(
        """SELECT * FROM events
           WHERE ($1::text IS NULL OR type = $1)
             AND ($2::timestamptz IS NULL OR occurred_at > $2)
             AND ($3::bigint IS NULL OR seq > $3)
             AND ($4::uuid IS NULL OR invoice_id = $4)
             AND ($5::uuid IS NULL OR proposal_id = $5)
           ORDER BY seq LIMIT $6""",
        event_type,
        occurred_after,
        after_seq,
        invoice_id,
        proposal_id,
        limit,
    )
    return rows_as(EventRow, records)


@dataclass(frozen=True, slots=True)
class DeliveryLogEntry(WebhookDeliveryRow):
    """A webhook delivery with its event's type and its subscription's URL."""

    type: str
    url: str


async def delivery_log(
    conn: Connection,
    *,
    subscription_id: UUID | None,
    status: str | None,
    event_id: UUID | None,
    limit: int,
) -> list[DeliveryLogEntry]:
    """Newest first; each filter left None does not filter."""
    records = await conn.fetch(
        """SELECT d.*, e.type, s.url FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE ($1::uuid IS NULL OR d.subscription_id = $1)
             AND ($2::text IS NULL OR d.status = $2)
             AND ($3::uuid IS NULL OR d.event_id = $3)
           ORDER BY d.created_at DESC, e.seq DESC LIMIT $4""",
        subscription_id,
        status,
        event_id,
        limit,
    )
    return rows_as(DeliveryLogEntry, records)


async def delivery(conn: Connection, delivery_id: Any) -> DeliveryLogEntry | None:
    record = await conn.fetchrow(
        """SELECT d.*, e.type, s.url FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE d.id = $1""",
        delivery_id,
    )
    return None if record is None else row_as(DeliveryLogEntry, record)


async def attempts_of(conn: Connection, delivery_id: Any) -> list[WebhookDeliveryAttemptRow]:
    records = await conn.fetch(
        "SELECT * FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        delivery_id,
    )
    return rows_as(WebhookDeliveryAttemptRow, records)
