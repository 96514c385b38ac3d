"""The CRM's webhook: create (and send) a proposal; a retry never makes a second one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from db import clients, companies, proposals, store, webhooks
from domain.errors import Unacceptable
from domain.schedule import local_date
from starter.api import operations
from starter.api.deps import Q2CState, State
from starter.api.operations import proposal_json
from starter.api.routers.company import check_address
from starter.api.schemas import CrmProposalAnswer, CrmProposalIn
from starter.api.webhooks.inbox import SIGNED_REQUEST, Delivery, Outcome, receive

router = APIRouter()


async def crm_proposal(state: Q2CState, event: CrmProposalIn, _: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        # A known external_id: the proposal made the first time, whatever client this names.
        known = await proposals.by_external_id(conn, event.external_id)
        if known is not None:
            client_id = known.client_id
        else:
            # Checked again by create_proposal; checked here so that a refused proposal
            # does not leave a new client behind.
            seller = await companies.get(conn, await store.default_company_id(conn))
            if event.valid_until < local_date(datetime.now(UTC), seller.time_zone):
                raise Unacceptable("valid_until: must not be in the past")
            client_id = await _client_for(conn, event)
    created, is_new = await operations.create_proposal(state, event.as_proposal(client_id), "crm")
    if is_new:
        return Outcome(201, "proposal_created", {"proposal": created})
    return Outcome(200, "proposal_exists", {"proposal": created})


async def _client_for(conn: store.Connection, event: CrmProposalIn) -> UUID:
    if event.client_id is not None:
        try:
            await clients.get(conn, event.client_id)
        except store.NotFound:
            raise Unacceptable("client_id: no client has this id") from None
        return event.client_id
    client = event.client
    assert client is not None, "the schema requires client_id or client"
    # The address is checked as the clients API checks it (its parts are not requisites).
    address = check_address(client.model_dump(), prefix="client.")
    company_id = await store.default_company_id(conn)
    # Requisites are not checked on this path (the clients API checks them for the
    # country), so none are taken from the CRM: an operator enters them in q2c.
    return await webhooks.client_for_crm(
        conn,
        company_id,
        clients.NewClient(
            name=client.name,
            email=client.email,
            country=client.country,
            locale=client.locale,
            legal_form="",
            address=address["address"],
            street=address["street"],
            city=address["city"],
            postal_code=address["postal_code"],
            county=address["county"],
            tax_id=client.tax_id,
            registration_number=client.registration_number,
            vat_id="",
            kpp="",
            iban="",
            bic="",
            bik="",
            settlement_account="",
            correspondent_account="",
            bank_name="",
        ),
    )


async def describe_crm(state: Q2CState, event: CrmProposalIn) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        known = await proposals.by_external_id(conn, event.external_id)
        return {"proposal": await proposal_json(conn, known.id) if known else None}


@router.post(
    "/webhooks/crm/proposals",
    response_model=CrmProposalAnswer,
    responses={201: {"model": CrmProposalAnswer, "description": "Created"}},
    tags=["webhooks"],
    openapi_extra=SIGNED_REQUEST,
)
async def crm_proposals(request: Request, state: State) -> JSONResponse:
    """A CRM creates a proposal (emailed at once); a retry never makes a second one."""
    return await receive(request, state, "crm", CrmProposalIn, crm_proposal, describe_crm)
