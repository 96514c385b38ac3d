"""Proposals: create (and send) one, send a draft, read one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from starter.api import operations
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import proposal_json
from starter.api.schemas import ProposalIn, ProposalOut

router = APIRouter()


@router.post(
    "/api/v1/proposals",
    response_model=ProposalOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def create_proposal(
    body: ProposalIn, state: State, response: Response, operator: CurrentOperator
) -> dict[str, Any]:
    created, is_new = await operations.create_proposal(state, body, operator.actor)
    response.status_code = 201 if is_new else 200
    return created


@router.post(
    "/api/v1/proposals/{proposal_id}/send",
    response_model=ProposalOut,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def send_proposal(
    proposal_id: UUID, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    return await operations.send_draft_proposal(state, proposal_id, operator.actor)


@router.get(
    "/api/v1/proposals/{proposal_id}",
    response_model=ProposalOut,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def get_proposal(proposal_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return await proposal_json(conn, proposal_id)
