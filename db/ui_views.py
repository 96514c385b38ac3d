"""What the Temporal UI shows of an invoice or a proposal (issue 15, point 1): read here,
formatted by domain.ui_summary. The workflows get it inside the results of the steps they
run anyway (InvoiceSnapshot.view, ProposalSent.view); the API, at a workflow's start, for
its static summary.

Only what an operator sees in q2c: the client's name, never its email, tax id or IBAN."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from db import companies, invoices, proposals
from db.connection import Connection
from db.rows import CompanyRow, InvoiceRow, ProposalRow
from domain.money import amount_due, round_money
from domain.ui_summary import MAX_DETAIL_LINES, document_summary, money
from messages.models import InvoiceView, LineView, ProposalView


async def client_name(conn: Connection, client_id: Any) -> str:
    name = await conn.fetchval("SELECT name FROM clients WHERE id = $1", client_id)
    return str(name or "")


async def invoice_view(conn: Connection, row: InvoiceRow, seller: CompanyRow) -> InvoiceView:
    """The client's name, the totals and the first MAX_DETAIL_LINES lines, in one round
    trip with the lines' count (every step's snapshot reads it: an invoice of 500 lines
    costs no more than one of 10)."""
    currency = row.currency.strip()
    records = await conn.fetch(
        """SELECT c.name AS client_name,
                  (SELECT count(*) FROM invoice_lines WHERE invoice_id = $1) AS line_count,
                  l.description, l.quantity, l.unit, l.net_amount, l.vat_rate
           FROM clients c
           LEFT JOIN LATERAL (
               SELECT description, quantity, unit, net_amount, vat_rate, position
               FROM invoice_lines WHERE invoice_id = $1 ORDER BY position LIMIT $3
           ) l ON true
           WHERE c.id = $2
           ORDER BY l.position""",
        row.id,
        row.client_id,
        MAX_DETAIL_LINES,
    )
    locale = seller.locale

    def text(amount: Decimal) -> str:
        return money(round_money(amount, currency), currency, locale)

    return InvoiceView(
        client_name=str(records[0]["client_name"]) if records else "",
        subtotal=text(row.subtotal),
        vat_total=text(row.vat_total),
        total=text(row.total),
        amount_paid=text(row.amount_paid),
        amount_due=text(amount_due(row.total, row.amount_paid)),
        lines=[
            LineView(
                description=r["description"],
                quantity=_plain(r["quantity"]),
                unit=r["unit"] or "",
                net=text(r["net_amount"]),
                vat_rate=_plain(r["vat_rate"]),
            )
            for r in records
            if r["description"] is not None
        ],
        line_count=int(records[0]["line_count"]) if records else 0,
    )


async def invoice_summary(conn: Connection, invoice_id: Any) -> str:
    """The static summary of the invoice's workflow, e.g.
    `INV-2026-00012 · Exemplu SRL · 4.477,00 RON` (a draft: `draft invoice 1a2b3c4d · …`)."""
    row = await invoices.get(conn, invoice_id)
    seller = await companies.get(conn, row.company_id)
    return document_summary(
        number=row.number,
        document_id=str(row.id),
        client_name=await client_name(conn, row.client_id),
        total_text=_total(row, seller),
    )


async def proposal_view(conn: Connection, row: ProposalRow, seller: CompanyRow) -> ProposalView:
    return ProposalView(
        number=row.number,
        client_name=await client_name(conn, row.client_id),
        total=_total(row, seller),
        valid_until=row.valid_until.isoformat(),
    )


async def proposal_summary(conn: Connection, proposal_id: Any) -> str:
    """The static summary of the proposal's workflow (`PRO-… · client · total`)."""
    row = await proposals.get(conn, proposal_id)
    seller = await companies.get(conn, row.company_id)
    return document_summary(
        number=row.number,
        document_id=str(row.id),
        client_name=await client_name(conn, row.client_id),
        total_text=_total(row, seller),
        kind="proposal",
    )


def _total(row: InvoiceRow | ProposalRow, seller: CompanyRow) -> str:
    """The total as the company writes it, e.g. `4.477,00 RON` (Romanian)."""
    currency = row.currency.strip()
    return money(round_money(row.total, currency), currency, seller.locale)


def _plain(value: Any) -> str:
    # 10.000 → "10", 2.500 → "2.5": as an operator writes a quantity or a rate.
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
