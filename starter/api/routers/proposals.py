"""Proposals: create (and send) one, send a draft, read one, make an unsigned one an invoice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from temporalio.service import RPCError

from activities.proposals import CONVERTIBLE, conversion_refusal, convert_in_transaction
from db import invoices, proposals
from db.rows import ProposalRow
from domain.errors import Conflict, Unavailable
from domain.operators import Action
from domain.status import ProposalStatus
from messages.models import (
    ConvertProposal,
    invoice_workflow_id,
    proposal_workflow_id,
)
from starter.api import operations
from starter.api.deps import API_KEY, CurrentOperator, Q2CState, State
from starter.api.operations import (
    iso,
    operator_request,
    proposal_json,
    proposal_row_json,
    start_invoice_workflow,
)
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.schemas import ProposalIn, ProposalOut
from starter.api.schemas.proposals import ProposalInvoiceOut, ProposalList
from workflows.proposal import ProposalWorkflow

router = APIRouter()

# How long the API waits for the proposal's workflow to act on a `convert` signal.
CONVERT_WAIT_SECONDS = 30.0
CONVERT_POLL_SECONDS = 0.05


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


PAGER: Pager[ProposalRow] = Pager("proposals", proposals.ORDER)


@router.get(
    "/api/v1/proposals",
    response_model=ProposalList,
    dependencies=API_KEY,
    tags=["proposals"],
    description=paged(
        "Proposals, newest first (then by id), of one status, client and matter if given."
    ),
)
async def list_proposals(
    state: State,
    status: ProposalStatus | None = None,
    client_id: UUID | None = None,
    matter_id: Annotated[
        UUID | None, Query(description="only those filed under this matter")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    filters = {"status": status, "client_id": client_id, "matter_id": matter_id}
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        rows = await proposals.list_filtered(
            conn,
            status=None if status is None else status.value,
            client_id=client_id,
            after=after,
            limit=limit + 1,
            matter_id=matter_id,
        )
    return PAGER.page(rows, limit, filters, proposal_row_json)


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


@router.post(
    "/api/v1/proposals/{proposal_id}/invoice",
    response_model=ProposalInvoiceOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["proposals"],
)
async def convert_proposal(
    proposal_id: UUID, state: State, response: Response, operator: CurrentOperator
) -> dict[str, Any]:
    """Make a proposal the client did not sign (sent or expired) a draft invoice at review,
    as a signature would: 201 with the invoice; a retry answers 200 with the same one. A
    signed, declined or draft proposal gets 409. A waiting proposal's workflow is told
    (signal `convert`) and makes the invoice; one that ended on expiry is converted here."""
    row = await _proposal(state, proposal_id)
    if row.status == ProposalStatus.CONVERTED:
        async with state.pool.acquire() as conn:
            await start_invoice_workflow(state, conn, str(row.invoice_id))
        response.status_code = 200
        return await _conversion_json(state, row)
    status = ProposalStatus(row.status)
    if status not in CONVERTIBLE:
        raise Conflict(conversion_refusal(status))
    request_id = await operator_request(state, operator, Action.CONVERT_PROPOSAL, proposal_id)
    if status == ProposalStatus.SENT:
        row = await _converted_by_workflow(state, proposal_id, request_id)
        if row.status == ProposalStatus.SENT:
            raise Unavailable("the proposal's workflow is not running; nothing was converted")
    if row.status == ProposalStatus.EXPIRED:
        async with state.pool.acquire() as conn:
            invoice_id, _ = await convert_in_transaction(
                conn, proposal_id, request_id, datetime.now(UTC)
            )
            await start_invoice_workflow(state, conn, invoice_id)
        row = await _proposal(state, proposal_id)
    if row.status != ProposalStatus.CONVERTED:
        # Answered by the client meanwhile (signed or declined).
        raise Conflict(conversion_refusal(ProposalStatus(row.status)))
    return await _conversion_json(state, row)


async def _proposal(state: Q2CState, proposal_id: Any) -> ProposalRow:
    async with state.pool.acquire() as conn:
        return await proposals.get(conn, proposal_id)


async def _converted_by_workflow(
    state: Q2CState, proposal_id: UUID, request_id: str
) -> ProposalRow:
    """Signal the waiting workflow and wait until the proposal is no longer `sent`: converted
    by it, or answered or expired meanwhile. A workflow that already ended (on expiry) is
    not an error: the caller converts the expired proposal itself."""
    handle = state.temporal.get_workflow_handle(proposal_workflow_id(str(proposal_id)))
    try:
        await handle.signal(ProposalWorkflow.convert, ConvertProposal(request_id))
    except RPCError:
        return await _proposal(state, proposal_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONVERT_WAIT_SECONDS
    while True:
        row = await _proposal(state, proposal_id)
        if row.status != ProposalStatus.SENT:
            return row
        if loop.time() > deadline:
            raise Unavailable("the proposal's workflow has not acted yet; send the request again")
        await asyncio.sleep(CONVERT_POLL_SECONDS)


async def _conversion_json(state: Q2CState, row: ProposalRow) -> dict[str, Any]:
    assert row.invoice_id is not None
    async with state.pool.acquire() as conn:
        invoice = await invoices.get(conn, row.invoice_id)
    return {
        "proposal_id": str(row.id),
        "proposal_status": row.status,
        "invoice_id": str(invoice.id),
        "invoice_status": invoice.status,
        "converted_by": row.converted_by,
        "converted_at": iso(row.converted_at),
        "workflow_id": invoice_workflow_id(str(invoice.id)),
    }
