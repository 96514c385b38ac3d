"""The links clients open (signing and hosted-invoice tokens), what the signing page
stores (the signature image, the client's answer) and the locks a page view takes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from db.connection import Connection
from db.rows import AccessTokenRow, ProposalAnswerRow, row_as
from messages.models import DeclineProposal, SignProposal


async def access_token(conn: Connection, token_hash: str, purpose: str) -> AccessTokenRow | None:
    """The link with this hash made for this purpose ('sign' or 'invoice')."""
    record = await conn.fetchrow(
        "SELECT * FROM access_tokens WHERE token_hash = $1 AND purpose = $2",
        token_hash,
        purpose,
    )
    return None if record is None else row_as(AccessTokenRow, record)


async def claim_signing_token(conn: Connection, token_hash: str) -> bool:
    """Mark the signing link used if nobody has yet and it is still valid; whether it was."""
    claimed = await conn.fetchval(
        """UPDATE access_tokens SET used_at = now()
           WHERE token_hash = $1 AND purpose = 'sign' AND used_at IS NULL AND expires_at > now()
           RETURNING proposal_id""",
        token_hash,
    )
    return claimed is not None


async def release_signing_token(conn: Connection, token_hash: str) -> None:
    """Make the signing link unused again."""
    await conn.execute(
        "UPDATE access_tokens SET used_at = NULL WHERE token_hash = $1 AND purpose = 'sign'",
        token_hash,
    )


async def mark_document_png(conn: Connection, key: str) -> None:
    """The stored document is a PNG image (a drawn signature)."""
    await conn.execute("UPDATE documents SET content_type = 'image/png' WHERE key = $1", key)


async def record_signature(
    conn: Connection,
    proposal_id: Any,
    signature: SignProposal,
    *,
    token_hash: str | None = None,
    provider_event_id: str | None = None,
) -> str:
    """Keep a signature as the signing page (with the link it claimed) or a verified e-sign
    webhook (with the provider's event id) took it; its id is what the signal carries."""
    return await _record(
        conn,
        proposal_id,
        "sign",
        signature.source,
        token_hash,
        provider_event_id,
        signature.signed_at,
        document_sha256=signature.document_sha256,
        signer_name=signature.signer_name,
        signer_email=signature.signer_email,
        consent_text=signature.consent_text,
        ip=signature.ip,
        user_agent=signature.user_agent,
        signature_image_key=signature.signature_image_key,
    )


async def record_decline(
    conn: Connection, proposal_id: Any, decline: DeclineProposal, *, token_hash: str
) -> str:
    """Keep a refusal as the signing page took it, with the link it claimed."""
    return await _record(
        conn,
        proposal_id,
        "decline",
        "page",
        token_hash,
        None,
        decline.declined_at,
        reason=decline.reason,
        ip=decline.ip,
        user_agent=decline.user_agent,
    )


async def _record(
    conn: Connection,
    proposal_id: Any,
    kind: str,
    source: str,
    token_hash: str | None,
    provider_event_id: str | None,
    answered_at: datetime,
    *,
    document_sha256: str = "",
    signer_name: str = "",
    signer_email: str = "",
    consent_text: str = "",
    reason: str = "",
    ip: str = "",
    user_agent: str = "",
    signature_image_key: str = "",
) -> str:
    answer_id: UUID = await conn.fetchval(
        """INSERT INTO proposal_answers (proposal_id, kind, source, token_hash,
               provider_event_id, document_sha256, signer_name, signer_email, consent_text,
               reason, ip, user_agent, signature_image_key, answered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           RETURNING id""",
        proposal_id,
        kind,
        source,
        token_hash,
        provider_event_id,
        document_sha256,
        signer_name,
        signer_email,
        consent_text,
        reason,
        ip,
        user_agent,
        signature_image_key,
        answered_at,
    )
    return str(answer_id)


async def answer_for_update(conn: Connection, answer_id: str) -> ProposalAnswerRow | None:
    """The recorded answer, locked until the caller's transaction ends; None for an id that
    names none (or is not even a UUID: a signal can carry anything)."""
    try:
        key = UUID(answer_id)
    except ValueError:
        return None
    record = await conn.fetchrow("SELECT * FROM proposal_answers WHERE id = $1 FOR UPDATE", key)
    return None if record is None else row_as(ProposalAnswerRow, record)


async def consume_answer(conn: Connection, answer_id: Any) -> bool:
    """Mark the answer applied; False if it had been already (it applies once)."""
    consumed = await conn.fetchval(
        """UPDATE proposal_answers SET consumed_at = now()
           WHERE id = $1 AND consumed_at IS NULL RETURNING id""",
        answer_id,
    )
    return consumed is not None
