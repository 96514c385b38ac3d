"""The receivables reports' and accountant exports' reads: each a fixed query whose rows
are small typed records (the reports are computed in domain.reports and starter/api)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from db.connection import Connection
from db.rows import ClientRow, InvoiceRow, row_as, rows_as


@dataclass(frozen=True, slots=True)
class OpenReceivable:
    """What is still due on one open invoice, with its client's name."""

    client_id: UUID
    client_name: str
    currency: str
    due_date: date  # an invoice open for payment was issued, so it has one
    due: Decimal


async def open_receivables(
    conn: Connection,
    statuses: Sequence[str],
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> list[OpenReceivable]:
    """Invoices in one of `statuses` with money still due, of one client and of one matter
    when given."""
    records = await conn.fetch(
        """SELECT i.client_id, c.name, i.currency, i.due_date, i.total - i.amount_paid AS due
           FROM invoices i JOIN clients c ON c.id = i.client_id
           WHERE i.status = ANY($1::text[]) AND i.total > i.amount_paid
             AND ($2::uuid IS NULL OR i.client_id = $2)
             AND ($3::uuid IS NULL OR i.matter_id = $3)""",
        list(statuses),
        client_id,
        matter_id,
    )
    return [
        OpenReceivable(r["client_id"], r["name"], r["currency"], r["due_date"], r["due"])
        for r in records
    ]


@dataclass(frozen=True, slots=True)
class NumberedInvoice:
    """An invoice that has a number, with its client's name and tax id."""

    invoice: InvoiceRow
    client_name: str
    client_tax_id: str
    # Its RO e-Factura submission ("" / None when it has none).
    efactura_status: str = ""
    efactura_upload_index: str | None = None
    efactura_download_id: str | None = None


async def numbered_invoices(
    conn: Connection,
    *,
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> list[NumberedInvoice]:
    """Numbered invoices issued in the period (either end open), by issue date and number."""
    records = await conn.fetch(
        """SELECT i.*,
                  -- The buyer as the invoice was issued to it (issue 15 point 2), else live.
                  coalesce(i.issued_parties->'buyer'->>'name', c.name) AS client_name,
                  coalesce(i.issued_parties->'buyer'->>'tax_id', c.tax_id) AS client_tax_id,
                  e.status AS efactura_status, e.upload_index AS efactura_upload_index,
                  e.download_id AS efactura_download_id
           FROM invoices i JOIN clients c ON c.id = i.client_id
           LEFT JOIN efactura_submissions e
               ON e.document_kind = 'invoice' AND e.document_id = i.id
           WHERE i.number IS NOT NULL
             AND ($1::date IS NULL OR i.issue_date >= $1)
             AND ($2::date IS NULL OR i.issue_date <= $2)
             AND ($3::text IS NULL OR i.status = $3)
             AND ($4::uuid IS NULL OR i.client_id = $4)
             AND ($5::uuid IS NULL OR i.matter_id = $5)
           ORDER BY i.issue_date, i.number""",
        date_from,
        date_to,
        status,
        client_id,
        matter_id,
    )
    return [
        NumberedInvoice(
            row_as(InvoiceRow, r),
            r["client_name"],
            r["client_tax_id"],
            r["efactura_status"] or "",
            r["efactura_upload_index"],
            r["efactura_download_id"],
        )
        for r in records
    ]


@dataclass(frozen=True, slots=True)
class MoneyMovement:
    """A payment received (positive) or a refund paid (negative) on an invoice."""

    paid_at: date
    invoice_number: str | None
    client_name: str
    client_tax_id: str
    amount: Decimal
    currency: str
    reference: str
    kind: str


async def money_movements(
    conn: Connection,
    *,
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> list[MoneyMovement]:
    """Payments and refunds in the period, of invoices in `status` and of one client when
    given; a refund's amount is negative, so the amounts sum to net cash."""
    records = await conn.fetch(
        """SELECT * FROM (
               SELECT p.paid_at, i.number, c.name, c.tax_id, p.amount, p.currency,
                      p.reference, 'payment' || CASE WHEN p.source = 'credit'
                          THEN ' from credit' ELSE '' END AS kind,
                      i.status, i.client_id, i.matter_id
               FROM payments p JOIN invoices i ON i.id = p.invoice_id
               JOIN clients c ON c.id = i.client_id
               UNION ALL
               SELECT r.refunded_at, i.number, c.name, c.tax_id, -r.amount, r.currency,
                      r.reference, 'refund', i.status, i.client_id,
                      i.matter_id
               FROM refunds r JOIN invoices i ON i.id = r.invoice_id
               JOIN clients c ON c.id = i.client_id
           ) movements
           WHERE ($1::date IS NULL OR paid_at >= $1) AND ($2::date IS NULL OR paid_at <= $2)
             AND ($3::text IS NULL OR status = $3) AND ($4::uuid IS NULL OR client_id = $4)
             AND ($5::uuid IS NULL OR matter_id = $5)
           ORDER BY paid_at, number, reference""",
        date_from,
        date_to,
        status,
        client_id,
        matter_id,
    )
    return [
        MoneyMovement(
            r["paid_at"],
            r["number"],
            r["name"],
            r["tax_id"],
            r["amount"],
            r["currency"],
            r["reference"],
            r["kind"],
        )
        for r in records
    ]


async def clients_by_name(conn: Connection, client_id: UUID | None) -> list[ClientRow]:
    """Every client (or the one given), by name."""
    records = await conn.fetch(
        "SELECT * FROM clients WHERE ($1::uuid IS NULL OR id = $1) ORDER BY name, id",
        client_id,
    )
    return rows_as(ClientRow, records)


@dataclass(frozen=True, slots=True)
class DatedAmount:
    """An amount of a currency on a day: an invoice's total, or cash in or out."""

    day: date
    currency: str
    amount: Decimal


async def invoiced_between(
    conn: Connection, start: date, end: date, matter_id: UUID | None = None
) -> list[DatedAmount]:
    """The totals of the invoices (not void) issued from `start` to `end`, of one matter
    when given."""
    records = await conn.fetch(
        """SELECT issue_date, currency, total FROM invoices
           WHERE status <> 'void' AND issue_date BETWEEN $1 AND $2
             AND ($3::uuid IS NULL OR matter_id = $3)""",
        start,
        end,
        matter_id,
    )
    return [DatedAmount(r["issue_date"], r["currency"], r["total"]) for r in records]


async def collected_between(
    conn: Connection, start: date, end: date, matter_id: UUID | None = None
) -> list[DatedAmount]:
    """Cash in from `start` to `end`: transfers received (credit applied is not new money),
    and refunds paid as negative amounts; on one matter's invoices when given."""
    records = await conn.fetch(
        """SELECT paid_at AS day, currency, amount FROM payments
           WHERE paid_at BETWEEN $1 AND $2 AND source = 'transfer'
             AND ($3::uuid IS NULL
                  OR invoice_id IN (SELECT id FROM invoices WHERE matter_id = $3))
           UNION ALL
           SELECT refunded_at, currency, -amount FROM refunds
           WHERE refunded_at BETWEEN $1 AND $2
             AND ($3::uuid IS NULL
                  OR invoice_id IN (SELECT id FROM invoices WHERE matter_id = $3))""",
        start,
        end,
        matter_id,
    )
    return [DatedAmount(r["day"], r["currency"], r["amount"]) for r in records]


@dataclass(frozen=True, slots=True)
class SalesOutstanding:
    """Per currency: invoiced in the DSO period and still receivable at its end (None when
    there was nothing to sum)."""

    currency: str
    invoiced: Decimal | None
    receivable: Decimal | None


async def sales_outstanding(
    conn: Connection,
    end: date,
    period_start: date,
    open_statuses: Sequence[str],
    matter_id: UUID | None = None,
) -> list[SalesOutstanding]:
    records = await conn.fetch(
        """SELECT currency,
                  sum(total) FILTER (WHERE issue_date >= $2) AS invoiced,
                  sum(total - amount_paid) FILTER (WHERE status = ANY($3::text[]))
                      AS receivable
           FROM invoices WHERE status <> 'void' AND issue_date <= $1
             AND ($4::uuid IS NULL OR matter_id = $4)
           GROUP BY currency ORDER BY currency""",
        end,
        period_start,
        list(open_statuses),
        matter_id,
    )
    return [SalesOutstanding(r["currency"], r["invoiced"], r["receivable"]) for r in records]
