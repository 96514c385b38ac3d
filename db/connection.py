"""The connection type every data-access function takes (the caller's, so it decides the
transaction)."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
# What callers outside db/ catch when the database refuses or fails a statement.
DatabaseError = asyncpg.PostgresError
# The database went away under a call (a restart, a dropped connection): worth a retry.
ConnectionLost = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def connect(url: str) -> asyncpg.Connection:
    """One connection of its own (not from a pool), for the migration runner's role setup."""
    return await asyncpg.connect(url)


async def lock_key(conn: Connection, key: str) -> None:
    """A transaction-level advisory lock on `key` (held until the caller's transaction
    ends): what takes turns on something that has no row to lock."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)


async def ping(conn: Connection) -> None:
    """Raises when the database does not answer (the API's health check)."""
    await conn.fetchval("SELECT 1")
