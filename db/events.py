"""Outbound events' webhook deliveries: which are pending, what to post, each attempt.
(Recording an event and its deliveries is db.store.emit_event, shared with starter/.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.connection import Connection


async def make_failed_deliveries_pending(conn: Connection) -> None:
    """Failed deliveries of subscriptions still active are retried, their attempts kept."""
    await conn.execute(
        """UPDATE webhook_deliveries d SET status = 'pending', failed_at = NULL
           FROM webhook_subscriptions s
           WHERE s.id = d.subscription_id AND s.disabled_at IS NULL
             AND d.status = 'failed'"""
    )


async def pending_delivery_ids(conn: Connection, limit: int) -> list[str]:
    """The oldest pending deliveries of subscriptions still active."""
    records = await conn.fetch(
        """SELECT d.id::text AS id FROM webhook_deliveries d
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE d.status = 'pending' AND s.disabled_at IS NULL
           ORDER BY d.created_at, d.id LIMIT $1""",
        limit,
    )
    return [str(record["id"]) for record in records]


@dataclass(frozen=True, slots=True)
class DeliveryToPost:
    """A delivery with its event and its subscription's URL and secret."""

    status: str
    attempts: int
    url: str
    secret: str
    subscription_disabled_at: datetime | None
    event_id: str
    event_type: str
    payload: Any
    occurred_at: datetime
    seq: int


async def delivery_to_post(conn: Connection, delivery_id: Any) -> DeliveryToPost | None:
    """None if there is no such delivery (the transaction that emitted it rolled back)."""
    record = await conn.fetchrow(
        """SELECT d.status, d.attempts, s.url, s.secret, s.disabled_at, e.id AS event_id,
                  e.type, e.payload, e.occurred_at, e.seq
           FROM webhook_deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE d.id = $1""",
        delivery_id,
    )
    if record is None:
        return None
    return DeliveryToPost(
        status=record["status"],
        attempts=record["attempts"],
        url=record["url"],
        secret=record["secret"],
        subscription_disabled_at=record["disabled_at"],
        event_id=str(record["event_id"]),
        event_type=record["type"],
        payload=record["payload"],
        occurred_at=record["occurred_at"],
        seq=record["seq"],
    )


async def cancel_pending_delivery(conn: Connection, delivery_id: Any) -> None:
    await conn.execute(
        """UPDATE webhook_deliveries SET status = 'cancelled'
           WHERE id = $1 AND status = 'pending'""",
        delivery_id,
    )


async def record_attempt(
    conn: Connection,
    delivery_id: Any,
    *,
    started_at: datetime,
    duration_ms: int,
    status_code: int | None,
    error: str,
    delivered: bool,
) -> int:
    """Count the attempt on the delivery (delivered, if it was) and log it; its number."""
    attempt: int = await conn.fetchval(
        """UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $2,
               last_status_code = $3, last_error = $4,
               status = CASE WHEN $5 THEN 'delivered' ELSE status END,
               delivered_at = CASE WHEN $5 THEN coalesce(delivered_at, now())
                              ELSE delivered_at END
           WHERE id = $1 RETURNING attempts""",
        delivery_id,
        started_at,
        status_code,
        error,
        delivered,
    )
    await conn.execute(
        """INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at,
               duration_ms, status_code, error)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        delivery_id,
        attempt,
        started_at,
        duration_ms,
        status_code,
        error,
    )
    return attempt


async def mark_delivery_failed(conn: Connection, delivery_id: Any) -> None:
    """Failed for good (its retries spent), unless it is no longer pending."""
    await conn.execute(
        """UPDATE webhook_deliveries SET status = 'failed', failed_at = now()
           WHERE id = $1 AND status = 'pending'""",
        delivery_id,
    )
