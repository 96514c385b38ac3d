"""Invoice activities: draft, edit, issue (number + final PDF), send, remind, pay, void."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import document_context, store_document
from activities.events import emit_invoice, emit_payment, emit_reminder_sent, emit_task_created
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from db import clients, companies, credits, invoices, operators, outbox, payments, store, tasks
from db.rows import InvoiceRow
from domain import reminder_plan
from domain.contracts import DocumentLine, check_exchange_rate, check_line_rates
from domain.errors import InvalidInput
from domain.i18n import format_day, format_money, pick_locale
from domain.money import MoneyError, amount_due, parse_decimal, round_money
from domain.operators import SYSTEM, Action
from domain.refunds import split_refund
from domain.schedule import check_schedule_values, due_date_for, is_overdue, local_date
from domain.status import (
    FINAL,
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_pause_reminders,
    check_can_pay,
    check_can_refund,
    check_can_reschedule,
    check_can_void,
    status_after_due_date_change,
    status_after_payment,
    status_after_refund,
)
from domain.vat import VatCategory
from messages import activity_names as names
from messages.models import (
    EditInvoiceInput,
    InvoiceRef,
    InvoiceSnapshot,
    LineData,
    PaymentResult,
    RecordPaymentInput,
    RecordRefundInput,
    RefundResult,
    ReminderInput,
    ReminderScheduleData,
    RescheduleInput,
    SetRemindersPausedInput,
    VoidInvoiceInput,
)


class InvoiceActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.PREPARE_INVOICE_DRAFT)
    async def prepare_invoice_draft(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            await self._render(conn, ref.invoice_id, final=False)
            async with conn.transaction():
                row = await invoices.get(conn, ref.invoice_id, lock=True)
                if row.status == InvoiceStatus.DRAFT:
                    await invoices.change_status(
                        conn, row, InvoiceStatus.AWAITING_REVIEW, "draft ready for review", ref.at
                    )
                    await emit_invoice(conn, "invoice.created", row.id, at=ref.at)
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.EDIT_INVOICE)
    async def edit_invoice(self, request: EditInvoiceInput) -> InvoiceSnapshot:
        edit = request.edit
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                check_can_edit(InvoiceStatus(row.status))
                currency = row.currency.strip()
                seller = await companies.get(conn, row.company_id)
                pricing_changed = (
                    edit.prices_include_vat is not None or edit.discount_percent is not None
                )
                gross = (
                    edit.prices_include_vat
                    if edit.prices_include_vat is not None
                    else row.prices_include_vat
                )
                discount = row.discount_percent
                if edit.discount_percent is not None:
                    discount = parse_decimal(edit.discount_percent, "discount_percent")
                    if not Decimal(0) <= discount <= Decimal(100):
                        raise InvalidInput("discount_percent: must be from 0 to 100")
                if edit.exchange_rate is not None:
                    exchange_rate = parse_decimal(edit.exchange_rate, "exchange_rate")
                    check_exchange_rate(seller.country, currency, exchange_rate, required=False)
                    await invoices.set_exchange_rate(conn, row.id, exchange_rate)
                if edit.lines is not None or pricing_changed:
                    if edit.lines is not None:
                        items = [_line_of(line, i) for i, line in enumerate(edit.lines)]
                        # A draft is dated the day it is edited, where the seller is.
                        check_line_rates(
                            seller.country, local_date(request.at, seller.time_zone), items
                        )
                    else:
                        items = store.as_lines(
                            await store.lines(conn, "invoice_lines", "invoice_id", row.id)
                        )
                    pricing: dict[str, Any] = {
                        "prices_include_vat": gross,
                        "discount_percent": discount,
                    }
                    await store.replace_lines(
                        conn, "invoice_lines", "invoice_id", row.id, items, currency, **pricing
                    )
                    await invoices.set_totals(conn, row.id, items, currency, **pricing)
                    await invoices.set_pricing(
                        conn, row.id, prices_include_vat=gross, discount_percent=discount
                    )
                # What a refused approval said no longer describes the edited invoice.
                await invoices.clear_approval_error(conn, row.id)
                if edit.due_date is not None:
                    await invoices.set_due_date(
                        conn, row.id, _parse_date(edit.due_date, "due_date")
                    )
                if edit.notes is not None:
                    await invoices.set_notes(conn, row.id, edit.notes)
                actor = await operators.take_request(
                    conn, edit.request_id, Action.EDIT, str(row.id)
                )
                await store.audit(conn, "edited", actor, request.at, invoice_id=row.id)
            await self._render(conn, request.invoice_id, final=False, rerender=True)
            return await store.snapshot(conn, request.invoice_id)

    @activity.defn(name=names.ISSUE_INVOICE)
    async def issue_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        """Number the invoice and render its final PDF; a retry keeps the number it got.

        An invoice whose VAT rates are not valid on its issue date (a rate changed by law
        since it was drafted), or a Romanian one in another currency without its exchange
        rate, is refused: nothing is numbered, the reason is kept in `approval_error` and
        the audit trail, and the workflow keeps it in review."""
        async with business_errors(), self._s.pool.acquire() as conn:
            try:
                await self._number(conn, ref)
            except InvalidInput as refused:
                async with conn.transaction():
                    await invoices.set_approval_error(conn, ref.invoice_id, str(refused))
                    await store.audit(
                        conn,
                        "approval_refused",
                        "system",
                        ref.at,
                        invoice_id=ref.invoice_id,
                        data={"reason": str(refused)},
                    )
                raise
            await self._render(conn, ref.invoice_id, final=True)
            return await store.snapshot(conn, ref.invoice_id)

    async def _number(self, conn: store.Connection, ref: InvoiceRef) -> None:
        async with conn.transaction():
            row = await invoices.get(conn, ref.invoice_id, lock=True)
            if row.number is None:
                check_can_approve(InvoiceStatus(row.status))
                seller = await companies.get(conn, row.company_id)
                issue_date = local_date(ref.at, seller.time_zone)
                line_rows = await store.lines(conn, "invoice_lines", "invoice_id", row.id)
                check_line_rates(seller.country, issue_date, store.as_lines(line_rows))
                check_exchange_rate(
                    seller.country,
                    row.currency.strip(),
                    row.exchange_rate,
                    required=True,
                )
                number = await store.assign_number(
                    conn, row.company_id, "invoice", row.series, issue_date.year
                )
                due = row.due_date or due_date_for(issue_date, row.payment_terms_days)
                await invoices.set_number(
                    conn,
                    row.id,
                    number=number,
                    issue_date=issue_date,
                    due_date=due,
                    approved_at=ref.at,
                )
                actor = await operators.take_request(
                    conn, ref.request_id, Action.APPROVE, str(row.id)
                )
                await invoices.set_approved_by(conn, row.id, actor)
                await store.audit(
                    conn,
                    "approved",
                    actor,
                    ref.at,
                    invoice_id=row.id,
                    data={"number": number},
                )
                await emit_invoice(conn, "invoice.approved", row.id, at=ref.at)

    @activity.defn(name=names.SEND_INVOICE)
    async def send_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        pool, key = self._s.pool, f"invoice:{ref.invoice_id}:invoice:1"
        async with business_errors():
            async with pool.acquire() as conn:
                row = await invoices.get(conn, ref.invoice_id)
                if row.document_key is None:
                    raise ApplicationError("the invoice has no final PDF yet", type="NotIssued")
                assert row.due_date is not None  # as every issued invoice
                buyer = await clients.get(conn, row.client_id)
                locale = pick_locale(buyer.locale)
                currency = row.currency.strip()
                if not await outbox.is_queued(conn, key):
                    async with conn.transaction():
                        subject, body = self._s.renderer.email(
                            "invoice",
                            locale,
                            seller=await companies.get(conn, row.company_id),
                            buyer=buyer,
                            number=row.number,
                            total=format_money(row.total, currency, locale),
                            due_date=format_day(row.due_date, locale),
                            invoice_url=await self._hosted_link(conn, row.id, ref.at),
                        )
                        await self._s.mailer.enqueue(
                            conn,
                            OutgoingEmail(
                                idempotency_key=key,
                                kind="invoice",
                                to_address=buyer.email,
                                subject=subject,
                                body_text=body,
                                invoice_id=str(row.id),
                                attachments=(Attachment(row.document_key, f"{row.number}.pdf"),),
                            ),
                        )
            await self._s.mailer.deliver(pool, key)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    row = await invoices.get(conn, ref.invoice_id, lock=True)
                    if row.status == InvoiceStatus.AWAITING_REVIEW:
                        # The reminder schedule in force now is frozen with the invoice.
                        plan = reminder_plan.new_plan(
                            await companies.get(conn, row.company_id),
                            await clients.get(conn, row.client_id),
                            row,
                            planned_from=ref.at,
                        )
                        await invoices.mark_sent(
                            conn,
                            row,
                            "invoice emailed",
                            ref.at,
                            plan.to_json(),
                            actor=row.approved_by or SYSTEM,
                        )
                        await emit_invoice(conn, "invoice.sent", row.id, at=ref.at)
                return await store.snapshot(conn, ref.invoice_id)

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
                    subject, body = self._s.renderer.email(
                        "reminder",
                        locale,
                        seller=seller,
                        buyer=buyer,
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
            await self._s.mailer.deliver_on(conn, key)
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

    @activity.defn(name=names.RECORD_PAYMENT)
    async def record_payment(self, request: RecordPaymentInput) -> PaymentResult:
        payment = request.payment
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                currency = row.currency.strip()
                duplicate = await payments.exists(conn, row.id, payment.reference)
                if duplicate:
                    return PaymentResult(False, await store.snapshot(conn, row.id))
                check_can_pay(InvoiceStatus(row.status))
                if payment.currency and payment.currency != currency:
                    raise MoneyError(
                        f"currency: the invoice is in {currency}, not {payment.currency}"
                    )
                amount = parse_decimal(payment.amount, "amount")
                if amount <= 0 or round_money(amount, currency) != amount:
                    raise MoneyError(
                        f"amount: must be positive with at most the decimals {currency} has"
                    )
                paid_on = _parse_date(payment.paid_at, "paid_at")
                actor = await operators.take_request(
                    conn, payment.request_id, Action.PAY, str(row.id)
                )
                if payment.from_credit:
                    await _take_from_credit(conn, row, amount, payment.reference)
                await payments.insert(
                    conn,
                    invoice_id=row.id,
                    amount=amount,
                    currency=currency,
                    paid_at=paid_on,
                    reference=payment.reference,
                    source="credit" if payment.from_credit else "transfer",
                    recorded_by=actor,
                )
                received = row.amount_paid + amount
                # The invoice is settled by its total; anything beyond is the client's credit.
                excess = max(received - row.total, Decimal(0))
                paid = received - excess
                if excess:
                    await credits.add_entry(
                        conn,
                        client_id=row.client_id,
                        currency=currency,
                        amount=excess,
                        kind="overpayment",
                        invoice_id=row.id,
                        reference=payment.reference,
                    )
                target = status_after_payment(row.total, paid, row.overdue)
                await invoices.set_paid_amount(
                    conn, row, target, f"payment {payment.reference}", request.at, paid, actor
                )
                if target == InvoiceStatus.PAID:
                    await tasks.close_automatic_tasks(conn, row.id, actor)
                await store.audit(
                    conn,
                    "payment",
                    actor,
                    request.at,
                    invoice_id=row.id,
                    data={"amount": str(amount), "reference": payment.reference},
                )
                await emit_payment(conn, row.id, payment.reference, at=request.at)
            return PaymentResult(True, await store.snapshot(conn, request.invoice_id))

    @activity.defn(name=names.VOID_INVOICE)
    async def void_invoice(self, request: VoidInvoiceInput) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                if row.status != InvoiceStatus.VOID:
                    check_can_void(InvoiceStatus(row.status))
                    actor = await operators.take_request(
                        conn, request.request_id, Action.VOID, str(row.id)
                    )
                    await invoices.mark_void(
                        conn, row, request.reason or "voided", request.at, request.reason, actor
                    )
                    await tasks.close_automatic_tasks(conn, row.id, actor)
                    await store.audit(
                        conn,
                        "voided",
                        actor,
                        request.at,
                        invoice_id=row.id,
                        data={"reason": request.reason},
                    )
                    await emit_invoice(conn, "invoice.voided", row.id, at=request.at)
            return await store.snapshot(conn, request.invoice_id)

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
                    due = _parse_date(change.due_date, "due_date")
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

    @activity.defn(name=names.RECORD_REFUND)
    async def record_refund(self, request: RecordRefundInput) -> RefundResult:
        """Give back (part of) a payment, once per refund reference: lower the amount paid
        (or take back the payment's unspent over-payment credit first), and move the status
        back as the money and the due date say."""
        refund = request.refund
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                duplicate = await payments.refund_exists(conn, row.id, refund.reference)
                if duplicate:
                    return RefundResult(False, await store.snapshot(conn, row.id))
                current = InvoiceStatus(row.status)
                check_can_refund(current)
                currency = row.currency.strip()
                payment = await payments.find(conn, row.id, refund.payment_reference)
                if payment is None:
                    raise InvalidInput(
                        f"payment_reference: no payment {refund.payment_reference!r} "
                        "on this invoice"
                    )
                amount = parse_decimal(refund.amount, "amount")
                if amount <= 0 or round_money(amount, currency) != amount:
                    raise MoneyError(
                        f"amount: must be positive with at most the decimals {currency} has"
                    )
                refunded_on = (
                    _parse_date(refund.refunded_at, "refunded_at")
                    if refund.refunded_at
                    else request.at.date()
                )
                # The client's credit moves under the same lock as when it is applied.
                await credits.lock_client_credit(conn, row.client_id)
                overpayment = await credits.overpayment_of(conn, row.id, payment.reference)
                earlier = await payments.refunded_so_far(conn, payment.id)
                split = split_refund(
                    amount,
                    payment_amount=payment.amount,
                    payment_from_credit=payment.source == "credit",
                    overpayment=overpayment,
                    refunded_from_invoice=earlier.from_invoice,
                    refunded_from_credit=earlier.from_credit,
                    credit_balance=await credits.balance(conn, row.client_id, currency),
                )
                actor = await operators.take_request(
                    conn, refund.request_id, Action.REFUND, str(row.id)
                )
                await payments.insert_refund(
                    conn,
                    invoice_id=row.id,
                    payment_id=payment.id,
                    amount=amount,
                    from_invoice=split.from_invoice,
                    from_credit=split.from_credit,
                    currency=currency,
                    refunded_at=refunded_on,
                    reference=refund.reference,
                    recorded_by=actor,
                )
                credit_moves = (("refunded", -split.from_credit), ("restored", split.to_credit))
                for kind, credit in credit_moves:
                    if credit:
                        await credits.add_entry(
                            conn,
                            client_id=row.client_id,
                            currency=currency,
                            amount=credit,
                            kind=kind,
                            invoice_id=row.id,
                            reference=refund.reference,
                        )
                paid = row.amount_paid - split.from_invoice
                seller = await companies.get(conn, row.company_id)
                overdue_now = row.due_date is not None and is_overdue(
                    row.due_date, request.at, seller.time_zone
                )
                target = status_after_refund(current, row.total, paid, overdue_now)
                await invoices.set_refunded_amount(
                    conn, row, target, f"refund {refund.reference}", request.at, paid, actor
                )
                if target == InvoiceStatus.OVERDUE and current != InvoiceStatus.OVERDUE:
                    await tasks.open_check_payment_task(
                        conn,
                        company_id=row.company_id,
                        invoice_id=row.id,
                        client_id=row.client_id,
                        invoice_number=row.number,
                        due_date=request.at.date(),
                        move_due_date_on_reopen=False,
                    )
                    await emit_invoice(conn, "invoice.overdue", row.id, at=request.at)
                    await emit_task_created(conn, invoice_id=row.id, kind="check_payment")
                await store.audit(
                    conn,
                    "refund",
                    actor,
                    request.at,
                    invoice_id=row.id,
                    data={
                        "amount": str(amount),
                        "reference": refund.reference,
                        "payment_reference": payment.reference,
                        "from_invoice": str(split.from_invoice),
                        "from_credit": str(split.from_credit),
                        "to_credit": str(split.to_credit),
                    },
                )
            return RefundResult(True, await store.snapshot(conn, request.invoice_id))

    async def _hosted_link(
        self, conn: store.Connection, invoice_id: object, issued_at: datetime
    ) -> str:
        """A fresh link to the hosted invoice page for one email; only its hash is kept."""
        token = await store.new_access_token(
            conn,
            "invoice",
            issued_at + timedelta(days=self._s.invoice_link_days),
            invoice_id=invoice_id,
        )
        return f"{self._s.public_url}/i/{token}"

    async def _render(
        self, conn: store.Connection, invoice_id: str, *, final: bool, rerender: bool = False
    ) -> str:
        row = await invoices.get(conn, invoice_id)
        document_key = row.document_key if final else row.draft_document_key
        if document_key and not rerender:
            return str(document_key)
        line_rows = await store.lines(conn, "invoice_lines", "invoice_id", row.id)
        context = await document_context(conn, row, line_rows, "invoice" if final else "draft")
        pdf = await self._s.renderer.render_pdf("pdf/invoice.html", context)
        name = f"invoice/{row.id}/{'final' if final else 'draft'}.pdf"
        stored = await store_document(conn, name, pdf)
        if final:
            await invoices.set_final_document(conn, row.id, stored.key)
        else:
            await invoices.set_draft_document(conn, row.id, stored.key)
        return stored.key


async def _take_from_credit(
    conn: store.Connection, invoice: InvoiceRow, amount: Decimal, reference: str
) -> None:
    currency = invoice.currency.strip()
    # One client's credit is spent by one transaction at a time.
    await credits.lock_client_credit(conn, invoice.client_id)
    balance = await credits.balance(conn, invoice.client_id, currency)
    if amount > balance:
        raise InvalidInput(
            f"amount: the client's credit is {round_money(balance, currency)} {currency}, "
            f"less than {amount}"
        )
    due = invoice.total - invoice.amount_paid
    if amount > due:
        raise InvalidInput(
            f"amount: only {round_money(due, currency)} {currency} is due on this invoice"
        )
    await credits.add_entry(
        conn,
        client_id=invoice.client_id,
        currency=currency,
        amount=-amount,
        kind="applied",
        invoice_id=invoice.id,
        reference=reference,
    )


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


def _line_of(line: LineData, index: int) -> DocumentLine:
    field = f"lines[{index}]"
    try:
        category = VatCategory(line.vat_category) if line.vat_category else None
    except ValueError as bad:
        known = ", ".join(category.value for category in VatCategory)
        raise InvalidInput(f"{field}.vat_category: one of {known}") from bad
    return DocumentLine(
        description=line.description,
        quantity=parse_decimal(line.quantity, f"{field}.quantity"),
        unit_price=parse_decimal(line.unit_price, f"{field}.unit_price"),
        vat_rate=parse_decimal(line.vat_rate, f"{field}.vat_rate"),
        unit=line.unit,
        discount_percent=parse_decimal(line.discount_percent, f"{field}.discount_percent"),
        category=category,
        legal_basis=line.vat_legal_basis,
    )


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as bad:
        raise InvalidInput(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from bad
