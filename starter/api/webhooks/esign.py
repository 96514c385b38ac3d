"""The e-signature webhook: a signature made at an external provider, taken only for the
document that was sent, while the proposal is open."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError, RPCStatusCode

from db import companies, documents, proposals, signatures, signing, store
from db.rows import ProposalRow
from domain.schedule import overdue_at
from domain.status import ProposalStatus
from messages.models import SignProposal, proposal_workflow_id
from starter.api.deps import Q2CState, State
from starter.api.schemas import EsignAnswer, EsignSignatureIn
from starter.api.webhooks.inbox import SIGNED_REQUEST, Delivery, Outcome, finish_with, receive
from workflows.proposal import ProposalWorkflow

log = logging.getLogger("q2c.webhooks")

router = APIRouter()


def esign_consent_text(provider: str) -> str:
    return f"Signed through {provider} e-signature"


async def esign_signature(state: Q2CState, event: EsignSignatureIn, delivery: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        if event.proposal_id is not None:
            proposal = await proposals.find(conn, event.proposal_id)
        else:
            proposal = await proposals.by_external_id(conn, event.external_id)
        if proposal is None:
            return Outcome(404, "unknown_proposal", {"detail": "no such proposal"})
        proposal_id = str(proposal.id)
        signed = proposal.status == ProposalStatus.SIGNED
        if signed and await _same_signature(conn, proposal_id, event):
            # This very signature was taken already (a retry, or a new event id for it).
            return Outcome(200, "already_signed", {"proposal_id": proposal_id})
        seller = await companies.get(conn, proposal.company_id)
        expected = (
            await documents.sha256_of(conn, proposal.document_key)
            if proposal.document_key is not None
            else None
        )
    refusal = _signature_refusal(proposal, seller.time_zone, expected, event)
    if refusal is None:
        assert expected is not None, "a proposal without its sent document is refused"
        signature = SignProposal(
            signer_name=event.signer_name,
            signer_email=event.signer_email,
            signed_at=event.signed_at,
            document_sha256=expected,
            consent_text=esign_consent_text(event.provider),
            ip=event.signer_ip,
            user_agent=event.signer_user_agent,
            source="esign",
        )
        # The workflow applies only a signature recorded here or by the signing page.
        async with state.pool.acquire() as conn:
            signature.answer_id = await signing.record_signature(
                conn, proposal_id, signature, provider_event_id=event.id
            )
        try:
            await state.temporal.get_workflow_handle(proposal_workflow_id(proposal_id)).signal(
                ProposalWorkflow.sign, signature
            )
        except RPCError as failed:
            if failed.status != RPCStatusCode.NOT_FOUND:
                raise
            # Its workflow ended (expired or answered) after the status was read.
            refusal = ("refused_not_sent", "the proposal can no longer be signed", {})
    if refusal is not None:
        return await _refuse_signature(state, delivery, event, proposal_id, *refusal)
    return Outcome(202, "signature_accepted", {"proposal_id": proposal_id})


def _signature_refusal(
    proposal: ProposalRow, time_zone: str, expected: str | None, event: EsignSignatureIn
) -> tuple[str, str, dict[str, Any]] | None:
    """Why this signature cannot be taken (outcome, detail, audit data), or None."""
    status = proposal.status
    if status != ProposalStatus.SENT:
        return (
            "refused_not_sent",
            f"the proposal is {status} and can no longer be signed",
            {"status": status},
        )
    if datetime.now(UTC) >= overdue_at(proposal.valid_until, time_zone):
        valid_until = proposal.valid_until.isoformat()
        return (
            "refused_expired",
            "the proposal's validity has ended",
            {"valid_until": valid_until},
        )
    if expected is None:
        return ("refused_not_sent", "the proposal's document has not been sent yet", {})
    if expected != event.document_sha256:
        return (
            "refused_hash_mismatch",
            "document_sha256 does not match the document that was sent",
            {"expected": expected, "got": event.document_sha256},
        )
    return None


async def _same_signature(
    conn: store.Connection, proposal_id: str, event: EsignSignatureIn
) -> bool:
    taken = await signatures.of_proposal(conn, proposal_id)
    return bool(
        taken is not None
        and taken.source == "esign"
        and taken.signer_name == event.signer_name
        and taken.signed_at == event.signed_at
        and taken.document_sha256 == event.document_sha256
    )


async def _refuse_signature(
    state: Q2CState,
    delivery: Delivery,
    event: EsignSignatureIn,
    proposal_id: str,
    outcome: str,
    detail: str,
    data: dict[str, Any],
) -> Outcome:
    """409, kept as the event's outcome and, once, as a `signature_refused` audit event."""

    async def audit(conn: store.Connection) -> None:
        await store.audit(
            conn,
            "signature_refused",
            f"esign:{event.provider}",
            datetime.now(UTC),
            proposal_id=proposal_id,
            ip=delivery.remote_ip,
            data=data | {"reason": detail, "event_id": event.id, "signer_name": event.signer_name},
        )

    await finish_with(state.pool, delivery.event.row_id, outcome, audit)
    log.warning("esign event %s for proposal %s refused: %s", event.id, proposal_id, detail)
    return Outcome(409, outcome, {"proposal_id": proposal_id, "detail": detail}, finished=True)


@router.post(
    "/webhooks/esign",
    response_model=EsignAnswer,
    responses={202: {"model": EsignAnswer, "description": "Accepted"}},
    tags=["webhooks"],
    openapi_extra=SIGNED_REQUEST,
)
async def esign(request: Request, state: State) -> JSONResponse:
    """An e-signature provider reports a signature of the document that was sent."""
    return await receive(request, state, "esign", EsignSignatureIn, esign_signature)
