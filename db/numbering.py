"""Number series settings as operators read and change them (numbering itself, the lock and
the next number, is db.store.lock_series and assign_number)."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from db.rows import NumberSeriesRow, row_as, rows_as


async def series_of_company(conn: Connection, company_id: Any) -> list[NumberSeriesRow]:
    records = await conn.fetch(
        "SELECT * FROM number_series WHERE company_id = $1 ORDER BY kind, series",
        company_id,
    )
    return rows_as(NumberSeriesRow, records)


async def update_settings(
    conn: Connection,
    company_id: Any,
    kind: str,
    series: str,
    *,
    pattern: str,
    reset_yearly: bool,
    next_seq: int,
) -> NumberSeriesRow:
    """Change a series that exists (call under db.store.lock_series, which makes it)."""
    record = await conn.fetchrow(
        """UPDATE number_series SET pattern = $4, reset_yearly = $5, next_seq = $6
           WHERE company_id = $1 AND kind = $2 AND series = $3 RETURNING *""",
        company_id,
        kind,
        series,
        pattern,
        reset_yearly,
        next_seq,
    )
    assert record is not None
    return row_as(NumberSeriesRow, record)
