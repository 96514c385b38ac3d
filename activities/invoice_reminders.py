"""Invoice activities of its reminders: sending one, marking the invoice overdue, moving its
due date or schedule, pausing and resuming."""

from __future__ import annotations

from temporalio import activity

from activities import metrics
from activities.documents import as_issued
from activities.events import emit_invoice, emit_reminder_sent, emit_task_created
from activities.invoice_base import InvoiceActivityBase, parse_date
from activities.mail import OutgoingEmail
from activities.services import business_errors
from db import clients, companies, invoices, operators, outbox, store, tasks
from db.rows import InvoiceRow
from domain import reminder_plan
from domain.errors import InvalidInput
from domain.i18n import format_day, format_money, pick_locale
from domain.money import amount_due, round_money
from domain.operators import Action
from domain.schedule import check_schedule_values, is_overdue
from domain.status import (
    FINAL,
    InvoiceStatus,
    check_can_pause_reminders,
    check_can_reschedule,
    status_after_due_date_change,
)
from messages import activity_names as names
from messages.models import (
    InvoiceRef,
    InvoiceSnapshot,
    ReminderInput,
    ReminderScheduleData,
    RescheduleInput,
    SetRemindersPausedInput,
)


class InvoiceReminderActivities(InvoiceActivityBase):
    @activity.defn(name=names.SEND_REMINDER)
    async def send_reminder(self, reminder: ReminderInput) -> InvoiceSnapshot:
        """Email one reminder step through the outbox (key invoice:<id>:reminder:<step>), so
        a retry, a second worker or a kill mid-send yields at most one email per step.
        Returns the invoice with its next reminders (runs before reminders v2 ignore it)."""
        key = reminder_plan.step_key(reminder.invoice_id, reminder.step)
        # One connection throughout and the rows read once: a morning's thousands of
        # reminders are bound by round trips to PostgreSQL (README "Performance").
        async with business_errors(), self._s.pool.acquire() as conn:
            row = await invoices.get(conn, reminder.invoice_id)
            seller = await companies.get(conn, row.company_id)
            plan = reminder_plan.plan_in_force(row, seller)
            steps = plan.steps(row.due_date) if plan and row.due_date else []
            entry = next((p for p in steps if p.step == reminder.step), None)
            queued = await outbox.is_queued(conn, key)
            paused = row.reminders_paused_at is not None
            stopped = InvoiceStatus(row.status) in FINAL or paused
            # entry None: re-planned since the workflow read its plan, that step is gone.
            if stopped or (entry is None and not queued):
                return await store.snapshot(conn, reminder.invoice_id, read=(row, seller))
            buyer = await clients.get(conn, row.client_id)
            if not queued:
                assert entry is not None and row.due_date is not None
                locale = pick_locale(buyer.locale)
                currency = row.currency.strip()
                due = round_money(amount_due(row.total, row.amount_paid), currency)
                async with conn.transaction():
                    # The invoice's parties as issued (what its PDF and page print).
                    shown_seller, shown_buyer = as_issued(row, seller, buyer)
                    subject, body = self._s.renderer.email(
                        "reminder",
                        locale,
                        seller=shown_seller,
                        buyer=shown_buyer,
                        number=row.number,
                        amount_due=format_money(due, currency, locale),
                        due_date=format_day(row.due_date, locale),
                        overdue=entry.offset_days > 0,
                        invoice_url=await self._hosted_link(conn, row.id, reminder.scheduled_for),
                    )
                    await self._s.mailer.enqueue(
                        conn,
                        OutgoingEmail(
                            idempotency_key=key,
                            kind="reminder",
                            to_address=buyer.email,
                            subject=subject,
                            body_text=body,
                            invoice_id=str(row.id),
                            scheduled_for=reminder.scheduled_for,
                        ),
                    )
            if await self._s.mailer.deliver_on(conn, key, pool=self._s.pool):
                metrics.REMINDERS_SENT.inc()
            await emit_reminder_sent(conn, row, reminder.step, reminder.scheduled_for)
            if steps and reminder.step == steps[-1].step:
                # The schedule is spent and the money still not in: a person takes over.
                await tasks.open_task_once(
                    conn,
                    "call_client",
                    company_id=row.company_id,
                    invoice_id=row.id,
                    client_id=row.client_id,
                    title=f"Call {buyer.name} about invoice {row.number}",
                    due_date=reminder.scheduled_for.date(),
                )
                await emit_task_created(conn, invoice_id=row.id, kind="call_client")
            return await store.snapshot(conn, reminder.invoice_id, read=(row, seller))

    @activity.defn(name=names.MARK_OVERDUE)
    async def mark_overdue(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, ref.invoice_id, lock=True)
                seller = await companies.get(conn, row.company_id)
                # The due date may have moved later since the workflow decided to come here.
                past_due = row.due_date is not None and is_overdue(
                    row.due_date, ref.at, seller.time_zone
                )
                if past_due and row.status in (
                    InvoiceStatus.SENT,
                    InvoiceStatus.PARTIALLY_PAID,
                ):
                    await invoices.mark_overdue(conn, row, "due date passed", ref.at)
                    await emit_invoice(conn, "invoice.overdue", row.id, at=ref.at)
                    # Opened once per invoice; opened again if it was closed by a due date
                    # moved later or by a payment later refunded.
                    await tasks.open_check_payment_task(
                        conn,
                        company_id=row.company_id,
                        invoice_id=row.id,
                        client_id=row.client_id,
                        invoice_number=row.number,
                        due_date=ref.at.date(),
                        move_due_date_on_reopen=True,
                    )
                    await emit_task_created(conn, invoice_id=row.id, kind="check_payment")
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.RESCHEDULE_INVOICE)
    async def reschedule_invoice(self, request: RescheduleInput) -> InvoiceSnapshot:
        """Move the due date and/or set the invoice's own schedule, then plan the remaining
        reminders again: new steps after the old plan's last, none earlier than now. A due
        date moved later takes an overdue invoice back to sent / partially paid."""
        change = request.request
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                current = InvoiceStatus(row.status)
                check_can_reschedule(current)
                seller = await companies.get(conn, row.company_id)
                buyer = await clients.get(conn, row.client_id)
                old_plan = reminder_plan.plan_in_force(row, seller)
                due = row.due_date
                assert due is not None  # check_can_reschedule: only issued invoices have one
                if change.due_date is not None:
                    due = parse_date(change.due_date, "due_date")
                    if row.issue_date is not None and due < row.issue_date:
                        raise InvalidInput(
                            f"due_date: must not be before the issue date {row.issue_date}"
                        )
                own = _schedule_columns(row)
                if change.reset_schedule:
                    own = (None, None, None, None)
                elif change.schedule is not None:
                    own = _schedule_columns_of(change.schedule)
                offsets_days, hour, repeat_every_days, repeat_max = own
                await invoices.set_schedule(
                    conn,
                    row.id,
                    due_date=due,
                    offsets_days=offsets_days,
                    hour=hour,
                    repeat_every_days=repeat_every_days,
                    repeat_max=repeat_max,
                )
                row = await invoices.get(conn, request.invoice_id)
                plan = reminder_plan.new_plan(
                    seller, buyer, row, planned_from=request.at, replacing=old_plan
                )
                await invoices.set_reminder_plan(conn, row.id, plan.to_json())
                overdue_now = is_overdue(due, request.at, seller.time_zone)
                target = status_after_due_date_change(
                    current, row.total, row.amount_paid, overdue_now
                )
                actor = await operators.take_request(
                    conn, change.request_id, Action.RESCHEDULE, str(row.id)
                )
                if target != current:
                    await invoices.reopen_after_due_date_moved(
                        conn,
                        row,
                        target,
                        f"due date moved to {due.isoformat()}",
                        request.at,
                        actor,
                    )
                    await tasks.close_check_payment_task(conn, row.id, actor)
                await store.audit(
                    conn,
                    "rescheduled",
                    actor,
                    request.at,
                    invoice_id=row.id,
                    data={
                        "due_date": due.isoformat(),
                        "offsets_days": list(plan.schedule.offsets_days),
                        "hour": plan.schedule.hour,
                        "repeat_every_days": plan.schedule.repeat_every_days,
                        "repeat_max": plan.schedule.repeat_max,
                        "time_zone": plan.time_zone,
                        "first_step": plan.step_base + 1,
                    },
                )
            return await store.snapshot(conn, request.invoice_id)

    @activity.defn(name=names.SET_REMINDERS_PAUSED)
    async def set_reminders_paused(self, request: SetRemindersPausedInput) -> InvoiceSnapshot:
        """Pause: no reminder goes out. Resume: those planned meanwhile are skipped (never
        sent late, all at once); the rest follow their plan. Repeating either is a no-op."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                paused = row.reminders_paused_at is not None
                if paused != request.paused:
                    check_can_pause_reminders(InvoiceStatus(row.status))
                    action = Action.PAUSE_REMINDERS if request.paused else Action.RESUME_REMINDERS
                    actor = await operators.take_request(
                        conn, request.request_id, action, str(row.id)
                    )
                    if request.paused:
                        await invoices.pause_reminders(conn, row.id, request.at)
                    else:
                        await invoices.resume_reminders(conn, row.id, request.at)
                    await store.audit(
                        conn,
                        "reminders_paused" if request.paused else "reminders_resumed",
                        actor,
                        request.at,
                        invoice_id=row.id,
                        data={"reason": request.reason} if request.reason else None,
                    )
            return await store.snapshot(conn, request.invoice_id)


ScheduleColumns = tuple[list[int] | None, int | None, int | None, int | None]


def _schedule_columns(row: InvoiceRow) -> ScheduleColumns:
    offsets = row.reminder_offsets_days
    return (
        list(offsets) if offsets is not None else None,
        row.reminder_hour,
        row.reminder_repeat_days,
        row.reminder_repeat_max,
    )


def _schedule_columns_of(schedule: ReminderScheduleData) -> ScheduleColumns:
    check_schedule_values(
        schedule.offsets_days, schedule.hour, schedule.repeat_every_days, schedule.repeat_max
    )
    offsets = sorted(set(schedule.offsets_days)) if schedule.offsets_days is not None else None
    return (offsets, schedule.hour, schedule.repeat_every_days, schedule.repeat_max)
