"""A company's ANAF OAuth2 tokens (stored encrypted: the columns hold ciphertext, which
activities/efactura_access.py makes and reads) and the `state`s of connections an operator
has started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.connection import Connection
from db.rows import EfacturaOauthStateRow, EfacturaTokenRow, row_as


async def get(conn: Connection, company_id: Any, *, lock: bool = False) -> EfacturaTokenRow | None:
    """The company's tokens; `lock` holds the row until the caller's transaction ends, so
    two refreshes take turns (ANAF's refresh token may be single-use)."""
    if lock:
        record = await conn.fetchrow(
            "SELECT * FROM efactura_tokens WHERE company_id = $1 FOR UPDATE", company_id
        )
    else:
        record = await conn.fetchrow(
            "SELECT * FROM efactura_tokens WHERE company_id = $1", company_id
        )
    return row_as(EfacturaTokenRow, record) if record is not None else None


async def connect(
    conn: Connection,
    company_id: Any,
    *,
    key_id: str,
    access_token: bytes,
    refresh_token: bytes,
    access_expires_at: datetime,
    oauth_url: str,
    connected_by: str,
) -> None:
    """The company's first tokens, or new ones replacing the earlier connection."""
    await conn.execute(
        """INSERT INTO efactura_tokens (company_id, key_id, access_token, refresh_token,
                                        access_expires_at, oauth_url, connected_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (company_id) DO UPDATE SET
               key_id = EXCLUDED.key_id, access_token = EXCLUDED.access_token,
               refresh_token = EXCLUDED.refresh_token,
               access_expires_at = EXCLUDED.access_expires_at, oauth_url = EXCLUDED.oauth_url,
               connected_at = now(), connected_by = EXCLUDED.connected_by, refreshed_at = NULL""",
        company_id,
        key_id,
        access_token,
        refresh_token,
        access_expires_at,
        oauth_url,
        connected_by,
    )


async def refreshed(
    conn: Connection,
    company_id: Any,
    *,
    key_id: str,
    access_token: bytes,
    refresh_token: bytes,
    access_expires_at: datetime | None,
    at: datetime | None,
) -> None:
    """Tokens re-encrypted (a new key) or renewed by ANAF (`at` set, a new expiry)."""
    await conn.execute(
        """UPDATE efactura_tokens SET key_id = $2, access_token = $3, refresh_token = $4,
               access_expires_at = coalesce($5, access_expires_at),
               refreshed_at = coalesce($6, refreshed_at)
           WHERE company_id = $1""",
        company_id,
        key_id,
        access_token,
        refresh_token,
        access_expires_at,
        at,
    )


async def disconnect(conn: Connection, company_id: Any) -> None:
    await conn.execute("DELETE FROM efactura_tokens WHERE company_id = $1", company_id)


async def start_state(
    conn: Connection, state_hash: str, company_id: Any, operator_id: Any, expires_at: datetime
) -> None:
    """A new authorization's state; those expired a day ago go (the table stays small)."""
    await conn.execute(
        "DELETE FROM efactura_oauth_states WHERE expires_at < $1::timestamptz - interval '1 day'",
        expires_at,
    )
    await conn.execute(
        """INSERT INTO efactura_oauth_states (state_hash, company_id, operator_id, expires_at)
           VALUES ($1, $2, $3, $4)""",
        state_hash,
        company_id,
        operator_id,
        expires_at,
    )


async def redeem_state(
    conn: Connection, state_hash: str, now: datetime
) -> EfacturaOauthStateRow | None:
    """The state, marked used, when it is unexpired and not used before; else None."""
    record = await conn.fetchrow(
        """UPDATE efactura_oauth_states SET used_at = $2
           WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING *""",
        state_hash,
        now,
    )
    return row_as(EfacturaOauthStateRow, record) if record is not None else None
