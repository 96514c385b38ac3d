"""Operators (their hashed keys and roles) and the requests the API records for them before
it signals a workflow (domain.operators says who may do what and how actors are written)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from db.connection import Connection
from db.rows import OperatorRow, row_as, rows_as
from domain.errors import Conflict
from domain.operators import REQUEST_VALID_FOR, TEMPORAL_UI, Role, key_hash

BOOTSTRAP_NAME = "admin"


def new_key() -> str:
    """A new API key, shown once: 256 random bits."""
    return "q2c_" + secrets.token_urlsafe(32)


async def add(conn: Connection, name: str, role: Role) -> tuple[OperatorRow, str]:
    key = new_key()
    try:
        record = await conn.fetchrow(
            "INSERT INTO operators (name, role, key_hash) VALUES ($1, $2, $3) RETURNING *",
            name,
            role.value,
            key_hash(key),
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"an active operator is already named {name!r}") from None
    assert record is not None
    return row_as(OperatorRow, record), key


async def list_all(conn: Connection) -> list[OperatorRow]:
    return rows_as(OperatorRow, await conn.fetch("SELECT * FROM operators ORDER BY created_at, id"))


async def get(conn: Connection, operator_id: Any) -> OperatorRow | None:
    record = await conn.fetchrow("SELECT * FROM operators WHERE id = $1", operator_id)
    return row_as(OperatorRow, record) if record is not None else None


async def by_key(conn: Connection, key: str) -> OperatorRow | None:
    """The operator whose key this is (revoked or not), found by the key's hash."""
    record = await conn.fetchrow("SELECT * FROM operators WHERE key_hash = $1", key_hash(key))
    return row_as(OperatorRow, record) if record is not None else None


async def revoke(conn: Connection, operator_id: Any) -> OperatorRow | None:
    """Revoked stays revoked (the first time is kept); None if there is no such operator.
    The last active admin is not revoked (Conflict): nobody could manage operators then."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('q2c:operators:admins'))")
        record = await conn.fetchrow(
            """UPDATE operators SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
               RETURNING *""",
            operator_id,
        )
        admins_left = await conn.fetchval(
            "SELECT count(*) FROM operators WHERE role = 'admin' AND revoked_at IS NULL"
        )
        if record is not None and record["role"] == Role.ADMIN and admins_left == 0:
            # Raised inside the transaction: the revocation is rolled back.
            raise Conflict("the last active admin cannot be revoked; add another admin first")
    return row_as(OperatorRow, record) if record is not None else None


async def rotate(conn: Connection, operator_id: Any) -> tuple[OperatorRow, str] | None:
    """A new key for an active operator; the old one stops working at once. None if there
    is no such active operator."""
    key = new_key()
    record = await conn.fetchrow(
        """UPDATE operators
           SET key_hash = $2, retired_key_hashes = retired_key_hashes || key_hash,
               rotated_at = now()
           WHERE id = $1 AND revoked_at IS NULL RETURNING *""",
        operator_id,
        key_hash(key),
    )
    return (row_as(OperatorRow, record), key) if record is not None else None


async def record_use(conn: Connection, operator_id: Any, at: datetime) -> None:
    await conn.execute("UPDATE operators SET last_used_at = $2 WHERE id = $1", operator_id, at)


async def ensure_bootstrap(conn: Connection, key: str) -> bool:
    """Register the bootstrap key (settings' API key) as the admin "admin", unless its hash
    is known already (active, revoked or rotated away) or an active "admin" exists. True
    if it was registered."""
    hashed = key_hash(key)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('q2c:operators:bootstrap'))")
        known = await conn.fetchval(
            """SELECT 1 FROM operators WHERE key_hash = $1 OR $1 = ANY(retired_key_hashes)
                   OR (name = $2 AND revoked_at IS NULL)""",
            hashed,
            BOOTSTRAP_NAME,
        )
        if known:
            return False
        await conn.execute(
            "INSERT INTO operators (name, role, key_hash) VALUES ($1, $2, $3)",
            BOOTSTRAP_NAME,
            Role.ADMIN.value,
            hashed,
        )
        return True


async def record_request(
    conn: Connection, *, actor: str, action: str, target: str, operator_id: Any = None
) -> str:
    """Write down who asks for `action` on `target` (a workflow's business id); the id goes
    in the signal or update and is redeemed once by `take_request`."""
    request_id: UUID = await conn.fetchval(
        """INSERT INTO operator_requests (operator_id, actor, action, target)
           VALUES ($1, $2, $3, $4) RETURNING id""",
        operator_id,
        actor,
        action,
        target,
    )
    return str(request_id)


async def take_request(conn: Connection, request_id: str, action: str, target: str) -> str:
    """The actor of a recorded request for this action and target, consumed (in the
    caller's transaction: a rolled-back attempt leaves it for the retry); `temporal-ui`
    for a missing, unknown, foreign, already used or stale one (REQUEST_VALID_FOR)."""
    try:
        parsed = UUID(request_id)
    except (ValueError, TypeError, AttributeError):
        return TEMPORAL_UI
    actor: str | None = await conn.fetchval(
        """UPDATE operator_requests SET consumed_at = now()
           WHERE id = $1 AND action = $2 AND target = $3 AND consumed_at IS NULL
             AND created_at > now() - $4::interval
           RETURNING actor""",
        parsed,
        action,
        target,
        REQUEST_VALID_FOR,
    )
    return actor if actor is not None else TEMPORAL_UI
