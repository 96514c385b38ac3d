"""Send again: an issued invoice or a sent proposal emailed once more.

    POST /api/v1/invoices/{id}/resend    {"to"?}: 200 sent, 202 still queued; 409 for a
                                         draft, one in review or a void invoice
    POST /api/v1/proposals/{id}/resend   {"to"?}: the same for a sent proposal (409 once
                                         signed, declined, expired, converted, or a draft)

The same PDF and number, a fresh link (hosted invoice page / signing page), to the client's
email or `to`. Each resend has its outbox key `<kind>:<id>:resend:<Idempotency-Key>` (a key
is made per request when the header is absent) and runs as workflow `resend-<outbox key>`
(workflows.resend) started with id-reuse REJECT_DUPLICATE: the same key again starts
nothing and answers what the first request got, so a retried request sends once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.resend import invoice_refusal, outbox_key_for, proposal_refusal
from db import clients, invoices, operators, proposals
from db import resend as resend_rows
from domain.errors import OperationFailed
from domain.operators import Action
from domain.status import IllegalTransition
from messages.models import ResendInput, ResendResult, resend_workflow_id
from starter.api.deps import API_KEY, CurrentOperator, Operator, Q2CState, State
from starter.api.operations import REFUSAL_OF_FAILURE
from starter.api.schemas.resend import ResendIn, ResendOut, idempotency_key_header
from workflows.resend import ResendWorkflow

log = logging.getLogger("q2c.api")

# How long a request waits for the email to be handed to the mail server before it answers
# 202 (the workflow goes on delivering it; the same key later answers 200).
WAIT_SECONDS = 20.0

IdempotencyKey = Annotated[
    str | None,
    idempotency_key_header("names this resend: the same key again sends nothing new"),
]

router = APIRouter()


async def _resend(
    state: Q2CState,
    operator: Operator,
    kind: str,
    document_id: UUID,
    number: str,
    to_address: str,
    key: str | None,
    response: Response,
) -> dict[str, Any]:
    outbox_key = outbox_key_for(kind, str(document_id), key or uuid.uuid4().hex)
    async with state.pool.acquire() as conn:
        request_id = await operators.record_request(
            conn,
            actor=operator.actor,
            operator_id=operator.id,
            action=Action.RESEND.value,
            target=str(document_id),
        )
    request = ResendInput(kind, str(document_id), to_address, outbox_key, request_id)
    handle: WorkflowHandle[Any, ResendResult]
    try:
        handle = await state.temporal.start_workflow(
            ResendWorkflow.run,
            request,
            id=resend_workflow_id(outbox_key),
            task_queue=state.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # What the Temporal UI's list shows: the document, never the address.
            static_summary=f"Send {kind} {number} again",
        )
    except WorkflowAlreadyStartedError:
        # A retried request: the first one's run (running or done) answers it.
        handle = state.temporal.get_workflow_handle(
            resend_workflow_id(outbox_key), result_type=ResendResult
        )
    return await _answer(handle, to_address, outbox_key, response)


async def _known(
    state: Q2CState,
    kind: str,
    document_id: UUID,
    key: str | None,
    to_address: str,
    response: Response,
) -> dict[str, Any] | None:
    """A retried request's answer: the run its key started, whatever the document became
    since (voided, signed); None when the key is new (or there is none). Nothing new is
    recorded or started for it."""
    if key is None:
        return None
    outbox_key = outbox_key_for(kind, str(document_id), key)
    handle: WorkflowHandle[Any, ResendResult] = state.temporal.get_workflow_handle(
        resend_workflow_id(outbox_key), result_type=ResendResult
    )
    try:
        await handle.describe()
    except RPCError as missing:
        if missing.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    # Still going out (202): the address the first request queued it to, once it is queued.
    async with state.pool.acquire() as conn:
        queued_to = await resend_rows.queued_address(conn, outbox_key)
    return await _answer(handle, queued_to or to_address, outbox_key, response)


async def _answer(
    handle: WorkflowHandle[Any, ResendResult],
    to_address: str,
    outbox_key: str,
    response: Response,
) -> dict[str, Any]:
    try:
        result = await asyncio.wait_for(asyncio.shield(handle.result()), WAIT_SECONDS)
    except TimeoutError:
        response.status_code = 202
        return {"resent_to": to_address, "outbox_key": outbox_key, "sent": False}
    except WorkflowFailureError as failed:
        raise _refusal_of(failed) from failed
    response.status_code = 200
    return {"resent_to": result.resent_to, "outbox_key": result.outbox_key, "sent": result.sent}


def _refusal_of(failed: WorkflowFailureError) -> Exception:
    """The domain error a failed resend stands for (409 for a state that forbids it)."""
    cause: BaseException | None = failed.cause
    while isinstance(cause, ActivityError):
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return REFUSAL_OF_FAILURE.get(cause.type or "", OperationFailed)(cause.message)
    return OperationFailed("the email could not be sent again")


@router.post(
    "/api/v1/invoices/{invoice_id}/resend",
    response_model=ResendOut,
    status_code=200,
    responses={202: {"model": ResendOut, "description": "queued, not yet delivered"}},
    dependencies=API_KEY,
    tags=["invoices"],
)
async def resend_invoice(
    invoice_id: UUID,
    state: State,
    operator: CurrentOperator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: ResendIn | None = None,
) -> dict[str, Any]:
    """Email the issued invoice again (sent, partially paid, paid or overdue): its final
    PDF and number, a new link to its page. Status, due date and reminders stay."""
    async with state.pool.acquire() as conn:
        row = await invoices.get(conn, invoice_id)
        to_address = body.to if body and body.to else (await clients.get(conn, row.client_id)).email
    known = await _known(state, "invoice", invoice_id, idempotency_key, to_address, response)
    if known is not None:
        return known
    refusal = invoice_refusal(row.status, row.number, row.document_key)
    if refusal is not None:
        raise IllegalTransition(refusal)
    return await _resend(
        state,
        operator,
        "invoice",
        invoice_id,
        str(row.number),
        to_address,
        idempotency_key,
        response,
    )


@router.post(
    "/api/v1/proposals/{proposal_id}/resend",
    response_model=ResendOut,
    status_code=200,
    responses={202: {"model": ResendOut, "description": "queued, not yet delivered"}},
    dependencies=API_KEY,
    tags=["proposals"],
)
async def resend_proposal(
    proposal_id: UUID,
    state: State,
    operator: CurrentOperator,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    body: ResendIn | None = None,
) -> dict[str, Any]:
    """Email the sent proposal again: its PDF and number, a new signing link."""
    async with state.pool.acquire() as conn:
        row = await proposals.get(conn, proposal_id)
        to_address = body.to if body and body.to else (await clients.get(conn, row.client_id)).email
    known = await _known(state, "proposal", proposal_id, idempotency_key, to_address, response)
    if known is not None:
        return known
    refusal = proposal_refusal(row.status, row.number, row.document_key)
    if refusal is not None:
        raise IllegalTransition(refusal)
    return await _resend(
        state,
        operator,
        "proposal",
        proposal_id,
        str(row.number),
        to_address,
        idempotency_key,
        response,
    )
