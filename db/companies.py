"""Companies (the sellers) and their bank accounts."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from db.rows import CompanyBankAccountRow, row_as


async def bank_account_for(
    conn: Connection, company_id: Any, currency: str
) -> CompanyBankAccountRow | None:
    """The company's default account in `currency`, else its first one in it."""
    record = await conn.fetchrow(
        """SELECT * FROM company_bank_accounts WHERE company_id = $1 AND currency = $2
           ORDER BY is_default DESC, created_at, id LIMIT 1""",
        company_id,
        currency,
    )
    return row_as(CompanyBankAccountRow, record) if record is not None else None
