"""Proposals: their number, documents, email and closing moves, and the sign links."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from db.connection import Connection


async def set_number(
    conn: Connection, proposal_id: Any, *, series: str, number: str, issue_date: date
) -> None:
    await conn.execute(
        """UPDATE proposals SET series = $2, number = $3, issue_date = $4, updated_at = now()
           WHERE id = $1""",
        proposal_id,
        series,
        number,
        issue_date,
    )


async def set_document(conn: Connection, proposal_id: Any, document_key: str) -> None:
    await conn.execute(
        "UPDATE proposals SET document_key = $2 WHERE id = $1", proposal_id, document_key
    )


async def set_signed_document(conn: Connection, proposal_id: Any, document_key: str) -> None:
    """The signed PDF (the proposal with its signature certificate appended)."""
    await conn.execute(
        "UPDATE proposals SET signed_document_key = $2, updated_at = now() WHERE id = $1",
        proposal_id,
        document_key,
    )


async def mark_emailed_from_outbox(
    conn: Connection, proposal_id: Any, idempotency_key: str
) -> None:
    """Copy the outbox email's sent time onto the proposal, once it is sent, once."""
    await conn.execute(
        """UPDATE proposals SET emailed_at = o.sent_at, updated_at = now()
           FROM email_outbox o WHERE o.idempotency_key = $2 AND proposals.id = $1
           AND proposals.emailed_at IS NULL""",
        proposal_id,
        idempotency_key,
    )


async def mark_signed(
    conn: Connection, proposal_id: Any, *, signed_at: datetime, invoice_id: Any
) -> None:
    """Signed, with the draft invoice made of it; its sign links are used up."""
    await conn.execute(
        """UPDATE proposals SET status = 'signed', signed_at = $2, invoice_id = $3,
               updated_at = now() WHERE id = $1""",
        proposal_id,
        signed_at,
        invoice_id,
    )
    await conn.execute(
        """UPDATE access_tokens SET used_at = $2
           WHERE proposal_id = $1 AND purpose = 'sign' AND used_at IS NULL""",
        proposal_id,
        signed_at,
    )


async def mark_declined(
    conn: Connection, proposal_id: Any, *, at: datetime, reason: str | None
) -> None:
    await conn.execute(
        """UPDATE proposals SET status = 'declined', declined_at = $2, decline_reason = $3,
               updated_at = now() WHERE id = $1""",
        proposal_id,
        at,
        reason,
    )


async def mark_expired(
    conn: Connection, proposal_id: Any, *, at: datetime, reason: str | None
) -> None:
    await conn.execute(
        """UPDATE proposals SET status = 'expired', expired_at = $2, decline_reason = $3,
               updated_at = now() WHERE id = $1""",
        proposal_id,
        at,
        reason,
    )
