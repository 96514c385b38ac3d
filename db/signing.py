"""The links clients open (signing and hosted-invoice tokens), what the signing page
stores (the signature image) and the locks a page view takes."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from db.rows import AccessTokenRow, row_as


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


async def lock_proposal_key_share(conn: Connection, proposal_id: Any) -> None:
    """Key-share lock on the proposal row, taken before the audit chain's advisory lock
    (see starter.api.pages.signing.record_view for why the order matters)."""
    await conn.execute("SELECT 1 FROM proposals WHERE id = $1 FOR KEY SHARE", proposal_id)


async def mark_document_png(conn: Connection, key: str) -> None:
    """The stored document is a PNG image (a drawn signature)."""
    await conn.execute("UPDATE documents SET content_type = 'image/png' WHERE key = $1", key)
