"""Proposals' signatures (one per proposal)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.connection import Connection
from db.rows import SignatureRow, row_as


async def insert(
    conn: Connection,
    *,
    proposal_id: Any,
    signer_name: str,
    signer_email: str,
    signed_at: datetime,
    ip: str,
    user_agent: str,
    document_sha256: str,
    consent_text: str,
    consent_sha256: str,
    source: str,
    signature_image_key: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO signatures (proposal_id, signer_name, signer_email, signed_at, ip,
               user_agent, document_sha256, consent_text, consent_sha256, source,
               signature_image_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        proposal_id,
        signer_name,
        signer_email,
        signed_at,
        ip,
        user_agent,
        document_sha256,
        consent_text,
        consent_sha256,
        source,
        signature_image_key,
    )


async def of_proposal(conn: Connection, proposal_id: Any) -> SignatureRow | None:
    record = await conn.fetchrow("SELECT * FROM signatures WHERE proposal_id = $1", proposal_id)
    return row_as(SignatureRow, record) if record is not None else None
