"""A client's card: its documents, open tasks and money, each list bounded, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from db.connection import Connection
from db.rows import ContractRow, InvoiceRow, ProposalRow, TaskRow, rows_as


async def contracts_of(conn: Connection, client_id: Any, limit: int) -> list[ContractRow]:
    records = await conn.fetch(
        """SELECT * FROM contracts WHERE client_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        client_id,
        limit,
    )
    return rows_as(ContractRow, records)


async def proposals_of(conn: Connection, client_id: Any, limit: int) -> list[ProposalRow]:
    records = await conn.fetch(
        """SELECT * FROM proposals WHERE client_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        client_id,
        limit,
    )
    return rows_as(ProposalRow, records)


async def invoices_of(conn: Connection, client_id: Any, limit: int) -> list[InvoiceRow]:
    records = await conn.fetch(
        """SELECT * FROM invoices WHERE client_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        client_id,
        limit,
    )
    return rows_as(InvoiceRow, records)


async def open_tasks_of(conn: Connection, client_id: Any, limit: int) -> list[TaskRow]:
    """Tasks not done that name the client, or one of its invoices or proposals."""
    records = await conn.fetch(
        """SELECT t.* FROM tasks t
           WHERE t.done_at IS NULL
             AND (t.client_id = $1
                  OR t.invoice_id IN (SELECT id FROM invoices WHERE client_id = $1)
                  OR t.proposal_id IN (SELECT id FROM proposals WHERE client_id = $1))
           ORDER BY t.created_at DESC, t.id DESC LIMIT $2""",
        client_id,
        limit,
    )
    return rows_as(TaskRow, records)


async def credit_by_currency(conn: Connection, client_id: Any) -> dict[str, Decimal]:
    """The client's credit with us per currency (those whose sum is not zero)."""
    records = await conn.fetch(
        """SELECT currency, sum(amount) AS balance FROM client_credits WHERE client_id = $1
           GROUP BY currency HAVING sum(amount) <> 0 ORDER BY currency""",
        client_id,
    )
    return {r["currency"].strip(): Decimal(r["balance"]) for r in records}


@dataclass(frozen=True, slots=True)
class Balance:
    """Per currency: what the client's open invoices still ask, and of it what is overdue."""

    currency: str
    due: Decimal
    overdue: Decimal


async def balances_of(
    conn: Connection, client_id: Any, open_statuses: Sequence[str], *, matter_id: Any = None
) -> list[Balance]:
    """Sums over the client's invoices in `open_statuses` (every invoice, not only the
    card's bounded list), only those of one matter when `matter_id` is given. Overdue: past
    its due date (status overdue, or the flag a partly paid one keeps)."""
    records = await conn.fetch(
        """SELECT currency,
                  sum(total - amount_paid) AS due,
                  coalesce(sum(total - amount_paid)
                      FILTER (WHERE overdue OR status = 'overdue'), 0) AS overdue
           FROM invoices
           WHERE client_id = $1 AND status = ANY($2::text[]) AND total > amount_paid
             AND ($3::uuid IS NULL OR matter_id = $3)
           GROUP BY currency ORDER BY currency""",
        client_id,
        list(open_statuses),
        matter_id,
    )
    return [
        Balance(r["currency"].strip(), Decimal(r["due"]), Decimal(r["overdue"])) for r in records
    ]
