"""Inbound webhooks: authenticated, stored before they are acted on, idempotent by event id.

Every request is checked in this order, and the README's "Webhooks" section tells
integrators the same:

1. Authentication. `Q2C-Signature: t=<unix seconds>,v1=<hex>` where the hex is
   HMAC-SHA256 over `"{t}.{raw body}"` with the source's secret. Every configured secret of
   the source is tried (two during a rotation); a source without a secret refuses
   everything. The signature is checked first, then `t` against a 5-minute tolerance either
   way, so "stale" is only ever said of an authentic, old request: a replay. Refusals are
   401, logged, and kept in `webhook_rejections`; nothing else is stored.
2. Validation. The body is one JSON object whose `id` is the event id (inside the signed
   body, so a captured request cannot be re-sent under a fresh id). A body that is not JSON
   or fails validation gets 422 naming the field, and nothing is stored: the sender can
   fix it and send the same event id again.
3. Storage. `INSERT ... ON CONFLICT (source, event_id) DO NOTHING` into `webhook_events`
   before anything is done. An event already processed is answered 200 with its original
   outcome and `duplicate: true`, and nothing happens again.
4. Processing, then `processed_at` and `outcome` are set. Refusals (a hash that does not
   match, a proposal no longer open, an unknown proposal) and parked payments are final
   outcomes too. A failure of our own (Temporal or the database unavailable) leaves the
   event stored but unprocessed and answers 5xx: the sender's retry processes it again,
   which is harmless, because every step is idempotent by a business key (external_id, the
   workflow id, the payment reference, the webhook event row).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from db import store
from db.rows import InvoiceRow, row_as
from domain.errors import InvalidInput, Refusal, Unacceptable
from domain.hmac_signature import (
    SIGNATURE_HEADER,
    SignatureRefused,
    verify_signature,
)
from domain.schedule import local_date, local_instant, overdue_at
from domain.status import IllegalTransition, InvoiceStatus, ProposalStatus, check_can_pay
from messages.models import SignProposal, proposal_workflow_id
from starter.api import operations
from starter.api.deps import API_KEY, Q2CState, State
from starter.api.errors import status_of
from starter.api.operations import iso, money, proposal_json
from starter.api.schemas import (
    CrmProposalAnswer,
    CrmProposalIn,
    EsignAnswer,
    EsignSignatureIn,
    PaymentEventIn,
    PaymentIn,
    PaymentWebhookAnswer,
    UnmatchedPaymentList,
    WebhookEventIn,
)
from workflows.proposal import ProposalWorkflow

log = logging.getLogger("q2c.webhooks")

MAX_BODY_BYTES = 1024 * 1024

E = TypeVar("E", bound=WebhookEventIn)
T = TypeVar("T")


# --- authentication ----------------------------------------------------------------------


# The scheme itself (shared with outbound events) is domain.hmac_signature.


def remote_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def authenticate(state: Q2CState, request: Request, source: str, body: bytes) -> None:
    header = request.headers.get(SIGNATURE_HEADER)
    try:
        matched = verify_signature(
            header,
            body,
            state.settings.webhook_secrets.get(source, ()),
            now=datetime.now(UTC).timestamp(),
        )
    except SignatureRefused as refused:
        await _record_rejection(state, request, source, refused.reason, header or "", body)
        raise HTTPException(401, str(refused)) from None
    if matched > 0:
        # Operators finish a rotation once this stops appearing.
        log.info("webhook %s signed with an older secret (#%d)", source, matched + 1)


async def _record_rejection(
    state: Q2CState, request: Request, source: str, reason: str, header: str, body: bytes
) -> None:
    body_sha256 = hashlib.sha256(body).hexdigest()
    ip = remote_ip(request)
    log.warning(
        "webhook %s refused: %s (from %s, %s %r, body sha256 %s)",
        source,
        reason,
        ip,
        SIGNATURE_HEADER,
        header[:200],
        body_sha256,
    )
    try:
        await state.pool.execute(
            """INSERT INTO webhook_rejections (source, reason, remote_ip, signature_header,
                   body_sha256) VALUES ($1, $2, $3, $4, $5)""",
            source,
            reason,
            ip,
            header[:1000],
            body_sha256,
        )
    except (asyncpg.PostgresError, OSError):
        log.exception("could not record a refused %s webhook", source)


# --- parsing and the event store ---------------------------------------------------------


def parse_event(model: type[E], body: bytes) -> tuple[E, dict[str, Any]]:
    """The validated event and the JSON object it came from; 422 naming the field if bad."""
    try:
        payload = json.loads(body)
    except ValueError as bad:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": f"the body is not valid JSON: {bad}",
                    "type": "json_invalid",
                }
            ]
        ) from None
    if not isinstance(payload, dict):
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body must be a JSON object", "type": "dict_type"}]
        )
    where = _nul_character(payload)
    if where is not None:
        # PostgreSQL text cannot hold U+0000.
        raise RequestValidationError(
            [{"loc": ("body", *where), "msg": "U+0000 is not allowed", "type": "string_type"}]
        )
    try:
        return model.model_validate(payload), payload
    except ValidationError as invalid:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", *error["loc"])}
                for error in invalid.errors(include_url=False, include_context=False)
            ]
        ) from None


def _nul_character(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _nul_character(item, (*path, key))
        if found is not None:
            return found
    return None


@dataclass
class StoredEvent:
    row_id: int
    event_id: str
    received_at: datetime
    payload: dict[str, Any]
    processed_at: datetime | None = None
    outcome: str | None = None
    new: bool = True


async def store_event(
    pool: asyncpg.Pool, source: str, event_id: str, payload: dict[str, Any]
) -> StoredEvent:
    """Insert the event, or find the one stored under the same (source, event id)."""
    for _ in range(3):
        row = await pool.fetchrow(
            """INSERT INTO webhook_events (source, event_id, payload) VALUES ($1, $2, $3::jsonb)
               ON CONFLICT (source, event_id) DO NOTHING RETURNING *""",
            source,
            event_id,
            json.dumps(payload),
        )
        new = row is not None
        if row is None:
            row = await pool.fetchrow(
                "SELECT * FROM webhook_events WHERE source = $1 AND event_id = $2",
                source,
                event_id,
            )
        if row is not None:  # else it was removed in between (a 422): insert again
            return StoredEvent(
                row_id=row["id"],
                event_id=row["event_id"],
                received_at=row["received_at"],
                payload=json.loads(row["payload"]),
                processed_at=row["processed_at"],
                outcome=row["outcome"],
                new=new,
            )
    raise HTTPException(503, "the event could not be stored; send it again")


async def finish(pool: asyncpg.Pool, row_id: int, outcome: str) -> None:
    await pool.execute(
        """UPDATE webhook_events SET processed_at = now(), outcome = $2
           WHERE id = $1 AND processed_at IS NULL""",
        row_id,
        outcome,
    )


async def finish_with(
    pool: asyncpg.Pool,
    row_id: int,
    outcome: str,
    action: Callable[[store.Connection], Awaitable[T]],
) -> T | None:
    """Run a database-only effect and mark the event processed, in one transaction: a
    second delivery being processed at the same time, or a retry, does not run it again."""
    async with pool.acquire() as conn, conn.transaction():
        processed = await conn.fetchval(
            "SELECT processed_at FROM webhook_events WHERE id = $1 FOR UPDATE", row_id
        )
        if processed is not None:
            return None
        result = await action(conn)
        await conn.execute(
            "UPDATE webhook_events SET processed_at = now(), outcome = $2 WHERE id = $1",
            row_id,
            outcome,
        )
        return result


@dataclass
class Outcome:
    status_code: int
    outcome: str
    fields: dict[str, Any] = field(default_factory=dict)
    # Already marked processed, in the transaction of its effect (finish_with).
    finished: bool = False


@dataclass
class Delivery:
    event: StoredEvent
    remote_ip: str


Processor = Callable[[Q2CState, E, Delivery], Awaitable[Outcome]]
Describer = Callable[[Q2CState, E], Awaitable[dict[str, Any]]]


async def read_body(request: Request) -> bytes:
    """The raw body, exactly as signed; refused past MAX_BODY_BYTES without reading it all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(
    request: Request,
    state: Q2CState,
    source: str,
    model: type[E],
    process: Processor[E],
    describe: Describer[E] | None = None,
) -> JSONResponse:
    """Authenticate, validate, store, then process once; the shared path of every webhook."""
    body = await read_body(request)
    await authenticate(state, request, source, body)
    event, payload = parse_event(model, body)
    stored = await store_event(state.pool, source, event.id, payload)
    if not stored.new:
        if stored.payload != payload:
            log.warning(
                "webhook %s event %s re-sent with a different body; the first one stands",
                source,
                event.id,
            )
        if stored.processed_at is not None:
            answer: dict[str, Any] = {
                "event_id": stored.event_id,
                "outcome": stored.outcome,
                "duplicate": True,
                "received_at": iso(stored.received_at),
                "processed_at": iso(stored.processed_at),
            }
            if describe is not None:
                answer |= await describe(state, model.model_validate(stored.payload))
            return JSONResponse(answer, status_code=200)
        log.info("webhook %s event %s was stored, not processed: processing it", source, event.id)
        event = model.model_validate(stored.payload)

    delivery = Delivery(stored, remote_ip(request))
    try:
        result = await process(state, event, delivery)
    except IllegalTransition as refused:
        result = Outcome(409, "rejected", {"detail": refused.reason})
    except store.NotFound as missing:
        result = Outcome(404, "rejected", {"detail": f"{missing.kind} not found"})
    except (RequestValidationError, InvalidInput, Unacceptable):
        # Invalid input stores nothing, wherever it was found (past the body's schema too:
        # a VAT rate not in force, say).
        await state.pool.execute(
            "DELETE FROM webhook_events WHERE id = $1 AND processed_at IS NULL", stored.row_id
        )
        raise
    except Refusal as refused:
        status_code = status_of(refused)
        if not 400 <= status_code < 500:
            raise  # ours: the event stays unprocessed and the sender's retry redoes it
        result = Outcome(status_code, "rejected", {"detail": str(refused)})
    if not result.finished:
        await finish(state.pool, stored.row_id, result.outcome)
    log.info("webhook %s event %s: %s", source, stored.event_id, result.outcome)
    return JSONResponse(
        {"event_id": stored.event_id, "outcome": result.outcome, "duplicate": False}
        | result.fields,
        status_code=result.status_code,
    )


# --- CRM: create (and send) a proposal ----------------------------------------------------


async def crm_proposal(state: Q2CState, event: CrmProposalIn, _: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        # A known external_id: the proposal made the first time, whatever client this names.
        client_id = await conn.fetchval(
            "SELECT client_id FROM proposals WHERE external_id = $1", event.external_id
        )
        if client_id is None:
            # Checked again by create_proposal; checked here so that a refused proposal
            # does not leave a new client behind.
            seller = await store.company(conn, await store.default_company_id(conn))
            if event.valid_until < local_date(datetime.now(UTC), seller.time_zone):
                raise Unacceptable("valid_until: must not be in the past")
            client_id = await _client_for(conn, event)
    created, is_new = await operations.create_proposal(state, event.as_proposal(client_id))
    if is_new:
        return Outcome(201, "proposal_created", {"proposal": created})
    return Outcome(200, "proposal_exists", {"proposal": created})


async def _client_for(conn: store.Connection, event: CrmProposalIn) -> UUID:
    if event.client_id is not None:
        if not await conn.fetchval("SELECT 1 FROM clients WHERE id = $1", event.client_id):
            raise Unacceptable("client_id: no client has this id")
        return event.client_id
    client = event.client
    assert client is not None, "the schema requires client_id or client"
    company_id = await store.default_company_id(conn)
    async with conn.transaction():
        # Two events naming the same new client at once must not create it twice.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            f"client:{company_id}:{client.email.lower()}",
        )
        existing: UUID | None = await conn.fetchval(
            """SELECT id FROM clients WHERE company_id = $1 AND lower(email) = lower($2)
               ORDER BY created_at, id LIMIT 1""",
            company_id,
            client.email,
        )
        if existing is not None:
            return existing
        created: UUID = await conn.fetchval(
            """INSERT INTO clients (company_id, name, email, country, locale, tax_id,
                   registration_number, address)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
            company_id,
            client.name,
            client.email,
            client.country,
            client.locale,
            client.tax_id,
            client.registration_number,
            client.address,
        )
        return created


async def describe_crm(state: Q2CState, event: CrmProposalIn) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        proposal_id = await conn.fetchval(
            "SELECT id FROM proposals WHERE external_id = $1", event.external_id
        )
        return {"proposal": await proposal_json(conn, proposal_id) if proposal_id else None}


# --- e-signature: a signature made at an external provider -------------------------------


def esign_consent_text(provider: str) -> str:
    return f"Signed through {provider} e-signature"


async def esign_signature(state: Q2CState, event: EsignSignatureIn, delivery: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        if event.proposal_id is not None:
            proposal = await conn.fetchrow(
                "SELECT * FROM proposals WHERE id = $1", event.proposal_id
            )
        else:
            proposal = await conn.fetchrow(
                "SELECT * FROM proposals WHERE external_id = $1", event.external_id
            )
        if proposal is None:
            return Outcome(404, "unknown_proposal", {"detail": "no such proposal"})
        proposal_id = str(proposal["id"])
        signed = proposal["status"] == ProposalStatus.SIGNED
        if signed and await _same_signature(conn, proposal_id, event):
            # This very signature was taken already (a retry, or a new event id for it).
            return Outcome(200, "already_signed", {"proposal_id": proposal_id})
        seller = await store.company(conn, proposal["company_id"])
        expected = await conn.fetchval(
            "SELECT sha256 FROM documents WHERE key = $1", proposal["document_key"]
        )
    refusal = _signature_refusal(proposal, seller.time_zone, expected, event)
    if refusal is None:
        try:
            await state.temporal.get_workflow_handle(proposal_workflow_id(proposal_id)).signal(
                ProposalWorkflow.sign,
                SignProposal(
                    signer_name=event.signer_name,
                    signer_email=event.signer_email,
                    signed_at=event.signed_at,
                    document_sha256=expected,
                    consent_text=esign_consent_text(event.provider),
                    ip=event.signer_ip,
                    user_agent=event.signer_user_agent,
                    source="esign",
                ),
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
    proposal: asyncpg.Record, time_zone: str, expected: str | None, event: EsignSignatureIn
) -> tuple[str, str, dict[str, Any]] | None:
    """Why this signature cannot be taken (outcome, detail, audit data), or None."""
    status = proposal["status"]
    if status != ProposalStatus.SENT:
        return (
            "refused_not_sent",
            f"the proposal is {status} and can no longer be signed",
            {"status": status},
        )
    if datetime.now(UTC) >= overdue_at(proposal["valid_until"], time_zone):
        valid_until = proposal["valid_until"].isoformat()
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
    taken = await conn.fetchrow("SELECT * FROM signatures WHERE proposal_id = $1", proposal_id)
    return bool(
        taken is not None
        and taken["source"] == "esign"
        and taken["signer_name"] == event.signer_name
        and taken["signed_at"] == event.signed_at
        and taken["document_sha256"] == event.document_sha256
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


# --- payments: money received, matched to an invoice or parked ---------------------------


async def payment(state: Q2CState, event: PaymentEventIn, delivery: Delivery) -> Outcome:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        if event.invoice_id is not None:
            invoice = await conn.fetchrow("SELECT * FROM invoices WHERE id = $1", event.invoice_id)
        else:
            invoice = await conn.fetchrow(
                "SELECT * FROM invoices WHERE company_id = $1 AND number = $2",
                company_id,
                event.invoice_number,
            )
        seller = await store.company(conn, invoice["company_id"] if invoice else company_id)
        time_zone = seller.time_zone
        if invoice is None:
            return await _park(state, delivery, event, None, "unknown_invoice", time_zone)
        already = await conn.fetchval(
            "SELECT 1 FROM payments WHERE invoice_id = $1 AND reference = $2",
            invoice["id"],
            event.reference,
        )
    if already:
        # The payment API's rule: a reference already recorded on the invoice changes nothing.
        return Outcome(
            200,
            "payment_duplicate",
            {
                "invoice": operations.invoice_json(row_as(InvoiceRow, invoice)),
                "payment_recorded": False,
            },
        )
    if event.currency != invoice["currency"].strip():
        return await _park(state, delivery, event, invoice, "currency_mismatch", time_zone)
    try:
        check_can_pay(InvoiceStatus(invoice["status"]))
        paid_on = (
            local_date(event.paid_at, time_zone)
            if isinstance(event.paid_at, datetime)
            else event.paid_at
        )
        recorded = await operations.record_payment(
            state,
            invoice["id"],
            PaymentIn(
                amount=event.amount,
                paid_at=paid_on,
                reference=event.reference,
                currency=event.currency,
            ),
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
    invoice: asyncpg.Record | None,
    reason: str,
    time_zone: str,
) -> Outcome:
    """Keep a payment that cannot be applied for an operator; the sender gets 202."""
    paid_at = (
        event.paid_at
        if isinstance(event.paid_at, datetime)
        else local_instant(event.paid_at, 0, time_zone)
    )

    async def insert(conn: store.Connection) -> Any:
        return await conn.fetchval(
            """INSERT INTO unmatched_payments (webhook_event_id, invoice_ref, invoice_id,
                   amount, currency, reference, paid_at, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (webhook_event_id) DO NOTHING RETURNING id""",
            delivery.event.row_id,
            event.invoice_ref,
            invoice["id"] if invoice else None,
            event.amount,
            event.currency,
            event.reference,
            paid_at,
            reason,
        )

    outcome = f"parked_{reason}"
    await finish_with(state.pool, delivery.event.row_id, outcome, insert)
    unmatched_id = await state.pool.fetchval(
        "SELECT id FROM unmatched_payments WHERE webhook_event_id = $1", delivery.event.row_id
    )
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


def unmatched_json(row: asyncpg.Record) -> dict[str, Any]:
    currency = row["currency"].strip()
    return {
        "id": str(row["id"]),
        "event_id": row["event_id"],
        "invoice_ref": row["invoice_ref"],
        "invoice_id": str(row["invoice_id"]) if row["invoice_id"] else None,
        "invoice_number": row["invoice_number"],
        "invoice_status": row["invoice_status"],
        "amount": money(row["amount"], currency),
        "currency": currency,
        "reference": row["reference"],
        "paid_at": iso(row["paid_at"]),
        "reason": row["reason"],
        "received_at": iso(row["created_at"]),
        "resolved_at": iso(row["resolved_at"]),
    }


# --- routes ------------------------------------------------------------------------------


# /webhooks/* and the operators' list of unmatched payments.
router = APIRouter()

# Every webhook is signed; the header is read from the raw request, so OpenAPI is told here.
SIGNED_REQUEST = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">',
        }
    ]
}


@router.post(
    "/webhooks/crm/proposals",
    response_model=CrmProposalAnswer,
    tags=["webhooks"],
    openapi_extra=SIGNED_REQUEST,
)
async def crm_proposals(request: Request, state: State) -> JSONResponse:
    """A CRM creates a proposal (emailed at once); a retry never makes a second one."""
    return await receive(request, state, "crm", CrmProposalIn, crm_proposal, describe_crm)


@router.post(
    "/webhooks/esign",
    response_model=EsignAnswer,
    tags=["webhooks"],
    openapi_extra=SIGNED_REQUEST,
)
async def esign(request: Request, state: State) -> JSONResponse:
    """An e-signature provider reports a signature of the document that was sent."""
    return await receive(request, state, "esign", EsignSignatureIn, esign_signature)


@router.post(
    "/webhooks/payments",
    response_model=PaymentWebhookAnswer,
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
    rows = await state.pool.fetch(
        """SELECT u.*, e.event_id, i.number AS invoice_number, i.status AS invoice_status
           FROM unmatched_payments u
           LEFT JOIN webhook_events e ON e.id = u.webhook_event_id
           LEFT JOIN invoices i ON i.id = u.invoice_id
           WHERE $1 OR u.resolved_at IS NULL
           ORDER BY u.created_at DESC, u.id LIMIT $2""",
        include_resolved,
        limit,
    )
    return {"items": [unmatched_json(row) for row in rows]}
