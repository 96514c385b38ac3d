"""Client credit: what over-payments left, and applying it to another invoice of the client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from db import clients, credits
from domain.operators import Action
from domain.status import InvoiceStatus, check_can_pay
from messages.models import PaymentRequest
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import (
    invoice_handle,
    invoice_json,
    invoice_row,
    iso,
    money,
    operator_request,
    run_update,
)
from starter.api.schemas import Amount, Body, ClientCreditOut, PaymentRecordedOut
from workflows.invoice import InvoiceWorkflow


class ApplyCreditIn(Body):
    amount: Amount = Field(gt=0)
    reference: str | None = Field(default=None, min_length=1, max_length=200)


router = APIRouter()


@router.get(
    "/api/v1/clients/{client_id}/credit",
    response_model=ClientCreditOut,
    dependencies=API_KEY,
    tags=["clients"],
)
async def client_credit(client_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        await clients.get(conn, client_id)
        rows = await credits.entries_of_client(conn, client_id)
    balances: dict[str, Any] = {}
    for row in rows:
        currency = row.entry.currency.strip()
        balances[currency] = balances.get(currency, 0) + row.entry.amount
    return {
        "client_id": str(client_id),
        "balances": [
            {"currency": currency, "amount": money(amount, currency)}
            for currency, amount in sorted(balances.items())
        ],
        "entries": [
            {
                "kind": row.entry.kind,
                "amount": money(row.entry.amount, row.entry.currency),
                "currency": row.entry.currency.strip(),
                "invoice_id": str(row.entry.invoice_id),
                "invoice_number": row.invoice_number,
                "reference": row.entry.reference,
                "created_at": iso(row.entry.created_at),
            }
            for row in rows
        ],
    }


@router.post(
    "/api/v1/invoices/{invoice_id}/apply-credit",
    response_model=PaymentRecordedOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def apply_credit(
    invoice_id: UUID,
    body: ApplyCreditIn,
    state: State,
    response: Response,
    operator: CurrentOperator,
) -> dict[str, Any]:
    row = await invoice_row(state, invoice_id)
    check_can_pay(InvoiceStatus(row.status))
    result = await run_update(
        invoice_handle(state, invoice_id),
        InvoiceWorkflow.record_payment,
        PaymentRequest(
            amount=str(body.amount),
            paid_at=datetime.now(UTC).date().isoformat(),
            reference=body.reference or f"credit:{uuid.uuid4()}",
            from_credit=True,
            request_id=await operator_request(state, operator, Action.PAY, invoice_id),
        ),
    )
    response.status_code = 201 if result.recorded else 200
    return invoice_json(await invoice_row(state, invoice_id)) | {
        "payment_recorded": result.recorded
    }
