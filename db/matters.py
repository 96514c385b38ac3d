"""Matters (cases, дела): a client's piece of work that its documents are filed under.
What a matter's invoices came to is summed by the client card's and the reports' queries
(db/client_card.py balances_of, db/reports.py invoiced_between / collected_between), each
given the matter's id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from db import keyset
from db.connection import Connection, lock_key
from db.errors import NotFound
from db.rows import MatterRow, row_as, rows_as


async def get(conn: Connection, matter_id: Any) -> MatterRow:
    row = await find(conn, matter_id)
    if row is None:
        raise NotFound("matter", str(matter_id))
    return row


async def find(conn: Connection, matter_id: Any) -> MatterRow | None:
    """The matter, or None (a matter id given by a caller that may not exist)."""
    record = await conn.fetchrow("SELECT * FROM matters WHERE id = $1", matter_id)
    return None if record is None else row_as(MatterRow, record)


async def same_reference(conn: Connection, company_id: Any, reference: str) -> MatterRow | None:
    """The company's matter whose reference is `reference` (case-blind, spaces around
    ignored: the unique index matters_company_reference_key), if any. It takes a lock on
    that reference until the caller's transaction ends, so two matters entered at once with
    one reference take turns and the second finds the first instead of hitting the index."""
    key = reference.strip().lower()
    await lock_key(conn, f"matter-reference:{company_id}:{key}")
    record = await conn.fetchrow(
        "SELECT * FROM matters WHERE company_id = $1 AND lower(btrim(reference)) = $2",
        company_id,
        key,
    )
    return None if record is None else row_as(MatterRow, record)


async def insert(
    conn: Connection,
    *,
    company_id: Any,
    client_id: Any,
    title: str,
    reference: str,
    responsible: str,
    by: str,
) -> UUID:
    """A new matter of the client, entered by `by` (`operator:<name>`); returns its id."""
    matter_id: UUID = await conn.fetchval(
        """INSERT INTO matters (company_id, client_id, title, reference, responsible,
               created_by, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id""",
        company_id,
        client_id,
        title,
        reference,
        responsible,
        by,
    )
    return matter_id


async def update(
    conn: Connection,
    matter_id: Any,
    *,
    title: str | None,
    responsible: str | None,
    closed: bool | None,
    by: str,
) -> None:
    """Change what is given (None keeps it); closing records when and by whom, reopening
    clears both."""
    await conn.execute(
        """UPDATE matters SET
               title = coalesce($2, title),
               responsible = coalesce($3, responsible),
               closed_at = CASE WHEN $4::bool IS NULL THEN closed_at
                                WHEN $4 THEN coalesce(closed_at, now()) ELSE NULL END,
               closed_by = CASE WHEN $4::bool IS NULL THEN closed_by
                                WHEN $4 THEN coalesce(closed_by, $5) ELSE NULL END,
               updated_at = now(), updated_by = $5
           WHERE id = $1""",
        matter_id,
        title,
        responsible,
        closed,
        by,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The matter list's order (keyset paging, starter.api.pagination).
ORDER = keyset.Order((keyset.Key("reference", "text"), keyset.Key("id", "uuid")))


async def search(
    conn: Connection,
    company_id: Any,
    *,
    client_id: Any | None,
    text: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[MatterRow]:
    """The company's matters (of one client when given) whose title or reference contains
    `text` (any case), in ORDER, from just after the key `after` (keyset paging)."""
    records = await conn.fetch(
        """SELECT * FROM matters
           WHERE company_id = $1
             AND ($2::uuid IS NULL OR client_id = $2)
             AND ($3::text IS NULL OR title ILIKE $3 OR reference ILIKE $3)
             AND (reference, id) > ($4::text, $5::uuid)
           ORDER BY reference, id LIMIT $6""",
        company_id,
        client_id,
        None if not text else _like(text),
        *ORDER.params(after),
        limit,
    )
    return rows_as(MatterRow, records)


async def of_client(conn: Connection, client_id: Any, limit: int) -> list[MatterRow]:
    """The client's matters, newest first (the client card)."""
    records = await conn.fetch(
        """SELECT * FROM matters WHERE client_id = $1
           ORDER BY created_at DESC, id DESC LIMIT $2""",
        client_id,
        limit,
    )
    return rows_as(MatterRow, records)
