"""Framework contracts that proposals and invoices refer to."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from db.rows import ContractRow, row_as


async def find(conn: Connection, contract_id: Any) -> ContractRow | None:
    record = await conn.fetchrow("SELECT * FROM contracts WHERE id = $1", contract_id)
    return row_as(ContractRow, record) if record is not None else None
