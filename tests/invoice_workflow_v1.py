"""InvoiceWorkflow as it was before reminders v2 (workflows/invoice.py at commit 147e6df, no
patch marker): kept to run a workflow on the old code and deploy the new code under it
(test_long_life). Do not change it; it is a recording of the past, like tests/histories/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.money import MoneyError, parse_decimal
    from domain.status import (
        FINAL,
        IllegalTransition,
        InvoiceStatus,
        check_can_approve,
        check_can_edit,
        check_can_pay,
        check_can_void,
    )
    from messages import activity_names as act
    from messages import search_attributes as sa
    from messages.models import (
        ApproveInvoice,
        EditInvoiceInput,
        InvoiceEdit,
        InvoiceRef,
        InvoiceSnapshot,
        InvoiceWorkflowInput,
        PaymentRequest,
        PaymentResult,
        RecordPaymentInput,
        ReminderInput,
        ReminderPlan,
        VoidInvoice,
        VoidInvoiceInput,
    )

ACTIVITY_TIMEOUT = timedelta(minutes=2)
IN_REVIEW = (InvoiceStatus.DRAFT, InvoiceStatus.AWAITING_REVIEW)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@workflow.defn
class InvoiceWorkflow:
    def __init__(self) -> None:
        self._invoice_id = ""
        self._snapshot: InvoiceSnapshot | None = None
        self._approval: ApproveInvoice | None = None
        self._void: VoidInvoice | None = None
        self._reminders_done: set[int] = set()
        self._changed = False
        # Edits, approval and payments each change the invoice row; one at a time.
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: InvoiceWorkflowInput) -> str:
        self._invoice_id = input.invoice_id
        self._reminders_done = set(input.reminders_done)
        if input.snapshot is None:
            self._apply(await self._call(act.PREPARE_INVOICE_DRAFT, self._ref()))
        else:
            self._apply(input.snapshot)

        if self._status in IN_REVIEW:
            await workflow.wait_condition(
                lambda: self._approval is not None or self._void is not None
            )
            if self._void is None:
                async with self._lock:
                    self._apply(await self._call(act.ISSUE_INVOICE, self._ref()))
                    self._apply(await self._call(act.SEND_INVOICE, self._ref()))

        while self._status not in FINAL:
            if self._void is not None:
                await self._void_now(self._void)
                break
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    InvoiceWorkflowInput(
                        invoice_id=self._invoice_id,
                        snapshot=self._invoice,
                        reminders_done=sorted(self._reminders_done),
                    )
                )
            await self._next_step()

        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status.value

    async def _next_step(self) -> None:
        """Act on whatever is due now, else sleep until the next due instant or a change."""
        now = workflow.now()
        invoice = self._invoice
        overdue_at = invoice.overdue_at
        if overdue_at is not None and self._status != InvoiceStatus.OVERDUE and overdue_at <= now:
            async with self._lock:
                self._apply(await self._call(act.MARK_OVERDUE, self._ref()))
            return
        pending = self._pending_reminders()
        if pending and pending[0].send_at <= now:
            reminder = pending[0]
            await self._call_none(
                act.SEND_REMINDER,
                ReminderInput(invoice.invoice_id, reminder.step, reminder.send_at),
            )
            self._reminders_done.add(reminder.step)
            return

        wake_times = [reminder.send_at for reminder in pending[:1]]
        if overdue_at is not None and self._status != InvoiceStatus.OVERDUE:
            wake_times.append(overdue_at)
        self._changed = False
        condition = lambda: self._changed or self._void is not None  # noqa: E731
        if not wake_times:
            await workflow.wait_condition(condition)
            return
        try:
            await workflow.wait_condition(condition, timeout=min(wake_times) - now)
        except TimeoutError:
            pass

    def _pending_reminders(self) -> list[ReminderPlan]:
        return sorted(
            (r for r in self._invoice.reminders if r.step not in self._reminders_done),
            key=lambda r: r.send_at,
        )

    # --- operator actions ----------------------------------------------------------------

    @workflow.signal
    def approve(self, approval: ApproveInvoice) -> None:
        # A draft still being rendered counts as in review: the approval waits for it.
        status = self._status
        if status == InvoiceStatus.DRAFT:
            status = InvoiceStatus.AWAITING_REVIEW
        try:
            check_can_approve(status)
        except IllegalTransition as refused:
            workflow.logger.warning("approve ignored: %s", refused.reason)
            return
        if self._approval is None:
            self._approval = approval

    @workflow.signal
    def void(self, request: VoidInvoice) -> None:
        try:
            check_can_void(self._status)
        except IllegalTransition as refused:
            workflow.logger.warning("void ignored: %s", refused.reason)
            return
        if self._void is None:
            self._void = request
            self._changed = True

    @workflow.update
    async def edit(self, edit: InvoiceEdit) -> InvoiceSnapshot:
        async with self._lock:
            # Checked again under the lock: an approval may have started since validation.
            self._refuse_unless(check_can_edit)
            self._apply(
                await self._call(
                    act.EDIT_INVOICE,
                    EditInvoiceInput(self._invoice_id, edit, workflow.now()),
                )
            )
        return self._invoice

    @edit.validator
    def validate_edit(self, edit: InvoiceEdit) -> None:
        self._refuse_unless(check_can_edit)
        if self._approval is not None:
            raise ApplicationError("the invoice is being approved", type="IllegalTransition")
        try:
            for index, line in enumerate(edit.lines or []):
                for name in ("quantity", "unit_price", "vat_rate", "discount_percent"):
                    parse_decimal(getattr(line, name), f"lines[{index}].{name}")
        except MoneyError as bad:
            raise ApplicationError(str(bad), type="InvalidInput") from bad
        if edit.lines is not None and not edit.lines:
            raise ApplicationError("lines: an invoice needs at least one line", type="InvalidInput")

    @workflow.update
    async def record_payment(self, payment: PaymentRequest) -> PaymentResult:
        # A payment can arrive while the approved invoice is still being sent.
        await workflow.wait_condition(lambda: self._status not in IN_REVIEW)
        async with self._lock:
            self._refuse_unless(check_can_pay)
            result: PaymentResult = await workflow.execute_activity(
                act.RECORD_PAYMENT,
                RecordPaymentInput(self._invoice_id, payment, workflow.now()),
                result_type=PaymentResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._apply(result.snapshot)
        self._changed = True
        return result

    @record_payment.validator
    def validate_payment(self, payment: PaymentRequest) -> None:
        being_sent = self._approval is not None and self._status in IN_REVIEW
        if not being_sent:
            self._refuse_unless(check_can_pay)
        try:
            amount = parse_decimal(payment.amount, "amount")
        except MoneyError as bad:
            raise ApplicationError(str(bad), type="InvalidInput") from bad
        if amount <= Decimal(0):
            raise ApplicationError("amount: must be greater than zero", type="InvalidInput")
        if not payment.reference.strip():
            raise ApplicationError("reference: must not be empty", type="InvalidInput")
        currency = payment.currency
        if currency is not None and currency != self._invoice.currency:
            raise ApplicationError(
                f"currency: the invoice is in {self._invoice.currency}, not {currency}",
                type="InvalidInput",
            )

    @workflow.query
    def status(self) -> InvoiceSnapshot:
        return self._invoice

    # --- helpers ---------------------------------------------------------------------------

    async def _void_now(self, request: VoidInvoice) -> None:
        async with self._lock:
            self._apply(
                await self._call(
                    act.VOID_INVOICE,
                    VoidInvoiceInput(self._invoice_id, request.reason, workflow.now()),
                )
            )

    def _refuse_unless(self, check: Callable[[InvoiceStatus], None]) -> None:
        try:
            check(self._status)
        except IllegalTransition as refused:
            raise ApplicationError(refused.reason, type="IllegalTransition") from refused

    async def _call(self, name: str, argument: object) -> InvoiceSnapshot:
        snapshot: InvoiceSnapshot = await workflow.execute_activity(
            name,
            argument,
            result_type=InvoiceSnapshot,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        return snapshot

    async def _call_none(self, name: str, argument: object) -> None:
        await workflow.execute_activity(
            name, argument, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=ACTIVITY_RETRY
        )

    def _ref(self) -> InvoiceRef:
        return InvoiceRef(self._invoice_id, workflow.now())

    @property
    def _invoice(self) -> InvoiceSnapshot:
        assert self._snapshot is not None, "the invoice is read before anything else"
        return self._snapshot

    @property
    def _status(self) -> InvoiceStatus:
        return InvoiceStatus(self._snapshot.status) if self._snapshot else InvoiceStatus.DRAFT

    def _apply(self, snapshot: InvoiceSnapshot) -> None:
        self._snapshot = snapshot
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(snapshot.status),
            sa.CLIENT_ID.value_set(snapshot.client_id),
            sa.CURRENCY.value_set(snapshot.currency),
            sa.AMOUNT_DUE.value_set(float(snapshot.amount_due)),
        ]
        if snapshot.number:
            updates.append(sa.INVOICE_NUMBER.value_set(snapshot.number))
        if snapshot.due_date:
            due = datetime.fromisoformat(snapshot.due_date).replace(tzinfo=UTC)
            updates.append(sa.DUE_DATE.value_set(due))
        workflow.upsert_search_attributes(updates)
