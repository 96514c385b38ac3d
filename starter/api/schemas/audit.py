"""Audit trails of documents."""

from __future__ import annotations

from typing import Any

from starter.api.schemas.common import Answer, IsoInstant


class AuditEventOut(Answer):
    id: int
    kind: str
    actor: str
    occurred_at: IsoInstant
    ip: str
    user_agent: str
    data: Any
    prev_hash: str
    hash: str


class ProposalAuditOut(Answer):
    proposal_id: str
    events: list[AuditEventOut]
    chain_valid: bool
    first_invalid_event_id: int | None
