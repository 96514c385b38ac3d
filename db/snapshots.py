"""Storing the parties a document was issued with (domain.parties.IssuedParties), in the
transaction that numbers (invoices, credit notes) or sends (proposals) it."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from domain.parties import IssuedParties


async def set_invoice_parties(conn: Connection, invoice_id: Any, parties: IssuedParties) -> None:
    await conn.execute(
        "UPDATE invoices SET issued_parties = $2::jsonb WHERE id = $1",
        invoice_id,
        parties.to_json(),
    )


async def set_credit_note_parties(
    conn: Connection, credit_note_id: Any, parties: IssuedParties
) -> None:
    await conn.execute(
        "UPDATE credit_notes SET issued_parties = $2::jsonb WHERE id = $1",
        credit_note_id,
        parties.to_json(),
    )


async def set_proposal_parties(conn: Connection, proposal_id: Any, parties: IssuedParties) -> None:
    # Called until the proposal's PDF is stored (activities.proposals._render), not after.
    await conn.execute(
        "UPDATE proposals SET issued_parties = $2::jsonb WHERE id = $1",
        proposal_id,
        parties.to_json(),
    )
