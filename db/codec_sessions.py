"""Sessions of the codec's login page: an operator's browser holds an opaque token in a
cookie (the Temporal UI sends cookies, not keys); only the token's hash is stored."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from db.connection import Connection
from db.rows import OperatorRow, row_as
from domain.operators import key_hash


def new_token() -> str:
    """A session token: 256 random bits, unrelated to the operator's key."""
    return secrets.token_urlsafe(32)


async def start(conn: Connection, operator_id: Any, expires_at: datetime) -> str:
    """A new session for the operator; the token is returned once and stored hashed."""
    token = new_token()
    await conn.execute(
        "INSERT INTO codec_sessions (token_hash, operator_id, expires_at) VALUES ($1, $2, $3)",
        key_hash(token),
        operator_id,
        expires_at,
    )
    return token


async def operator_of(conn: Connection, token: str, now: datetime) -> OperatorRow | None:
    """The operator of a live session: not expired, not ended, and the operator neither
    revoked nor rotated since the session began (rotating a key ends its sessions)."""
    record = await conn.fetchrow(
        """SELECT o.* FROM codec_sessions s JOIN operators o ON o.id = s.operator_id
           WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2
             AND o.revoked_at IS NULL
             AND (o.rotated_at IS NULL OR o.rotated_at < s.created_at)""",
        key_hash(token),
        now,
    )
    return row_as(OperatorRow, record) if record is not None else None


async def end(conn: Connection, token: str) -> None:
    await conn.execute(
        "UPDATE codec_sessions SET ended_at = coalesce(ended_at, now()) WHERE token_hash = $1",
        key_hash(token),
    )
