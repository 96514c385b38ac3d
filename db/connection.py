"""The connection type every data-access function takes (the caller's, so it decides the
transaction)."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def ping(conn: Connection) -> None:
    """Raises when the database does not answer (the API's health check)."""
    await conn.fetchval("SELECT 1")
