"""Invoices: their status moves (each kind of change a named function with fixed SQL), the
status history, and the columns the invoice activities set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from db import keyset
from db.connection import Connection
from db.errors import NotFound
from db.rows import InvoiceRow, InvoiceStatusChangeRow, ProposalRow, row_as, rows_as
from domain.money import Line
from domain.operators import SYSTEM
from domain.status import InvoiceStatus, Reopening, check_transition
from domain.vat import compute_document_totals


async def get(conn: Connection, invoice_id: Any, *, lock: bool = False) -> InvoiceRow:
    """An invoice; `lock` holds its row until the caller's transaction ends."""
    if lock:
        record = await conn.fetchrow("SELECT * FROM invoices WHERE id = $1 FOR UPDATE", invoice_id)
    else:
        record = await conn.fetchrow("SELECT * FROM invoices WHERE id = $1", invoice_id)
    if record is None:
        raise NotFound("invoice", str(invoice_id))
    return row_as(InvoiceRow, record)


async def lock_key_share(conn: Connection, invoice_id: Any) -> None:
    """A key-share lock on the row: it stays, and its id stays, until the caller's
    transaction ends (what a row referring to it needs anyway)."""
    await conn.execute("SELECT 1 FROM invoices WHERE id = $1 FOR KEY SHARE", invoice_id)


async def delete_lines(conn: Connection, invoice_id: Any) -> None:
    await conn.execute("DELETE FROM invoice_lines WHERE invoice_id = $1", invoice_id)


async def _record_status_change(
    conn: Connection,
    invoice_id: Any,
    current: InvoiceStatus,
    target: InvoiceStatus,
    cause: str,
    at: datetime,
    actor: str = SYSTEM,
) -> None:
    if current == target:
        return
    await conn.execute(
        """INSERT INTO invoice_status_changes (invoice_id, from_status, to_status, cause,
               occurred_at, actor) VALUES ($1, $2, $3, $4, $5, $6)""",
        invoice_id,
        current.value,
        target.value,
        cause,
        at,
        actor,
    )


def _checked(
    invoice: InvoiceRow, target: InvoiceStatus, because: Reopening | None
) -> InvoiceStatus:
    """The invoice's status now, after refusing an illegal move to `target`."""
    current = InvoiceStatus(invoice.status)
    check_transition(current, target, because)
    return current


async def change_status(
    conn: Connection,
    invoice: InvoiceRow,
    target: InvoiceStatus,
    cause: str,
    at: datetime,
    actor: str = SYSTEM,
) -> None:
    """Move the invoice to `target` and record why and when; nothing if it is there already.
    `invoice`: its row as read (a record), for its id and current status."""
    current = _checked(invoice, target, None)
    if current == target:
        return
    await conn.execute(
        "UPDATE invoices SET status = $2, updated_at = now() WHERE id = $1",
        invoice.id,
        target.value,
    )
    await _record_status_change(conn, invoice.id, current, target, cause, at, actor)


async def mark_sent(
    conn: Connection,
    invoice: InvoiceRow,
    cause: str,
    at: datetime,
    reminder_plan_json: str,
    actor: str = SYSTEM,
) -> None:
    """Sent: when, and the reminder plan frozen with it."""
    current = _checked(invoice, InvoiceStatus.SENT, None)
    await conn.execute(
        """UPDATE invoices SET status = $2, updated_at = now(), sent_at = $3,
               reminder_plan = $4::jsonb
           WHERE id = $1""",
        invoice.id,
        InvoiceStatus.SENT.value,
        at,
        reminder_plan_json,
    )
    await _record_status_change(conn, invoice.id, current, InvoiceStatus.SENT, cause, at, actor)


async def mark_overdue(conn: Connection, invoice: InvoiceRow, cause: str, at: datetime) -> None:
    """Overdue: the status, and the flag that outlives a partial payment."""
    current = _checked(invoice, InvoiceStatus.OVERDUE, None)
    await conn.execute(
        "UPDATE invoices SET status = $2, updated_at = now(), overdue = true WHERE id = $1",
        invoice.id,
        InvoiceStatus.OVERDUE.value,
    )
    await _record_status_change(conn, invoice.id, current, InvoiceStatus.OVERDUE, cause, at)


async def mark_void(
    conn: Connection,
    invoice: InvoiceRow,
    cause: str,
    at: datetime,
    reason: str | None,
    actor: str = SYSTEM,
) -> None:
    current = _checked(invoice, InvoiceStatus.VOID, None)
    await conn.execute(
        """UPDATE invoices SET status = $2, updated_at = now(), voided_at = $3, void_reason = $4
           WHERE id = $1""",
        invoice.id,
        InvoiceStatus.VOID.value,
        at,
        reason,
    )
    await _record_status_change(conn, invoice.id, current, InvoiceStatus.VOID, cause, at, actor)


async def set_paid_amount(
    conn: Connection,
    invoice: InvoiceRow,
    target: InvoiceStatus,
    cause: str,
    at: datetime,
    amount_paid: Decimal,
    actor: str = SYSTEM,
) -> None:
    """After a payment: the amount paid, the status it leads to, and when it was paid in
    full (`at`, if `target` is paid)."""
    current = _checked(invoice, target, None)
    await conn.execute(
        """UPDATE invoices SET status = $2, updated_at = now(), amount_paid = $3,
               paid_at = CASE WHEN $4::timestamptz IS NULL THEN paid_at ELSE $4 END
           WHERE id = $1""",
        invoice.id,
        target.value,
        amount_paid,
        at if target == InvoiceStatus.PAID else None,
    )
    await _record_status_change(conn, invoice.id, current, target, cause, at, actor)


async def set_refunded_amount(
    conn: Connection,
    invoice: InvoiceRow,
    target: InvoiceStatus,
    cause: str,
    at: datetime,
    amount_paid: Decimal,
    actor: str = SYSTEM,
) -> None:
    """After a refund: the amount paid, and the status moved back as the money and the due
    date say. A paid invoice opened again is no longer paid, and its reminders resume at
    `at` (those planned while it was paid are not sent late)."""
    current = _checked(invoice, target, Reopening.REFUND)
    reopened = current == InvoiceStatus.PAID and target != current
    await conn.execute(
        """UPDATE invoices SET status = $2, updated_at = now(), amount_paid = $3,
               paid_at = CASE WHEN $4 THEN NULL ELSE paid_at END,
               reminders_resumed_at = CASE WHEN $4 THEN $5 ELSE reminders_resumed_at END,
               overdue = overdue OR $6
           WHERE id = $1""",
        invoice.id,
        target.value,
        amount_paid,
        reopened,
        at,
        target == InvoiceStatus.OVERDUE,
    )
    await _record_status_change(conn, invoice.id, current, target, cause, at, actor)


async def reopen_after_due_date_moved(
    conn: Connection,
    invoice: InvoiceRow,
    target: InvoiceStatus,
    cause: str,
    at: datetime,
    actor: str = SYSTEM,
) -> None:
    """A due date moved later: back from overdue to `target`, no longer flagged overdue."""
    current = _checked(invoice, target, Reopening.DUE_DATE_MOVED)
    await conn.execute(
        "UPDATE invoices SET status = $2, updated_at = now(), overdue = false WHERE id = $1",
        invoice.id,
        target.value,
    )
    await _record_status_change(conn, invoice.id, current, target, cause, at, actor)


async def set_approved_by(conn: Connection, invoice_id: Any, actor: str) -> None:
    await conn.execute("UPDATE invoices SET approved_by = $2 WHERE id = $1", invoice_id, actor)


async def set_exchange_rate(conn: Connection, invoice_id: Any, exchange_rate: Decimal) -> None:
    await conn.execute(
        "UPDATE invoices SET exchange_rate = $2 WHERE id = $1", invoice_id, exchange_rate
    )


async def set_pricing(
    conn: Connection, invoice_id: Any, *, prices_include_vat: bool, discount_percent: Decimal
) -> None:
    """Net or gross prices, and the document discount."""
    await conn.execute(
        "UPDATE invoices SET prices_include_vat = $2, discount_percent = $3 WHERE id = $1",
        invoice_id,
        prices_include_vat,
        discount_percent,
    )


async def clear_approval_error(conn: Connection, invoice_id: Any) -> None:
    await conn.execute("UPDATE invoices SET approval_error = NULL WHERE id = $1", invoice_id)


async def set_approval_error(conn: Connection, invoice_id: Any, reason: str) -> None:
    """Why the approval was refused, until the invoice is edited or approved."""
    await conn.execute(
        "UPDATE invoices SET approval_error = $2, updated_at = now() WHERE id = $1",
        invoice_id,
        reason,
    )


async def set_due_date(conn: Connection, invoice_id: Any, due_date: date) -> None:
    await conn.execute("UPDATE invoices SET due_date = $2 WHERE id = $1", invoice_id, due_date)


async def set_notes(conn: Connection, invoice_id: Any, notes: str) -> None:
    await conn.execute("UPDATE invoices SET notes = $2 WHERE id = $1", invoice_id, notes)


async def set_number(
    conn: Connection,
    invoice_id: Any,
    *,
    number: str,
    issue_date: date,
    due_date: date,
    approved_at: datetime,
) -> None:
    """Approved: its number, issue and due dates; a refused approval's reason is gone."""
    await conn.execute(
        """UPDATE invoices SET number = $2, issue_date = $3, due_date = $4,
                   approved_at = $5, approval_error = NULL, updated_at = now()
               WHERE id = $1""",
        invoice_id,
        number,
        issue_date,
        due_date,
        approved_at,
    )


async def set_draft_document(conn: Connection, invoice_id: Any, document_key: str) -> None:
    await conn.execute(
        "UPDATE invoices SET draft_document_key = $2 WHERE id = $1", invoice_id, document_key
    )


async def set_final_document(conn: Connection, invoice_id: Any, document_key: str) -> None:
    await conn.execute(
        "UPDATE invoices SET document_key = $2 WHERE id = $1", invoice_id, document_key
    )


async def set_schedule(
    conn: Connection,
    invoice_id: Any,
    *,
    due_date: date,
    offsets_days: list[int] | None,
    hour: int | None,
    repeat_every_days: int | None,
    repeat_max: int | None,
) -> None:
    """The due date and the invoice's own reminder settings (NULL inherits the client's)."""
    await conn.execute(
        """UPDATE invoices SET due_date = $2, reminder_offsets_days = $3,
               reminder_hour = $4, reminder_repeat_days = $5,
               reminder_repeat_max = $6, updated_at = now()
           WHERE id = $1""",
        invoice_id,
        due_date,
        offsets_days,
        hour,
        repeat_every_days,
        repeat_max,
    )


async def set_reminder_plan(conn: Connection, invoice_id: Any, reminder_plan_json: str) -> None:
    await conn.execute(
        "UPDATE invoices SET reminder_plan = $2::jsonb WHERE id = $1",
        invoice_id,
        reminder_plan_json,
    )


async def pause_reminders(conn: Connection, invoice_id: Any, at: datetime) -> None:
    await conn.execute("UPDATE invoices SET reminders_paused_at = $2 WHERE id = $1", invoice_id, at)


async def resume_reminders(conn: Connection, invoice_id: Any, at: datetime) -> None:
    """Resumed at `at`: the reminders planned while paused are skipped, not sent late."""
    await conn.execute(
        """UPDATE invoices SET reminders_paused_at = NULL, reminders_resumed_at = $2
           WHERE id = $1""",
        invoice_id,
        at,
    )


async def create_draft_from_proposal(conn: Connection, proposal: ProposalRow, series: str) -> UUID:
    """The draft invoice of a signed proposal: its parties, pricing, totals and a copy of
    its lines. `proposal`: its row as read; `series`: the seller's invoice series."""
    invoice_id: UUID = await conn.fetchval(
        """INSERT INTO invoices (company_id, client_id, proposal_id, series, currency,
               payment_terms_days, notes, subtotal, vat_total, total, contract_id,
               prices_include_vat, discount_percent, matter_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           RETURNING id""",
        proposal.company_id,
        proposal.client_id,
        proposal.id,
        series,
        proposal.currency,
        proposal.payment_terms_days,
        proposal.notes,
        proposal.subtotal,
        proposal.vat_total,
        proposal.total,
        proposal.contract_id,
        proposal.prices_include_vat,
        proposal.discount_percent,
        proposal.matter_id,  # the invoice is filed under the proposal's matter
    )
    await conn.execute(
        """INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit,
               unit_price, discount_percent, vat_rate, net_amount, vat_category,
               vat_legal_basis)
           SELECT $1, position, description, quantity, unit, unit_price,
               discount_percent, vat_rate, net_amount, vat_category, vat_legal_basis
           FROM proposal_lines WHERE proposal_id = $2""",
        invoice_id,
        proposal.id,
    )
    return invoice_id


async def set_totals(
    conn: Connection,
    invoice_id: Any,
    items: Sequence[Line],
    currency: str,
    *,
    prices_include_vat: bool = False,
    discount_percent: Decimal = Decimal(0),
) -> None:
    totals = compute_document_totals(
        items,
        currency,
        prices_include_vat=prices_include_vat,
        document_discount_percent=discount_percent,
    )
    await conn.execute(
        """UPDATE invoices SET subtotal = $2, vat_total = $3, total = $4, updated_at = now()
           WHERE id = $1""",
        invoice_id,
        totals.subtotal,
        totals.vat_total,
        totals.total,
    )


# --- for starter/api (routers) ---


# Newest first; the id orders invoices made in the same microsecond.
ORDER = keyset.Order(
    (keyset.Key("created_at", "timestamptz"), keyset.Key("id", "uuid")), descending=True
)


async def list_filtered(
    conn: Connection,
    *,
    status: str | None,
    client_id: UUID | None,
    number: str | None,
    after: Sequence[Any] | None,
    limit: int,
    matter_id: UUID | None = None,
) -> list[InvoiceRow]:
    """The invoices in ORDER (newest first) after the key `after`, of one status, one
    client, one number (exact) and one matter when given."""
    records = await conn.fetch(
        """SELECT * FROM invoices
           WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR client_id = $2)
             AND ($3::text IS NULL OR number = $3)
             AND (created_at, id) < ($4::timestamptz, $5::uuid)
             AND ($7::uuid IS NULL OR matter_id = $7)
           ORDER BY created_at DESC, id DESC LIMIT $6""",
        status,
        client_id,
        number,
        *ORDER.params(after),
        limit,
        matter_id,
    )
    return rows_as(InvoiceRow, records)


async def status_history(conn: Connection, invoice_id: Any) -> list[InvoiceStatusChangeRow]:
    """Every status change of the invoice, in the order they happened."""
    records = await conn.fetch(
        "SELECT * FROM invoice_status_changes WHERE invoice_id = $1 ORDER BY id", invoice_id
    )
    return rows_as(InvoiceStatusChangeRow, records)


async def ids_of_client_in(conn: Connection, client_id: Any, statuses: Sequence[str]) -> list[UUID]:
    """The ids of the client's invoices in one of `statuses`, oldest first."""
    records = await conn.fetch(
        """SELECT id FROM invoices WHERE client_id = $1 AND status = ANY($2::text[])
           ORDER BY created_at""",
        client_id,
        list(statuses),
    )
    return [record["id"] for record in records]


async def of_contract(conn: Connection, contract_id: Any) -> list[InvoiceRow]:
    """The invoices made from a contract, oldest first."""
    records = await conn.fetch(
        "SELECT * FROM invoices WHERE contract_id = $1 ORDER BY created_at", contract_id
    )
    return rows_as(InvoiceRow, records)


async def by_request_key(conn: Connection, company_id: Any, request_key: str) -> InvoiceRow | None:
    """The invoice a request with this Idempotency-Key made, if one did."""
    record = await conn.fetchrow(
        "SELECT * FROM invoices WHERE company_id = $1 AND request_key = $2",
        company_id,
        request_key,
    )
    return row_as(InvoiceRow, record) if record is not None else None


@dataclass(frozen=True, slots=True)
class NewContractInvoice:
    """A draft invoice's columns as made from a contract (its lines are stored apart)."""

    company_id: Any
    client_id: Any
    contract_id: Any
    series: str
    currency: str
    payment_terms_days: int
    notes: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    prices_include_vat: bool
    discount_percent: Decimal
    exchange_rate: Decimal | None
    request_key: str | None
    # Inherited from the contract: the matter (case) the invoice is filed under.
    matter_id: Any = None


async def insert_from_contract(conn: Connection, invoice: NewContractInvoice) -> UUID | None:
    """The new draft's id; None when a request with the same key made one already."""
    invoice_id: UUID | None = await conn.fetchval(
        """INSERT INTO invoices (company_id, client_id, contract_id, series, currency,
               payment_terms_days, notes, subtotal, vat_total, total,
               prices_include_vat, discount_percent, exchange_rate, request_key, matter_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (company_id, request_key) WHERE request_key IS NOT NULL
           DO NOTHING
           RETURNING id""",
        invoice.company_id,
        invoice.client_id,
        invoice.contract_id,
        invoice.series,
        invoice.currency,
        invoice.payment_terms_days,
        invoice.notes,
        invoice.subtotal,
        invoice.vat_total,
        invoice.total,
        invoice.prices_include_vat,
        invoice.discount_percent,
        invoice.exchange_rate,
        invoice.request_key,
        invoice.matter_id,
    )
    return invoice_id


async def delete_draft_with_lines(conn: Connection, invoice_id: Any) -> None:
    """Take back a draft whose workflow never started, lines and all (in a transaction)."""
    await delete_lines(conn, invoice_id)
    await conn.execute("DELETE FROM invoices WHERE id = $1", invoice_id)


async def by_number(conn: Connection, company_id: Any, number: str | None) -> InvoiceRow | None:
    """The company's invoice with this legal number."""
    record = await conn.fetchrow(
        "SELECT * FROM invoices WHERE company_id = $1 AND number = $2", company_id, number
    )
    return row_as(InvoiceRow, record) if record is not None else None
