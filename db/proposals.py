"""Proposals: their number, documents, email and closing moves, and the sign links."""

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
from db.rows import ProposalRow, row_as, rows_as


async def find(conn: Connection, proposal_id: Any, *, lock: bool = False) -> ProposalRow | None:
    """A proposal, or None; `lock` holds its row until the caller's transaction ends."""
    if lock:
        record = await conn.fetchrow(
            "SELECT * FROM proposals WHERE id = $1 FOR UPDATE", proposal_id
        )
    else:
        record = await conn.fetchrow("SELECT * FROM proposals WHERE id = $1", proposal_id)
    return row_as(ProposalRow, record) if record is not None else None


async def get(conn: Connection, proposal_id: Any, *, lock: bool = False) -> ProposalRow:
    proposal = await find(conn, proposal_id, lock=lock)
    if proposal is None:
        raise NotFound("proposal", str(proposal_id))
    return proposal


async def lock_key_share(conn: Connection, proposal_id: Any) -> None:
    """A key-share lock on the row: it stays, and its id stays, until the caller's
    transaction ends (what a row referring to it needs anyway). Taken before the audit
    chain's advisory lock (see starter.api.pages.signing.record_view for why)."""
    await conn.execute("SELECT 1 FROM proposals WHERE id = $1 FOR KEY SHARE", proposal_id)


async def delete_lines(conn: Connection, proposal_id: Any) -> None:
    await conn.execute("DELETE FROM proposal_lines WHERE proposal_id = $1", proposal_id)


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
    await use_up_sign_links(conn, proposal_id, signed_at)


async def use_up_sign_links(conn: Connection, proposal_id: Any, at: datetime) -> None:
    await conn.execute(
        """UPDATE access_tokens SET used_at = $2
           WHERE proposal_id = $1 AND purpose = 'sign' AND used_at IS NULL""",
        proposal_id,
        at,
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


# --- for starter/api (routers) ---


@dataclass(frozen=True, slots=True)
class NewProposal:
    """A proposal's columns as an operator creates it (its lines are stored apart)."""

    company_id: Any
    client_id: Any
    external_id: str | None
    currency: str
    valid_until: date
    payment_terms_days: int
    notes: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    status: str
    contract_id: UUID | None
    prices_include_vat: bool
    discount_percent: Decimal
    # The actor who had it sent (domain.operators); None for a draft.
    sent_by: str | None = None
    # Its own follow-up schedule (domain.followups); None inherits the company's.
    followup_days_after_sent: list[int] | None = None
    followup_days_before_expiry: list[int] | None = None
    # The matter (case) it is filed under; its invoice inherits it.
    matter_id: UUID | None = None


async def insert_unless_known(conn: Connection, proposal: NewProposal) -> UUID | None:
    """The new proposal's id; None when its external_id is already taken (nothing stored)."""
    proposal_id: UUID | None = await conn.fetchval(
        """INSERT INTO proposals (company_id, client_id, external_id, currency,
               valid_until, payment_terms_days, notes, subtotal, vat_total, total,
               status, contract_id, prices_include_vat, discount_percent, sent_by,
               followup_days_after_sent, followup_days_before_expiry, matter_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
               $18)
           ON CONFLICT (external_id) DO NOTHING RETURNING id""",
        proposal.company_id,
        proposal.client_id,
        proposal.external_id,
        proposal.currency,
        proposal.valid_until,
        proposal.payment_terms_days,
        proposal.notes,
        proposal.subtotal,
        proposal.vat_total,
        proposal.total,
        proposal.status,
        proposal.contract_id,
        proposal.prices_include_vat,
        proposal.discount_percent,
        proposal.sent_by,
        proposal.followup_days_after_sent,
        proposal.followup_days_before_expiry,
        proposal.matter_id,
    )
    return proposal_id


async def by_external_id(conn: Connection, external_id: str | None) -> ProposalRow | None:
    record = await conn.fetchrow("SELECT * FROM proposals WHERE external_id = $1", external_id)
    return row_as(ProposalRow, record) if record is not None else None


async def delete_with_lines(conn: Connection, proposal_id: Any) -> None:
    """Take back a proposal never sent, lines and all (call inside a transaction)."""
    await delete_lines(conn, proposal_id)
    await conn.execute("DELETE FROM proposals WHERE id = $1", proposal_id)


async def mark_sent_from_draft(conn: Connection, proposal_id: Any, sent_by: str) -> None:
    """A draft becomes sent; a proposal no longer a draft is left as it is."""
    await conn.execute(
        """UPDATE proposals SET status = 'sent', updated_at = now(), sent_by = $2
           WHERE id = $1 AND status = 'draft'""",
        proposal_id,
        sent_by,
    )


async def back_to_draft(conn: Connection, proposal_id: Any) -> bool:
    """A sent proposal whose PDF could not be made goes back to draft: nothing reached the
    client (no email, no signing link), and sending it again starts over. True if it did."""
    changed: str = await conn.execute(
        """UPDATE proposals SET status = 'draft', updated_at = now()
           WHERE id = $1 AND status = 'sent'
             AND NOT EXISTS (SELECT 1 FROM access_tokens WHERE proposal_id = $1)""",
        proposal_id,
    )
    return changed.endswith(" 1")


async def mark_converted(
    conn: Connection, proposal_id: Any, *, at: datetime, by: str, invoice_id: Any
) -> None:
    """Turned into a draft invoice by an operator, unsigned; its sign links are used up."""
    await conn.execute(
        """UPDATE proposals SET status = 'converted', converted_at = $2, converted_by = $3,
               invoice_id = $4, updated_at = now() WHERE id = $1""",
        proposal_id,
        at,
        by,
        invoice_id,
    )
    await use_up_sign_links(conn, proposal_id, at)


# Newest first; the id orders proposals made in the same microsecond.
ORDER = keyset.Order(
    (keyset.Key("created_at", "timestamptz"), keyset.Key("id", "uuid")), descending=True
)


async def list_filtered(
    conn: Connection,
    *,
    status: str | None,
    client_id: UUID | None,
    after: Sequence[Any] | None,
    limit: int,
    matter_id: UUID | None = None,
) -> list[ProposalRow]:
    """The proposals in ORDER (newest first) after the key `after`, of one status, one
    client and one matter when given."""
    records = await conn.fetch(
        """SELECT * FROM proposals
           WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR client_id = $2)
             AND (created_at, id) < ($3::timestamptz, $4::uuid)
             AND ($6::uuid IS NULL OR matter_id = $6)
           ORDER BY created_at DESC, id DESC LIMIT $5""",
        status,
        client_id,
        *ORDER.params(after),
        limit,
        matter_id,
    )
    return rows_as(ProposalRow, records)
