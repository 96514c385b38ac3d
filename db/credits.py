"""A client's credit: over-payments kept, credit applied to invoices, refunds of it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from db.connection import Connection, lock_key
from db.rows import ClientCreditRow, row_as


async def lock_client_credit(conn: Connection, client_id: Any) -> None:
    """One client's credit is moved by one transaction at a time (until it ends)."""
    await lock_key(conn, f"credit:{client_id}")


async def add_entry(
    conn: Connection,
    *,
    client_id: Any,
    currency: str,
    amount: Decimal,
    kind: str,
    invoice_id: Any,
    reference: str,
) -> None:
    """A move of the client's credit: positive adds to it ('overpayment', 'restored'),
    negative takes from it ('applied', 'refunded')."""
    await conn.execute(
        """INSERT INTO client_credits (client_id, currency, amount, kind, invoice_id, reference)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        client_id,
        currency,
        amount,
        kind,
        invoice_id,
        reference,
    )


async def overpayment_of(conn: Connection, invoice_id: Any, payment_reference: str) -> Decimal:
    """The credit a payment's over-payment of the invoice gave the client."""
    total = await conn.fetchval(
        """SELECT coalesce(sum(amount), 0) FROM client_credits
           WHERE invoice_id = $1 AND kind = 'overpayment' AND reference = $2""",
        invoice_id,
        payment_reference,
    )
    return Decimal(total)


async def balance(conn: Connection, client_id: Any, currency: str) -> Decimal:
    """The client's credit in `currency` (call under lock_client_credit to spend it)."""
    total = await conn.fetchval(
        """SELECT coalesce(sum(amount), 0) FROM client_credits
           WHERE client_id = $1 AND currency = $2""",
        client_id,
        currency,
    )
    return Decimal(total)


# --- for starter/api (routers) ---


@dataclass(frozen=True, slots=True)
class CreditEntry:
    """A move of a client's credit with the number of the invoice it came from or went to."""

    entry: ClientCreditRow
    invoice_number: str | None


async def entries_of_client(conn: Connection, client_id: Any) -> list[CreditEntry]:
    """Every move of the client's credit, oldest first."""
    records = await conn.fetch(
        """SELECT cc.*, i.number FROM client_credits cc
           JOIN invoices i ON i.id = cc.invoice_id
           WHERE cc.client_id = $1 ORDER BY cc.created_at, cc.id""",
        client_id,
    )
    return [CreditEntry(row_as(ClientCreditRow, record), record["number"]) for record in records]
