"""Operator views of a proposal's evidence: the audit trail and the signed PDF."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Response

from db import audit, documents, proposals
from db.rows import AuditEventRow
from domain.audit import verify_chain
from starter.api.deps import API_KEY, State
from starter.api.schemas import PDF_ANSWER, ProposalAuditOut


def event_json(row: AuditEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "actor": row.actor,
        "occurred_at": row.occurred_at.astimezone(UTC).isoformat(),
        "ip": row.ip,
        "user_agent": row.user_agent,
        # asyncpg hands jsonb over as text unless a codec is set on the pool.
        "data": json.loads(row.data) if isinstance(row.data, str) else row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


# /api/v1/proposals/{id}/audit and /api/v1/proposals/{id}/signed.pdf.
router = APIRouter()


@router.get(
    "/api/v1/proposals/{proposal_id}/audit",
    response_model=ProposalAuditOut,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def proposal_audit(proposal_id: UUID, state: State) -> dict[str, Any]:
    """The proposal's audit events in order, and whether their hash chain verifies."""
    async with state.pool.acquire() as conn:
        await proposals.get(conn, proposal_id)
        rows = await audit.events_of_proposal(conn, proposal_id)
    valid, first_invalid = verify_chain([asdict(row) for row in rows])
    return {
        "proposal_id": str(proposal_id),
        "events": [event_json(row) for row in rows],
        "chain_valid": valid,
        "first_invalid_event_id": first_invalid,
    }


@router.get(
    "/api/v1/proposals/{proposal_id}/signed.pdf",
    **PDF_ANSWER,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def signed_pdf(proposal_id: UUID, state: State) -> Response:
    """The proposal PDF followed by its signature certificate; 404 until it exists."""
    async with state.pool.acquire() as conn:
        row = await proposals.get(conn, proposal_id)
        key = row.signed_document_key
        document = await documents.content_of(conn, key) if key else None
    if document is None:
        raise HTTPException(404, "the signed PDF does not exist yet")
    filename = f"signed-proposal-{proposal_id}.pdf"
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
