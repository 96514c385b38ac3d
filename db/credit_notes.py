"""Credit notes (storno) of voided invoices: one per invoice, ever."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from db import keyset
from db.connection import Connection
from db.errors import NotFound
from db.rows import CreditNoteRow, row_as, rows_as


async def get(conn: Connection, credit_note_id: Any) -> CreditNoteRow:
    record = await conn.fetchrow("SELECT * FROM credit_notes WHERE id = $1", credit_note_id)
    if record is None:
        raise NotFound("credit note", str(credit_note_id))
    return row_as(CreditNoteRow, record)


async def of_invoice(conn: Connection, invoice_id: Any) -> CreditNoteRow | None:
    record = await conn.fetchrow("SELECT * FROM credit_notes WHERE invoice_id = $1", invoice_id)
    return row_as(CreditNoteRow, record) if record is not None else None


@dataclass(frozen=True, slots=True)
class NewCreditNote:
    """A credit note's columns as issued (the rest are defaults or set later)."""

    company_id: Any
    client_id: Any
    invoice_id: Any
    series: str
    number: str
    issue_date: date
    currency: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    vat_groups: list[dict[str, Any]]
    original_number: str
    original_issue_date: date
    reason: str
    amount_received: Decimal
    issued_at: datetime


async def insert(conn: Connection, note: NewCreditNote) -> CreditNoteRow:
    """Store the credit note and link the invoice to it, in the caller's transaction."""
    record = await conn.fetchrow(
        """INSERT INTO credit_notes (company_id, client_id, invoice_id, series, number,
               issue_date, currency, subtotal, vat_total, total, vat_groups,
               original_number, original_issue_date, reason, amount_received, issued_at,
               matter_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14,
               $15, $16, (SELECT matter_id FROM invoices WHERE id = $3))
           RETURNING *""",
        note.company_id,
        note.client_id,
        note.invoice_id,
        note.series,
        note.number,
        note.issue_date,
        note.currency,
        note.subtotal,
        note.vat_total,
        note.total,
        json.dumps(note.vat_groups),
        note.original_number,
        note.original_issue_date,
        note.reason,
        note.amount_received,
        note.issued_at,
    )
    assert record is not None
    stored = row_as(CreditNoteRow, record)
    await conn.execute(
        """UPDATE invoices SET credit_note_id = $2, credit_note_number = $3,
               updated_at = now() WHERE id = $1""",
        note.invoice_id,
        stored.id,
        stored.number,
    )
    return stored


async def set_document(conn: Connection, credit_note_id: Any, document_key: str) -> None:
    await conn.execute(
        "UPDATE credit_notes SET document_key = $2 WHERE id = $1", credit_note_id, document_key
    )


async def mark_sent_from_outbox(
    conn: Connection, credit_note_id: Any, idempotency_key: str
) -> datetime | None:
    """Copy the outbox email's sent time onto the credit note, once: the time set now, or
    None if the email is not sent yet or the note was marked sent already."""
    sent_at: datetime | None = await conn.fetchval(
        """UPDATE credit_notes SET sent_at = o.sent_at
           FROM email_outbox o WHERE o.idempotency_key = $2
               AND credit_notes.id = $1 AND credit_notes.sent_at IS NULL
           RETURNING credit_notes.sent_at""",
        credit_note_id,
        idempotency_key,
    )
    return sent_at


# --- for starter/api (routers) ---


# Newest issued first; the id orders notes issued in the same microsecond.
ORDER = keyset.Order(
    (keyset.Key("issued_at", "timestamptz"), keyset.Key("id", "uuid")), descending=True
)


async def list_for_company(
    conn: Connection,
    company_id: Any,
    *,
    client_id: Any | None,
    invoice_id: Any | None,
    after: Sequence[Any] | None,
    limit: int,
    matter_id: Any | None = None,
) -> list[CreditNoteRow]:
    """The company's credit notes in ORDER after the key `after`, of one client, invoice
    and matter when given."""
    records = await conn.fetch(
        """SELECT * FROM credit_notes
           WHERE company_id = $1 AND ($2::uuid IS NULL OR client_id = $2)
             AND ($3::uuid IS NULL OR invoice_id = $3)
             AND (issued_at, id) < ($4::timestamptz, $5::uuid)
             AND ($7::uuid IS NULL OR matter_id = $7)
           ORDER BY issued_at DESC, id DESC LIMIT $6""",
        company_id,
        client_id,
        invoice_id,
        *ORDER.params(after),
        limit,
        matter_id,
    )
    return rows_as(CreditNoteRow, records)
