"""What the resend route reads of its outbox rows (activities.resend writes them)."""

from __future__ import annotations

from db.connection import Connection


async def queued_address(conn: Connection, outbox_key: str) -> str | None:
    """The address a resend's message was queued to, or None before it is queued."""
    address: str | None = await conn.fetchval(
        "SELECT to_address FROM email_outbox WHERE idempotency_key = $1", outbox_key
    )
    return address
