"""Payments and refunds of invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from db.connection import Connection
from db.rows import PaymentRow, RefundRow, row_as
from domain.operators import SYSTEM


async def exists(conn: Connection, invoice_id: Any, reference: str) -> bool:
    """Whether the invoice has a payment with this reference (a payment is recorded once)."""
    found = await conn.fetchval(
        "SELECT 1 FROM payments WHERE invoice_id = $1 AND reference = $2",
        invoice_id,
        reference,
    )
    return found is not None


async def find(conn: Connection, invoice_id: Any, reference: str) -> PaymentRow | None:
    record = await conn.fetchrow(
        "SELECT * FROM payments WHERE invoice_id = $1 AND reference = $2",
        invoice_id,
        reference,
    )
    return row_as(PaymentRow, record) if record is not None else None


async def insert(
    conn: Connection,
    *,
    invoice_id: Any,
    amount: Decimal,
    currency: str,
    paid_at: date,
    reference: str,
    source: str,
    recorded_by: str = SYSTEM,
) -> None:
    """`source`: 'transfer', or 'credit' for the client's credit applied; `recorded_by`:
    the actor (domain.operators)."""
    await conn.execute(
        """INSERT INTO payments (invoice_id, amount, currency, paid_at, reference, source,
               recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        invoice_id,
        amount,
        currency,
        paid_at,
        reference,
        source,
        recorded_by,
    )


async def refund_exists(conn: Connection, invoice_id: Any, reference: str) -> bool:
    """Whether the invoice has a refund with this reference (a refund is recorded once)."""
    found = await conn.fetchval(
        "SELECT 1 FROM refunds WHERE invoice_id = $1 AND reference = $2",
        invoice_id,
        reference,
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class RefundedSoFar:
    """What the earlier refunds of one payment took from the invoice and from credit."""

    from_invoice: Decimal
    from_credit: Decimal


async def refunded_so_far(conn: Connection, payment_id: Any) -> RefundedSoFar:
    record = await conn.fetchrow(
        """SELECT coalesce(sum(from_invoice), 0) AS from_invoice,
                  coalesce(sum(from_credit), 0) AS from_credit
           FROM refunds WHERE payment_id = $1""",
        payment_id,
    )
    assert record is not None
    return RefundedSoFar(
        from_invoice=Decimal(record["from_invoice"]), from_credit=Decimal(record["from_credit"])
    )


async def insert_refund(
    conn: Connection,
    *,
    invoice_id: Any,
    payment_id: Any,
    amount: Decimal,
    from_invoice: Decimal,
    from_credit: Decimal,
    currency: str,
    refunded_at: date,
    reference: str,
    recorded_by: str = SYSTEM,
) -> None:
    await conn.execute(
        """INSERT INTO refunds (invoice_id, payment_id, amount, from_invoice, from_credit,
               currency, refunded_at, reference, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        invoice_id,
        payment_id,
        amount,
        from_invoice,
        from_credit,
        currency,
        refunded_at,
        reference,
        recorded_by,
    )


# --- for starter/api (routers) ---


@dataclass(frozen=True, slots=True)
class RefundOfPayment:
    """A refund with the reference of the payment it gave back."""

    refund: RefundRow
    payment_reference: str


async def refunds_of_invoice(conn: Connection, invoice_id: Any) -> list[RefundOfPayment]:
    """The invoice's refunds, oldest first."""
    records = await conn.fetch(
        """SELECT r.*, p.reference AS payment_reference FROM refunds r
           JOIN payments p ON p.id = r.payment_id
           WHERE r.invoice_id = $1 ORDER BY r.created_at, r.id""",
        invoice_id,
    )
    return [
        RefundOfPayment(row_as(RefundRow, record), record["payment_reference"])
        for record in records
    ]
