"""The email outbox: what was queued and sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.connection import Connection
from db.rows import EmailOutboxRow, row_as, rows_as
from domain.reminder_plan import step_of_key


async def sent_reminder_steps(conn: Connection, invoice_id: Any) -> set[int]:
    """The steps whose email went out (the outbox says so, whatever the workflow thinks)."""
    rows = await conn.fetch(
        """SELECT idempotency_key FROM email_outbox
           WHERE invoice_id = $1 AND kind = 'reminder' AND status = 'sent'""",
        invoice_id,
    )
    return {step for row in rows if (step := step_of_key(row["idempotency_key"])) is not None}


async def is_queued(conn: Connection, idempotency_key: str) -> bool:
    """Whether an email with this idempotency key is in the outbox already."""
    found = await conn.fetchval(
        "SELECT 1 FROM email_outbox WHERE idempotency_key = $1", idempotency_key
    )
    return found is not None


async def enqueue(
    conn: Connection,
    *,
    idempotency_key: str,
    message_id: str,
    kind: str,
    proposal_id: Any,
    invoice_id: Any,
    to_address: str,
    subject: str,
    body_text: str,
    attachments: list[dict[str, str]],
    scheduled_for: datetime | None,
) -> None:
    """Store the message unless a message with its key exists."""
    await conn.execute(
        """INSERT INTO email_outbox (idempotency_key, message_id, kind, proposal_id,
               invoice_id, to_address, subject, body_text, attachments, scheduled_for)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
           ON CONFLICT (idempotency_key) DO NOTHING""",
        idempotency_key,
        message_id,
        kind,
        proposal_id,
        invoice_id,
        to_address,
        subject,
        body_text,
        json.dumps(attachments),
        scheduled_for,
    )


async def claim_attempt(conn: Connection, idempotency_key: str) -> EmailOutboxRow | None:
    """Count an attempt at sending a message not sent yet, taking its row lock (so two
    concurrent attempts do not both send); None if it is sent or does not exist."""
    record = await conn.fetchrow(
        """UPDATE email_outbox SET attempts = attempts + 1
           WHERE idempotency_key = $1 AND status <> 'sent'
           RETURNING *""",
        idempotency_key,
    )
    return row_as(EmailOutboxRow, record) if record is not None else None


async def mark_sent(conn: Connection, email_id: Any) -> None:
    await conn.execute(
        "UPDATE email_outbox SET status = 'sent', sent_at = now() WHERE id = $1", email_id
    )


async def attachment_content(conn: Connection, document_key: str) -> bytes | None:
    content = await conn.fetchval("SELECT content FROM documents WHERE key = $1", document_key)
    return bytes(content) if content is not None else None


async def sent_at(conn: Connection, idempotency_key: str) -> datetime | None:
    """When the message went out; None if it has not."""
    at: datetime | None = await conn.fetchval(
        "SELECT sent_at FROM email_outbox WHERE idempotency_key = $1 AND status = 'sent'",
        idempotency_key,
    )
    return at


# --- for starter/api (routers) ---


async def sent_reminders(conn: Connection, invoice_id: Any) -> list[EmailOutboxRow]:
    """The invoice's reminder emails that went out, in the order they were scheduled."""
    records = await conn.fetch(
        """SELECT * FROM email_outbox
           WHERE invoice_id = $1 AND kind = 'reminder' AND status = 'sent'
           ORDER BY scheduled_for, idempotency_key""",
        invoice_id,
    )
    return rows_as(EmailOutboxRow, records)


# --- for activities/metrics.py ---


@dataclass(frozen=True)
class Backlog:
    """The emails queued and not sent yet, and how long the oldest has waited."""

    pending: int
    oldest_age_seconds: float


# Read every few seconds: it must stay on the partial index of pending rows.
BACKLOG_SQL = """SELECT count(*) AS pending,
                        coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest
                 FROM email_outbox WHERE status = 'pending'"""


async def backlog(conn: Connection) -> Backlog:
    record = await conn.fetchrow(BACKLOG_SQL)
    assert record is not None  # an aggregate always answers one row
    return Backlog(pending=int(record["pending"]), oldest_age_seconds=float(record["oldest"]))
