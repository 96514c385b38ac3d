"""Operator actions on a sent invoice's money and reminders: refunds, the due date and the
reminder schedule, pausing and resuming reminders; and a client's own reminder settings.

    GET   /api/v1/invoices/{id}/reminders          the plan: schedule in force, each step
    POST  /api/v1/invoices/{id}/reminders/pause    202; signal pause_reminders
    POST  /api/v1/invoices/{id}/reminders/resume   202; signal resume_reminders
    PATCH /api/v1/invoices/{id}/schedule           {"due_date"?, "reminders"?}: update
                                                   `reschedule`; the remaining reminders
                                                   are planned again
    POST  /api/v1/invoices/{id}/refunds            {"payment_reference", "amount",
                                                   "reference", "refunded_at"?}: update
                                                   `refund` (update-with-start when the
                                                   invoice's run has ended: paid or void)
    GET   /api/v1/invoices/{id}/refunds            the invoice's refunds
    GET   /api/v1/clients/{id}/reminders           the client's settings and what applies
    PUT   /api/v1/clients/{id}/reminders           set them; open invoices are re-planned

The signals are the ones an operator sends from the Temporal UI (no input needed).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field, StrictInt, field_validator, model_validator
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from db import clients, companies, invoices, outbox, payments, store, ui_views
from domain import reminder_plan
from domain.errors import Unacceptable
from domain.operators import Action
from domain.schedule import (
    MAX_OFFSETS,
    ReminderSchedule,
    ScheduleError,
    check_schedule_values,
    known_time_zone,
)
from domain.status import (
    FINAL,
    OPEN_FOR_PAYMENT,
    InvoiceStatus,
    check_can_pause_reminders,
    check_can_refund,
    check_can_reschedule,
)
from messages.models import (
    InvoiceWorkflowInput,
    RefundRequest,
    RefundResult,
    ReminderPause,
    ReminderScheduleData,
    RescheduleRequest,
    invoice_workflow_id,
)
from starter.api.deps import API_KEY, CurrentOperator, Operator, Q2CState, State
from starter.api.operations import (
    UPDATE_REFUSALS,
    invoice_handle,
    invoice_json,
    invoice_row,
    iso,
    money,
    operator_request,
    refusal_of,
    run_update,
)
from starter.api.schemas import (
    Amount,
    Body,
    ClientRemindersOut,
    ClientRemindersSetOut,
    InvoiceRemindersOut,
    RefundList,
    RefundRecordedOut,
    RemindersActionOut,
    RescheduledOut,
)
from workflows.invoice import InvoiceWorkflow

# --- bodies ------------------------------------------------------------------------------


class ReminderScheduleIn(Body):
    """A reminder schedule, or the part of one a client or an invoice changes: a field left
    out is inherited (invoice <- client <- company)."""

    offsets_days: list[StrictInt] | None = Field(
        default=None,
        max_length=MAX_OFFSETS,
        description="days from the due date, e.g. [-3, 0, 7, 14, 30]; [] sends none",
    )
    hour: StrictInt | None = Field(default=None, ge=0, le=23, description="local hour")
    repeat_every_days: StrictInt | None = Field(
        default=None, description="then every N days after the last offset (0: no repeat)"
    )
    repeat_max: StrictInt | None = Field(default=None, description="at most M times")

    @model_validator(mode="after")
    def _plannable(self) -> ReminderScheduleIn:
        try:
            check_schedule_values(
                self.offsets_days, self.hour, self.repeat_every_days, self.repeat_max
            )
        except ScheduleError as bad:
            raise ValueError(str(bad)) from bad
        return self

    def as_data(self) -> ReminderScheduleData:
        return ReminderScheduleData(
            offsets_days=list(self.offsets_days) if self.offsets_days is not None else None,
            hour=self.hour,
            repeat_every_days=self.repeat_every_days,
            repeat_max=self.repeat_max,
        )


class SchedulePatch(Body):
    """`due_date` moves it; `reminders` replaces the invoice's own schedule (`null` drops it:
    the client's or company's applies). Either way the remaining reminders are re-planned."""

    due_date: date | None = None
    reminders: ReminderScheduleIn | None = None


class PauseIn(Body):
    reason: str = Field(default="", max_length=1000)


class RefundIn(Body):
    payment_reference: str = Field(min_length=1, max_length=200)
    amount: Amount = Field(gt=0)
    reference: str = Field(min_length=1, max_length=200)
    refunded_at: date | None = Field(default=None, description="default: today")


class ClientRemindersIn(ReminderScheduleIn):
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA zone, e.g. Europe/Chisinau"
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return known_time_zone(value)
        except ScheduleError as bad:
            raise ValueError(str(bad).removeprefix("time_zone: ")) from bad


# --- JSON --------------------------------------------------------------------------------


def schedule_json(schedule: ReminderSchedule) -> dict[str, Any]:
    return {
        "offsets_days": list(schedule.offsets_days),
        "hour": schedule.hour,
        "repeat_every_days": schedule.repeat_every_days,
        "repeat_max": schedule.repeat_max,
    }


def own_schedule_json(row: reminder_plan.ReminderOverrideColumns) -> dict[str, Any] | None:
    own = reminder_plan.override_of(row)
    if own.is_empty:
        return None
    return {
        "offsets_days": list(own.offsets_days) if own.offsets_days is not None else None,
        "hour": own.hour,
        "repeat_every_days": own.repeat_every_days,
        "repeat_max": own.repeat_max,
    }


async def reminders_json(conn: store.Connection, invoice_id: Any) -> dict[str, Any]:
    """The invoice's reminder plan with each step's state: sent, planned, paused, skipped
    (planned before the plan was made or while paused), stopped (paid or void)."""
    row = await invoices.get(conn, invoice_id)
    seller = await companies.get(conn, row.company_id)
    buyer = await clients.get(conn, row.client_id)
    plan = reminder_plan.plan_in_force(row, seller)
    sent_rows = await outbox.sent_reminders(conn, row.id)
    sent = {reminder_plan.step_of_key(r.idempotency_key) for r in sent_rows}
    paused = row.reminders_paused_at is not None
    steps = []
    if plan is not None and row.due_date is not None:
        cutoff = reminder_plan.not_before(row, plan)
        for planned in plan.steps(row.due_date):
            if planned.step in sent:
                state = "sent"
            elif planned.send_at <= cutoff:
                state = "skipped"
            elif InvoiceStatus(row.status) in FINAL:
                state = "stopped"
            else:
                state = "paused" if paused else "planned"
            steps.append(
                {
                    "step": planned.step,
                    "offset_days": planned.offset_days,
                    "send_at": iso(planned.send_at),
                    "state": state,
                }
            )
    return {
        "invoice_id": str(row.id),
        "status": row.status,
        "due_date": iso(row.due_date),
        "paused": paused,
        "paused_at": iso(row.reminders_paused_at),
        "time_zone": plan.time_zone if plan else reminder_plan.reminder_time_zone(seller, buyer),
        "schedule": schedule_json(
            plan.schedule if plan else reminder_plan.schedule_in_force(seller, buyer, row)
        ),
        "own_schedule": own_schedule_json(row),
        "planned_from": iso(plan.planned_from) if plan else None,
        "steps": steps,
        "sent": [
            {
                "step": reminder_plan.step_of_key(r.idempotency_key),
                "scheduled_for": iso(r.scheduled_for),
                "sent_at": iso(r.sent_at),
            }
            for r in sent_rows
        ],
    }


def refund_json(row: payments.RefundOfPayment) -> dict[str, Any]:
    refund = row.refund
    currency = refund.currency
    return {
        "reference": refund.reference,
        "payment_reference": row.payment_reference,
        "amount": money(refund.amount, currency),
        "from_invoice": money(refund.from_invoice, currency),
        "from_credit": money(refund.from_credit, currency),
        "currency": currency.strip(),
        "refunded_at": iso(refund.refunded_at),
        "created_at": iso(refund.created_at),
        "recorded_by": refund.recorded_by,
    }


# --- workflow calls ----------------------------------------------------------------------


async def refund_through_workflow(
    state: Q2CState, invoice_id: UUID, request: RefundRequest
) -> RefundResult:
    """The refund update, on the invoice's run; if that run has ended (paid, void), a new run
    starts from the invoice as the database has it and takes the update as its first step
    (update-with-start: one call, no window in which the new run could end without it)."""
    async with state.pool.acquire() as conn:
        snapshot = await store.snapshot(conn, invoice_id)
        summary = await ui_views.invoice_summary(conn, invoice_id)
    start = WithStartWorkflowOperation(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(str(invoice_id), snapshot=snapshot, reopened=True),
        id=invoice_workflow_id(str(invoice_id)),
        task_queue=state.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=summary,
    )
    try:
        result: RefundResult = await state.temporal.execute_update_with_start_workflow(
            InvoiceWorkflow.refund, request, start_workflow_operation=start
        )
    except WorkflowUpdateFailedError as failed:
        refused = refusal_of(failed)
        if refused is None:
            raise
        raise refused from failed
    return result


async def _client_reminders_json(conn: store.Connection, client_id: UUID) -> dict[str, Any]:
    buyer = await clients.get(conn, client_id)
    seller = await companies.get(conn, buyer.company_id)
    return {
        "client_id": str(client_id),
        "time_zone": buyer.time_zone,
        "own_schedule": own_schedule_json(buyer),
        "in_force": schedule_json(reminder_plan.schedule_in_force(seller, buyer))
        | {"time_zone": reminder_plan.reminder_time_zone(seller, buyer)},
    }


# --- routes ------------------------------------------------------------------------------


router = APIRouter()


@router.get(
    "/api/v1/invoices/{invoice_id}/reminders",
    response_model=InvoiceRemindersOut,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def invoice_reminders(invoice_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return await reminders_json(conn, invoice_id)


async def pause_or_resume(
    invoice_id: UUID, state: Q2CState, paused: bool, body: PauseIn | None, operator: Operator
) -> dict[str, Any]:
    row = await invoice_row(state, invoice_id)
    check_can_pause_reminders(InvoiceStatus(row.status))
    signal = InvoiceWorkflow.pause_reminders if paused else InvoiceWorkflow.resume_reminders
    action = Action.PAUSE_REMINDERS if paused else Action.RESUME_REMINDERS
    request = ReminderPause(
        reason=body.reason if body else "",
        requested_by=operator.actor,
        request_id=await operator_request(state, operator, action, invoice_id),
    )
    await invoice_handle(state, invoice_id).signal(signal, request)
    return invoice_json(row) | {
        "action": "pause accepted" if paused else "resume accepted",
        "reminders_paused": row.reminders_paused_at is not None,
    }


@router.post(
    "/api/v1/invoices/{invoice_id}/reminders/pause",
    response_model=RemindersActionOut,
    status_code=202,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def pause_reminders(
    invoice_id: UUID, state: State, operator: CurrentOperator, body: PauseIn | None = None
) -> dict[str, Any]:
    """No reminder goes out until resumed. Also a signal in the Temporal UI."""
    return await pause_or_resume(invoice_id, state, True, body, operator)


@router.post(
    "/api/v1/invoices/{invoice_id}/reminders/resume",
    response_model=RemindersActionOut,
    status_code=202,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def resume_reminders(
    invoice_id: UUID, state: State, operator: CurrentOperator, body: PauseIn | None = None
) -> dict[str, Any]:
    """Reminders go on; those planned while paused are skipped, not sent late."""
    return await pause_or_resume(invoice_id, state, False, body, operator)


@router.patch(
    "/api/v1/invoices/{invoice_id}/schedule",
    response_model=RescheduledOut,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def reschedule(
    invoice_id: UUID, body: SchedulePatch, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    """Move the due date and/or set the invoice's own reminder schedule (sent, partially
    paid or overdue invoices). Reminders still to come are planned again; a due date
    moved later takes an overdue invoice back to sent / partially paid."""
    row = await invoice_row(state, invoice_id)
    check_can_reschedule(InvoiceStatus(row.status))
    reset = "reminders" in body.model_fields_set and body.reminders is None
    request = RescheduleRequest(
        due_date=body.due_date.isoformat() if body.due_date else None,
        schedule=body.reminders.as_data() if body.reminders is not None else None,
        reset_schedule=reset,
        requested_by=operator.actor,
        request_id=await operator_request(state, operator, Action.RESCHEDULE, invoice_id),
    )
    await run_update(invoice_handle(state, invoice_id), InvoiceWorkflow.reschedule, request)
    async with state.pool.acquire() as conn:
        return invoice_json(await invoices.get(conn, invoice_id)) | {
            "reminders": await reminders_json(conn, invoice_id)
        }


@router.post(
    "/api/v1/invoices/{invoice_id}/refunds",
    response_model=RefundRecordedOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def refund(
    invoice_id: UUID, body: RefundIn, state: State, response: Response, operator: CurrentOperator
) -> dict[str, Any]:
    """Give back (part of) a payment: 201, or 200 with `refund_recorded: false` for a
    refund reference already recorded. Also on a paid or void invoice."""
    row = await invoice_row(state, invoice_id)
    async with state.pool.acquire() as conn:
        already = await payments.refund_exists(conn, invoice_id, body.reference)
    if already:
        return invoice_json(row) | {"refund_recorded": False}
    check_can_refund(InvoiceStatus(row.status))
    async with state.pool.acquire() as conn:
        paid = await payments.exists(conn, invoice_id, body.payment_reference)
    if not paid:
        raise Unacceptable(
            f"payment_reference: no payment {body.payment_reference!r} on this invoice"
        )
    result = await refund_through_workflow(
        state,
        invoice_id,
        RefundRequest(
            payment_reference=body.payment_reference,
            amount=str(body.amount),
            reference=body.reference,
            refunded_at=(body.refunded_at or datetime.now(UTC).date()).isoformat(),
            requested_by=operator.actor,
            request_id=await operator_request(state, operator, Action.REFUND, invoice_id),
        ),
    )
    response.status_code = 201 if result.recorded else 200
    return invoice_json(await invoice_row(state, invoice_id)) | {"refund_recorded": result.recorded}


@router.get(
    "/api/v1/invoices/{invoice_id}/refunds",
    response_model=RefundList,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def list_refunds(invoice_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        await invoices.get(conn, invoice_id)
        rows = await payments.refunds_of_invoice(conn, invoice_id)
    return {"items": [refund_json(row) for row in rows]}


@router.get(
    "/api/v1/clients/{client_id}/reminders",
    response_model=ClientRemindersOut,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def client_reminders(client_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return await _client_reminders_json(conn, client_id)


@router.put(
    "/api/v1/clients/{client_id}/reminders",
    response_model=ClientRemindersSetOut,
    dependencies=API_KEY,
    tags=["reminders"],
)
async def set_client_reminders(
    client_id: UUID, body: ClientRemindersIn, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    """Replace the client's reminder settings (a field left out inherits the company's)
    and its time zone (reminders go out at the hour where the client is). Its open
    invoices are re-planned (each through its workflow); later ones start with them."""
    async with state.pool.acquire() as conn:
        await clients.get(conn, client_id)
        await clients.set_reminder_settings(
            conn,
            client_id,
            time_zone=body.time_zone,
            offsets_days=sorted(set(body.offsets_days)) if body.offsets_days is not None else None,
            hour=body.hour,
            repeat_days=body.repeat_every_days,
            repeat_max=body.repeat_max,
        )
        open_invoices = await invoices.ids_of_client_in(
            conn, client_id, [status.value for status in OPEN_FOR_PAYMENT]
        )
    replanned, failed = [], []
    for open_invoice_id in open_invoices:
        try:
            await run_update(
                invoice_handle(state, open_invoice_id),
                InvoiceWorkflow.reschedule,
                RescheduleRequest(
                    requested_by=operator.actor,
                    request_id=await operator_request(
                        state, operator, Action.RESCHEDULE, open_invoice_id
                    ),
                ),
            )
            replanned.append(str(open_invoice_id))
        except UPDATE_REFUSALS as refused:
            # Paid or voided meanwhile: nothing to re-plan.
            failed.append({"invoice_id": str(open_invoice_id), "detail": str(refused)})
    async with state.pool.acquire() as conn:
        return await _client_reminders_json(conn, client_id) | {
            "replanned_invoices": replanned,
            "not_replanned": failed,
        }
