"""The connection type every data-access function takes (the caller's, so it decides the
transaction)."""

from __future__ import annotations

import asyncpg

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
