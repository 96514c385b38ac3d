"""Inbound webhooks: the inbox of deliveries (stored once per source and event id, then
marked processed with their outcome), the refused ones, the clients a CRM names, and the
payments parked for an operator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from db import clients
from db.connection import Connection, lock_key
from db.rows import UnmatchedPaymentRow, WebhookEventRow, row_as


async def record_rejection(
    conn: Connection,
    *,
    source: str,
    reason: str,
    remote_ip: str,
    signature_header: str,
    body_sha256: str,
) -> None:
    """A request refused before its body was trusted: who sent what, never the body."""
    await conn.execute(
        """INSERT INTO webhook_rejections (source, reason, remote_ip, signature_header,
               body_sha256) VALUES ($1, $2, $3, $4, $5)""",
        source,
        reason,
        remote_ip,
        signature_header,
        body_sha256,
    )


async def insert_event(
    conn: Connection, source: str, event_id: str, payload_json: str
) -> WebhookEventRow | None:
    """The newly stored event; None when one is stored already under (source, event id)."""
    record = await conn.fetchrow(
        """INSERT INTO webhook_events (source, event_id, payload) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (source, event_id) DO NOTHING RETURNING *""",
        source,
        event_id,
        payload_json,
    )
    return row_as(WebhookEventRow, record) if record is not None else None


async def find_event(conn: Connection, source: str, event_id: str) -> WebhookEventRow | None:
    record = await conn.fetchrow(
        "SELECT * FROM webhook_events WHERE source = $1 AND event_id = $2", source, event_id
    )
    return row_as(WebhookEventRow, record) if record is not None else None


async def mark_processed(conn: Connection, row_id: int, outcome: str) -> None:
    """The event's outcome; an event already processed keeps its first one."""
    await conn.execute(
        """UPDATE webhook_events SET processed_at = now(), outcome = $2
           WHERE id = $1 AND processed_at IS NULL""",
        row_id,
        outcome,
    )


async def lock_unprocessed(conn: Connection, row_id: int) -> bool:
    """Hold the event's row until the caller's transaction ends; whether it is still
    unprocessed (so the caller's effect runs once, whoever else delivers it meanwhile)."""
    found = await conn.fetchrow(
        "SELECT processed_at FROM webhook_events WHERE id = $1 FOR UPDATE", row_id
    )
    return found is not None and found["processed_at"] is None


async def forget_unprocessed(conn: Connection, row_id: int) -> None:
    """Take back an event refused as invalid, so the sender may fix it and send it again."""
    await conn.execute("DELETE FROM webhook_events WHERE id = $1 AND processed_at IS NULL", row_id)


# --- the CRM's clients -------------------------------------------------------------------


async def client_for_crm(conn: Connection, company_id: Any, client: clients.NewClient) -> UUID:
    """The company's client with this email (the oldest, if several), else a new one.

    Two events naming the same new client at once do not create it twice."""
    async with conn.transaction():
        await lock_key(conn, f"client:{company_id}:{client.email.lower()}")
        existing: UUID | None = await conn.fetchval(
            """SELECT id FROM clients WHERE company_id = $1 AND lower(email) = lower($2)
               ORDER BY created_at, id LIMIT 1""",
            company_id,
            client.email,
        )
        if existing is not None:
            return existing
        # One tax id per company: a client the CRM names by another email but with the tax
        # id of a client we have is that client (same_tax_id's lock covers the insert).
        same = await clients.same_tax_id(conn, company_id, client.tax_id)
        if same is not None:
            return same.id
        return await clients.insert(conn, company_id, client)


# --- payments that could not be applied --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParkedPayment:
    """A payment a webhook reported that cannot be applied, as it is kept."""

    webhook_event_id: int
    invoice_ref: str
    invoice_id: UUID | None
    amount: Decimal
    currency: str
    reference: str
    paid_at: datetime
    reason: str


async def park_payment(conn: Connection, payment: ParkedPayment) -> None:
    """Kept once per webhook event."""
    await conn.execute(
        """INSERT INTO unmatched_payments (webhook_event_id, invoice_ref, invoice_id,
               amount, currency, reference, paid_at, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (webhook_event_id) DO NOTHING""",
        payment.webhook_event_id,
        payment.invoice_ref,
        payment.invoice_id,
        payment.amount,
        payment.currency,
        payment.reference,
        payment.paid_at,
        payment.reason,
    )


async def parked_payment_id(conn: Connection, webhook_event_id: int) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM unmatched_payments WHERE webhook_event_id = $1", webhook_event_id
    )
    return found


@dataclass(frozen=True, slots=True)
class UnmatchedPayment:
    """A parked payment with its webhook event id and the invoice it names, if any."""

    payment: UnmatchedPaymentRow
    event_id: str | None
    invoice_number: str | None
    invoice_status: str | None


async def unmatched_payments(
    conn: Connection, *, include_resolved: bool, limit: int
) -> list[UnmatchedPayment]:
    """Newest first."""
    records = await conn.fetch(
        """SELECT u.*, e.event_id, i.number AS invoice_number, i.status AS invoice_status
           FROM unmatched_payments u
           LEFT JOIN webhook_events e ON e.id = u.webhook_event_id
           LEFT JOIN invoices i ON i.id = u.invoice_id
           WHERE $1 OR u.resolved_at IS NULL
           ORDER BY u.created_at DESC, u.id LIMIT $2""",
        include_resolved,
        limit,
    )
    return [
        UnmatchedPayment(
            row_as(UnmatchedPaymentRow, record),
            record["event_id"],
            record["invoice_number"],
            record["invoice_status"],
        )
        for record in records
    ]
