"""What the HTTP routes share: the JSON shapes, and the operations that more than one door
(operator API, webhooks) performs. Operations speak no HTTP: they raise domain errors
(domain.errors, IllegalTransition, store.NotFound), which starter.api.errors turns into
statuses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from db import (
    clients,
    companies,
    contracts,
    invoices,
    matters,
    operators,
    payments,
    proposals,
    store,
    ui_views,
)
from db.rows import ClientRow, InvoiceRow, ProposalRow
from domain.contracts import check_exchange_rate, check_line_rates
from domain.errors import (
    Conflict,
    InvalidInput,
    Missing,
    OperationFailed,
    Refusal,
    Unacceptable,
    Unavailable,
)
from domain.money import Line, plain_decimal, round_money
from domain.operators import Action
from domain.schedule import local_date
from domain.status import IllegalTransition, InvoiceStatus, ProposalStatus, check_can_pay
from domain.vat import DocumentTotals, compute_document_totals
from messages.models import (
    InvoiceWorkflowInput,
    PaymentRequest,
    ProposalWorkflowInput,
    invoice_workflow_id,
    proposal_workflow_id,
)
from starter.api.deps import Operator, Q2CState
from starter.api.schemas import PaymentIn, ProposalIn
from starter.api.schemas.invoices import ManualInvoiceIn
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

log = logging.getLogger("q2c.api")


async def create_proposal(
    state: Q2CState, body: ProposalIn, by: str
) -> tuple[dict[str, Any], bool]:
    """Store the proposal and start its workflow (which emails it). A known external_id
    returns the proposal made the first time, and False for "created". `by`: the actor
    (an operator's, or "crm")."""
    items = [line.as_line() for line in body.lines]
    async with state.pool.acquire() as conn:
        buyer = await clients.get(conn, body.client_id)
        if buyer.archived_at is not None:  # an archived client gets no new documents
            raise Conflict(f"client {buyer.id} is archived: unarchive it first")
        seller = await companies.get(conn, buyer.company_id)
        today = local_date(datetime.now(UTC), seller.time_zone)
        if body.valid_until < today:
            raise Unacceptable("valid_until: must not be in the past")
        if body.contract_id is not None:
            await check_contract_of(conn, body.contract_id, buyer.id)
        if body.matter_id is not None:
            await check_matter_of(conn, body.matter_id, buyer.id)
        totals = checked_document_totals(
            seller.country,
            today,
            items,
            body.currency,
            body.prices_include_vat,
            body.discount_percent,
        )
        async with conn.transaction():
            proposal_id = await proposals.insert_unless_known(
                conn,
                proposals.NewProposal(
                    company_id=seller.id,
                    client_id=buyer.id,
                    external_id=body.external_id,
                    currency=body.currency,
                    valid_until=body.valid_until,
                    payment_terms_days=body.payment_terms_days
                    if body.payment_terms_days is not None
                    else seller.payment_terms_days,
                    notes=body.notes,
                    subtotal=totals.subtotal,
                    vat_total=totals.vat_total,
                    total=totals.total,
                    status=ProposalStatus.SENT.value if body.send else ProposalStatus.DRAFT.value,
                    contract_id=body.contract_id,
                    prices_include_vat=body.prices_include_vat,
                    discount_percent=body.discount_percent,
                    sent_by=by if body.send else None,
                    followup_days_after_sent=body.followup_days_after_sent,
                    followup_days_before_expiry=body.followup_days_before_expiry,
                    matter_id=body.matter_id,
                ),
            )
            if proposal_id is not None:
                await store.replace_lines(
                    conn,
                    "proposal_lines",
                    "proposal_id",
                    proposal_id,
                    items,
                    body.currency,
                    prices_include_vat=body.prices_include_vat,
                    discount_percent=body.discount_percent,
                )
        if proposal_id is None:
            existing = await proposals.by_external_id(conn, body.external_id)
            assert existing is not None
            if existing.status != ProposalStatus.DRAFT:
                # The first request may have died before starting the workflow: start it
                # now; if it is running, "use existing" makes this a no-op.
                await start_proposal_workflow(state, conn, str(existing.id))
            return await proposal_json(conn, existing.id), False
        if not body.send:
            return await proposal_json(conn, proposal_id), True
        try:
            await start_proposal_workflow(state, conn, str(proposal_id))
        except Exception:
            # Without its workflow the proposal would never be sent: take it back whole.
            async with conn.transaction():
                await proposals.delete_with_lines(conn, proposal_id)
            log.exception("could not start the workflow of proposal %s", proposal_id)
            raise Unavailable("the workflow service is unavailable; nothing was saved") from None
        return await proposal_json(conn, proposal_id), True


async def send_draft_proposal(state: Q2CState, proposal_id: UUID, by: str) -> dict[str, Any]:
    """Send a proposal kept as a draft; sending one already sent changes nothing."""
    async with state.pool.acquire() as conn:
        row = await proposals.get(conn, proposal_id)
        if row.status == ProposalStatus.DRAFT:
            seller = await companies.get(conn, row.company_id)
            today = local_date(datetime.now(UTC), seller.time_zone)
            if row.valid_until < today:
                raise Conflict("the proposal's validity has passed; nothing was sent")
            # Its date is the day it is sent: a rate that changed since it was drafted is
            # refused now, before the client sees it.
            line_rows = await store.lines(conn, "proposal_lines", "proposal_id", proposal_id)
            check_line_rates(seller.country, today, store.as_lines(line_rows))
            await proposals.mark_sent_from_draft(conn, proposal_id, by)
        elif row.status != ProposalStatus.SENT:
            raise Conflict(f"the proposal is {row.status} and cannot be sent")
        await start_proposal_workflow(state, conn, str(proposal_id))
        return await proposal_json(conn, proposal_id)


def checked_document_totals(
    country: str,
    day: date,
    items: Sequence[Line],
    currency: str,
    prices_include_vat: bool,
    discount_percent: Decimal,
    field: str = "lines",
) -> DocumentTotals:
    """The totals of lines checked against the seller's VAT rates on ``day`` and the
    largest amount a document can hold; a refused line raises InvalidInput naming its
    field."""
    check_line_rates(country, day, items, field)
    check_line_magnitudes(items, field)
    return compute_document_totals(
        items,
        currency,
        prices_include_vat=prices_include_vat,
        document_discount_percent=discount_percent,
    )


# A document's money columns are numeric(20, 4): below 10^16. Quantities and prices below
# 10^15 whose products add up to less than 10^15 keep every line, subtotal and total (VAT
# is below 100 %) within them; larger ones would fail the arithmetic or the insert (a 500).
MAX_DOCUMENT_AMOUNT = Decimal(10) ** 15


def check_line_magnitudes(items: Sequence[Line], field: str = "lines") -> None:
    """Refuse lines too large for a document, naming the field."""
    limit = f"must be less than {MAX_DOCUMENT_AMOUNT:.0f}"
    gross = Decimal(0)
    for index, item in enumerate(items):
        for name, value in (("quantity", item.quantity), ("unit_price", item.unit_price)):
            if value >= MAX_DOCUMENT_AMOUNT:
                raise InvalidInput(f"{field}[{index}].{name}: {limit}")
        gross += item.quantity * item.unit_price
    if gross >= MAX_DOCUMENT_AMOUNT:
        raise InvalidInput(f"{field}: quantity x unit price summed over the lines {limit}")


async def check_contract_of(conn: store.Connection, contract_id: Any, client_id: Any) -> None:
    """A proposal references a contract of its own client."""
    contract = await contracts.find(conn, contract_id)
    if contract is None:
        raise Missing("contract not found")
    if contract.client_id != client_id:
        raise InvalidInput("contract_id: the contract is with another client")


async def check_matter_of(conn: store.Connection, matter_id: Any, client_id: Any) -> Any:
    """A document names an open matter of its own client (any client's when `client_id` is
    None); the matter's client id. A 422 naming `matter_id` otherwise."""
    matter = await matters.find(conn, matter_id)
    if matter is None:
        raise InvalidInput("matter_id: no such matter")
    if client_id is not None and matter.client_id != client_id:
        raise InvalidInput("matter_id: the matter is another client's")
    if matter.closed_at is not None:
        raise InvalidInput("matter_id: the matter is closed")
    return matter.client_id


async def start_proposal_workflow(
    state: Q2CState, conn: store.Connection, proposal_id: str
) -> None:
    """The proposal's workflow, with the Temporal UI's list line for it (number, client,
    total). `conn` is the caller's: taking a second connection from the pool while holding
    one would deadlock once as many requests as the pool has connections do it at once."""
    summary = await ui_views.proposal_summary(conn, proposal_id)
    await state.temporal.start_workflow(
        ProposalWorkflow.run,
        ProposalWorkflowInput(proposal_id),
        id=proposal_workflow_id(proposal_id),
        task_queue=state.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=summary,
    )


async def operator_request(
    state: Q2CState, by: Operator | str, action: Action, invoice_id: Any
) -> str:
    """Record who asks for `action` on the invoice before its workflow is told (an operator,
    or a webhook source's name); the id goes in the signal or update (db.operators)."""
    async with state.pool.acquire() as conn:
        return await operators.record_request(
            conn,
            actor=by.actor if isinstance(by, Operator) else by,
            operator_id=by.id if isinstance(by, Operator) else None,
            action=action.value,
            target=str(invoice_id),
        )


async def record_payment(
    state: Q2CState, invoice_id: UUID, body: PaymentIn, by: Operator | str
) -> dict[str, Any]:
    """Record a payment through the invoice's workflow; a known reference changes nothing.
    The answer's `payment_recorded` says whether this call recorded it. `by`: the operator,
    or the webhook source."""
    row = await invoice_row(state, invoice_id)
    async with state.pool.acquire() as conn:
        already = await payments.exists(conn, invoice_id, body.reference)
    if already:
        # Idempotent by reference, even once the invoice is paid and its workflow closed.
        return invoice_json(row) | {"payment_recorded": False}
    check_can_pay(InvoiceStatus(row.status))
    result = await run_update(
        invoice_handle(state, invoice_id),
        InvoiceWorkflow.record_payment,
        PaymentRequest(
            amount=str(body.amount),
            paid_at=body.paid_at.isoformat(),
            reference=body.reference,
            currency=body.currency,
            request_id=await operator_request(state, by, Action.PAY, invoice_id),
        ),
    )
    return invoice_json(await invoice_row(state, invoice_id)) | {
        "payment_recorded": result.recorded
    }


async def invoice_row(state: Q2CState, invoice_id: UUID) -> InvoiceRow:
    async with state.pool.acquire() as conn:
        return await invoices.get(conn, invoice_id)


def invoice_handle(state: Q2CState, invoice_id: UUID) -> WorkflowHandle[Any, Any]:
    return state.temporal.get_workflow_handle(invoice_workflow_id(str(invoice_id)))


# The domain error each failure type of a workflow update stands for.
REFUSAL_OF_FAILURE: dict[str, Callable[[str], Exception]] = {
    "IllegalTransition": IllegalTransition,
    "InvalidInput": Unacceptable,
    "NotFound": Missing,
}


def refusal_of(failed: WorkflowUpdateFailedError) -> Exception | None:
    """The domain error a refused update stands for; None when it failed for no stated
    reason. The refusal may come from the validator, or from an activity the handler ran."""
    cause: BaseException | None = failed.cause
    while isinstance(cause, ActivityError):
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return REFUSAL_OF_FAILURE.get(cause.type or "", OperationFailed)(cause.message)
    return None


async def run_update(handle: WorkflowHandle[Any, Any], update: Any, argument: Any) -> Any:
    """Run a workflow update; its refusal is raised as the matching domain error."""
    try:
        return await handle.execute_update(update, argument)
    except WorkflowUpdateFailedError as failed:
        refused = refusal_of(failed)
        if refused is None:
            raise
        raise refused from failed


# What a workflow update's refusal can be raised as.
UPDATE_REFUSALS = (IllegalTransition, Refusal)


def money(value: Any, currency: str) -> str:
    return str(round_money(value, currency.strip()))


def client_json(row: ClientRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "email": row.email,
        "country": row.country,
        "locale": row.locale,
        "tax_id": row.tax_id,
        "registration_number": row.registration_number,
        "address": row.address,
        "street": row.street,
        "city": row.city,
        "postal_code": row.postal_code,
        "county": row.county,
        "address_needs_review": row.address_needs_review,
        "legal_form": row.legal_form,
        "vat_id": row.vat_id,
        "kpp": row.kpp,
        "iban": row.iban,
        "bank_name": row.bank_name,
        "bic": row.bic,
        "bik": row.bik,
        "settlement_account": row.settlement_account,
        "correspondent_account": row.correspondent_account,
    }


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


async def proposal_json(conn: store.Connection, proposal_id: Any) -> dict[str, Any]:
    return proposal_row_json(await proposals.get(conn, proposal_id))


def proposal_row_json(row: ProposalRow) -> dict[str, Any]:
    """A proposal read already (a list's row) as answered."""
    currency = row.currency.strip()
    return {
        "id": str(row.id),
        "status": row.status,
        "client_id": str(row.client_id),
        "external_id": row.external_id,
        "currency": currency,
        "valid_until": iso(row.valid_until),
        "payment_terms_days": row.payment_terms_days,
        "subtotal": money(row.subtotal, currency),
        "vat_total": money(row.vat_total, currency),
        "total": money(row.total, currency),
        "emailed_at": iso(row.emailed_at),
        "signed_at": iso(row.signed_at),
        "declined_at": iso(row.declined_at),
        "decline_reason": row.decline_reason,
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
        # Given when the proposal is first sent; a draft has none.
        "number": row.number,
        "issue_date": iso(row.issue_date),
        "workflow_id": proposal_workflow_id(str(row.id)),
        "contract_id": str(row.contract_id) if row.contract_id else None,
        "prices_include_vat": row.prices_include_vat,
        "discount_percent": plain_decimal(row.discount_percent),
        "followup_days_after_sent": row.followup_days_after_sent,
        "followup_days_before_expiry": row.followup_days_before_expiry,
        "matter_id": str(row.matter_id) if row.matter_id else None,
    }


def invoice_json(row: InvoiceRow) -> dict[str, Any]:
    currency = row.currency.strip()
    due = row.total - row.amount_paid
    return {
        "id": str(row.id),
        "number": row.number,
        "status": row.status,
        "overdue": row.overdue,
        "currency": currency,
        "subtotal": money(row.subtotal, currency),
        "vat_total": money(row.vat_total, currency),
        "total": money(row.total, currency),
        "amount_paid": money(row.amount_paid, currency),
        "amount_due": money(max(due, 0), currency),
        "issue_date": iso(row.issue_date),
        "due_date": iso(row.due_date),
        "client_id": str(row.client_id),
        "proposal_id": str(row.proposal_id) if row.proposal_id else None,
        "notes": row.notes,
        "workflow_id": invoice_workflow_id(str(row.id)),
        # The credit note (storno) that cancelled it, once it is voided after issue.
        "credit_note_id": str(row.credit_note_id) if row.credit_note_id else None,
        "credit_note_number": row.credit_note_number,
        "contract_id": str(row.contract_id) if row.contract_id else None,
        "prices_include_vat": row.prices_include_vat,
        "discount_percent": plain_decimal(row.discount_percent),
        "exchange_rate": (
            plain_decimal(row.exchange_rate) if row.exchange_rate is not None else None
        ),
        # Why the last approval was refused; the invoice is still in review.
        "approval_error": row.approval_error,
        "matter_id": str(row.matter_id) if row.matter_id else None,
    }


# --- draft invoices opened at review (from a contract, or by hand) --------------------------


@dataclass(frozen=True, slots=True)
class DraftInvoice:
    """What a draft invoice opened at review is made of: its parties, terms and checked
    lines and totals, and how it came about (the audit event and its data)."""

    company_id: Any
    client_id: Any
    series: str
    currency: str
    payment_terms_days: int
    notes: str
    items: Sequence[Line]
    totals: DocumentTotals
    prices_include_vat: bool
    discount_percent: Decimal
    exchange_rate: Decimal | None
    # The Idempotency-Key as stored (invoices.request_key, unique per company); None: none.
    request_key: str | None
    audit_kind: str
    audit_data: dict[str, Any]
    contract_id: Any = None
    # The matter (case) it is filed under: the contract's, or one of the client's by hand.
    matter_id: Any = None


async def open_draft_invoice(
    state: Q2CState, conn: store.Connection, draft: DraftInvoice, actor: str
) -> UUID | None:
    """Insert the draft and its lines (one transaction) and start its InvoiceWorkflow, which
    renders the draft and waits at review; then audit it as `draft.audit_kind` by `actor`.
    If the workflow cannot be started the draft is taken back whole (nobody could review or
    approve it) and Unavailable is raised. None when a request with the same key committed
    its invoice while this one ran: the caller answers with that one."""
    async with conn.transaction():
        invoice_id = await invoices.insert_from_contract(
            conn,
            invoices.NewContractInvoice(
                company_id=draft.company_id,
                client_id=draft.client_id,
                contract_id=draft.contract_id,
                series=draft.series,
                currency=draft.currency,
                payment_terms_days=draft.payment_terms_days,
                notes=draft.notes,
                subtotal=draft.totals.subtotal,
                vat_total=draft.totals.vat_total,
                total=draft.totals.total,
                prices_include_vat=draft.prices_include_vat,
                discount_percent=draft.discount_percent,
                exchange_rate=draft.exchange_rate,
                request_key=draft.request_key,
                matter_id=draft.matter_id,
            ),
        )
        if invoice_id is None:
            return None
        await store.replace_lines(
            conn,
            "invoice_lines",
            "invoice_id",
            invoice_id,
            draft.items,
            draft.currency,
            prices_include_vat=draft.prices_include_vat,
            discount_percent=draft.discount_percent,
        )
    try:
        await start_invoice_workflow(state, conn, invoice_id)
    except Exception:
        async with conn.transaction():
            await invoices.delete_draft_with_lines(conn, invoice_id)
        log.exception("could not start the workflow of invoice %s", invoice_id)
        raise Unavailable("the workflow service is unavailable; nothing was saved") from None
    await store.audit(
        conn,
        draft.audit_kind,
        actor,
        datetime.now(UTC),
        invoice_id=invoice_id,
        data=draft.audit_data,
    )
    return invoice_id


async def start_invoice_workflow(state: Q2CState, conn: store.Connection, invoice_id: Any) -> None:
    """The draft's InvoiceWorkflow: a running one is kept (USE_EXISTING), and a closed one is
    never started again (its invoice was reviewed, voided or paid meanwhile). It starts with
    the summary the Temporal UI lists it by, read on the caller's connection (see
    start_proposal_workflow)."""
    summary = await ui_views.invoice_summary(conn, invoice_id)
    try:
        await state.temporal.start_workflow(
            InvoiceWorkflow.run,
            InvoiceWorkflowInput(invoice_id=str(invoice_id)),
            id=invoice_workflow_id(str(invoice_id)),
            task_queue=state.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary,
        )
    except WorkflowAlreadyStartedError:
        pass


# A manual invoice's Idempotency-Key is stored under this prefix: its keys and those of
# invoices from contracts (stored as given) never answer for each other.
MANUAL_KEY_PREFIX = "manual:"


async def create_manual_invoice(
    state: Q2CState, body: ManualInvoiceIn, actor: str, key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """A draft invoice made by hand for a client, opened at review like one from a contract.
    With an Idempotency-Key used before, the invoice made then (and False: nothing new)."""
    items = [line.as_line() for line in body.lines]
    request_key = MANUAL_KEY_PREFIX + key if key is not None else None
    async with state.pool.acquire() as conn:
        buyer = await clients.get(conn, body.client_id)
        if request_key is not None:
            earlier = await _manual_invoice_of_request(state, conn, buyer, request_key)
            if earlier is not None:
                return earlier, False
        if buyer.archived_at is not None:  # an archived client gets no new documents
            raise Conflict(f"client {buyer.id} is archived: unarchive it first")
        seller = await companies.get(conn, buyer.company_id)
        today = local_date(datetime.now(UTC), seller.time_zone)
        currency = body.currency or seller.default_currency.strip()
        if body.contract_id is not None:
            await check_contract_of(conn, body.contract_id, buyer.id)
        matter_id = body.matter_id
        if matter_id is not None:
            await check_matter_of(conn, matter_id, buyer.id)
        elif body.contract_id is not None:  # filed under its contract's matter, if any
            matter_id = (await contracts.get(conn, body.contract_id)).matter_id
        check_exchange_rate(seller.country, currency, body.exchange_rate, required=False)
        totals = checked_document_totals(
            seller.country,
            today,
            items,
            currency,
            body.prices_include_vat,
            body.discount_percent,
        )
        invoice_id = await open_draft_invoice(
            state,
            conn,
            DraftInvoice(
                company_id=seller.id,
                client_id=buyer.id,
                contract_id=body.contract_id,
                series=seller.invoice_series,
                currency=currency,
                payment_terms_days=body.payment_terms_days
                if body.payment_terms_days is not None
                else seller.payment_terms_days,
                notes=body.notes,
                items=items,
                totals=totals,
                prices_include_vat=body.prices_include_vat,
                discount_percent=body.discount_percent,
                exchange_rate=body.exchange_rate,
                request_key=request_key,
                matter_id=matter_id,
                audit_kind="created_by_hand",
                audit_data={
                    "client_id": str(buyer.id),
                    "contract_id": str(body.contract_id) if body.contract_id else None,
                },
            ),
            actor,
        )
        if invoice_id is None:  # the same key's request committed while this one ran
            assert request_key is not None
            earlier = await _manual_invoice_of_request(state, conn, buyer, request_key)
            assert earlier is not None
            return earlier, False
        return invoice_json(await invoices.get(conn, invoice_id)), True


async def _manual_invoice_of_request(
    state: Q2CState, conn: store.Connection, buyer: ClientRow, request_key: str
) -> dict[str, Any] | None:
    row = await invoices.by_request_key(conn, buyer.company_id, request_key)
    if row is None:
        return None
    if row.client_id != buyer.id:
        raise Conflict("this Idempotency-Key was used for another client's invoice")
    if row.status == InvoiceStatus.DRAFT:
        # The first request's process may have died between saving the draft and starting
        # its workflow (nothing would ever move it to review): its retry starts it.
        try:
            await start_invoice_workflow(state, conn, row.id)
        except RPCError:
            log.exception("could not start the workflow of invoice %s", row.id)
            raise Unavailable(
                "the workflow service is unavailable; send the request again"
            ) from None
    return invoice_json(row)
