"""The email outbox: what was queued and sent."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
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
