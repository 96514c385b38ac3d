"""The connection type every data-access function takes (the caller's, so it decides the
transaction)."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
# What callers outside db/ catch when the database refuses or fails a statement.
DatabaseError = asyncpg.PostgresError


async def connect(url: str) -> asyncpg.Connection:
    """One connection of its own (not from a pool), for the migration runner's role setup."""
    return await asyncpg.connect(url)


async def ping(conn: Connection) -> None:
    """Raises when the database does not answer (the API's health check)."""
    await conn.fetchval("SELECT 1")
