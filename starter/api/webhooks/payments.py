"""The payments webhook: money received, matched to an invoice or parked for an operator;
and the operators' list of the parked ones."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from db import companies, invoices, store, webhooks
from db import payments as db_payments
from db.rows import InvoiceRow
from domain.schedule import local_date, local_instant
from domain.status import IllegalTransition, InvoiceStatus, check_can_pay
from starter.api import operations
from starter.api.deps import API_KEY, Q2CState, State
from starter.api.operations import iso, money
from starter.api.schemas import (
    PaymentEventIn,
    PaymentIn,
    PaymentWebhookAnswer,
    UnmatchedPaymentList,
)
from starter.api.webhooks.inbox import SIGNED_REQUEST, Delivery, Outcome, finish_with, receive

log = logging.getLogger("q2c.webhooks")

router = APIRouter()


async def payment(state: Q2CState, event: PaymentEventIn, delivery: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        invoice: InvoiceRow | None
        if event.invoice_id is not None:
            try:
                invoice = await invoices.get(conn, event.invoice_id)
            except store.NotFound:
                invoice = None
        else:
            invoice = await invoices.by_number(conn, company_id, event.invoice_number)
        seller = await companies.get(conn, invoice.company_id if invoice else company_id)
        time_zone = seller.time_zone
        if invoice is None:
            return await _park(state, delivery, event, None, "unknown_invoice", time_zone)
        already = await db_payments.exists(conn, invoice.id, event.reference)
    if already:
        # The payment API's rule: a reference already recorded on the invoice changes nothing.
        return Outcome(
            200,
            "payment_duplicate",
            {"invoice": operations.invoice_json(invoice), "payment_recorded": False},
        )
    if event.currency != invoice.currency.strip():
        return await _park(state, delivery, event, invoice, "currency_mismatch", time_zone)
    try:
        check_can_pay(InvoiceStatus(invoice.status))
        paid_on = (
            local_date(event.paid_at, time_zone)
            if isinstance(event.paid_at, datetime)
            else event.paid_at
        )
        recorded = await operations.record_payment(
            state,
            invoice.id,
            PaymentIn(
                amount=event.amount,
                paid_at=paid_on,
                reference=event.reference,
                currency=event.currency,
            ),
            "payments",
        )
    except IllegalTransition:
        # Not payable, or it left the payable statuses between the read and the update.
        return await _park(state, delivery, event, invoice, "not_payable", time_zone)
    payment_recorded = bool(recorded.pop("payment_recorded"))
    return Outcome(
        200,
        "payment_recorded" if payment_recorded else "payment_duplicate",
        {"invoice": recorded, "payment_recorded": payment_recorded},
    )


async def _park(
    state: Q2CState,
    delivery: Delivery,
    event: PaymentEventIn,
    invoice: InvoiceRow | None,
    reason: str,
    time_zone: str,
) -> Outcome:
    """Keep a payment that cannot be applied for an operator; the sender gets 202."""
    paid_at = (
        event.paid_at
        if isinstance(event.paid_at, datetime)
        else local_instant(event.paid_at, 0, time_zone)
    )
    parked = webhooks.ParkedPayment(
        webhook_event_id=delivery.event.row_id,
        invoice_ref=event.invoice_ref,
        invoice_id=invoice.id if invoice else None,
        amount=event.amount,
        currency=event.currency,
        reference=event.reference,
        paid_at=paid_at,
        reason=reason,
    )

    async def insert(conn: store.Connection) -> None:
        await webhooks.park_payment(conn, parked)

    outcome = f"parked_{reason}"
    await finish_with(state.pool, delivery.event.row_id, outcome, insert)
    async with state.pool.acquire() as conn:
        unmatched_id = await webhooks.parked_payment_id(conn, delivery.event.row_id)
    log.warning("payment %s for invoice %s parked: %s", event.reference, event.invoice_ref, reason)
    return Outcome(
        202,
        outcome,
        {
            "parked": True,
            "reason": reason,
            "unmatched_payment_id": str(unmatched_id) if unmatched_id else None,
        },
        finished=True,
    )


def unmatched_json(unmatched: webhooks.UnmatchedPayment) -> dict[str, Any]:
    row = unmatched.payment
    currency = row.currency.strip()
    return {
        "id": str(row.id),
        "event_id": unmatched.event_id,
        "invoice_ref": row.invoice_ref,
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
        "invoice_number": unmatched.invoice_number,
        "invoice_status": unmatched.invoice_status,
        "amount": money(row.amount, currency),
        "currency": currency,
        "reference": row.reference,
        "paid_at": iso(row.paid_at),
        "reason": row.reason,
        "received_at": iso(row.created_at),
        "resolved_at": iso(row.resolved_at),
    }


@router.post(
    "/webhooks/payments",
    response_model=PaymentWebhookAnswer,
    responses={202: {"model": PaymentWebhookAnswer, "description": "Parked"}},
    tags=["webhooks"],
    openapi_extra=SIGNED_REQUEST,
)
async def payments(request: Request, state: State) -> JSONResponse:
    """A payment for an invoice: recorded, or parked as unmatched for an operator."""
    return await receive(request, state, "payments", PaymentEventIn, payment)


@router.get(
    "/api/v1/unmatched-payments",
    response_model=UnmatchedPaymentList,
    dependencies=API_KEY,
    tags=["payments"],
)
async def unmatched_payments(
    state: State,
    include_resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Payments reported by a webhook that could not be applied, newest first."""
    async with state.pool.acquire() as conn:
        found = await webhooks.unmatched_payments(
            conn, include_resolved=include_resolved, limit=limit
        )
    return {"items": [unmatched_json(unmatched) for unmatched in found]}
