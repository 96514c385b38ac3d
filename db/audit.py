"""Reading the audit trail (appending to it is db.store.audit, shared with starter/)."""

from __future__ import annotations

from typing import Any

from db.connection import Connection
from db.rows import AuditEventRow, rows_as


async def events_of_proposal(conn: Connection, proposal_id: Any) -> list[AuditEventRow]:
    """The proposal's events in the order they were appended (the chain's order)."""
    records = await conn.fetch(
        "SELECT * FROM audit_events WHERE proposal_id = $1 ORDER BY id", proposal_id
    )
    return rows_as(AuditEventRow, records)


async def proposal_has_event(conn: Connection, proposal_id: Any, kind: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM audit_events WHERE proposal_id = $1 AND kind = $2", proposal_id, kind
    )
    return found is not None
