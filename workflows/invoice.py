"""InvoiceWorkflow: review, approval, numbering and sending, then reminders and payments.

The workflow keeps only what decides its next step (status, due instants, which reminders
went out); every figure comes from PostgreSQL through activities as an InvoiceSnapshot.

Reminders v2 (patch `reminders-v2`): pause / resume (signals), re-planning on a new due
date or schedule (update `reschedule`), refunds (update `refund`, also on a paid invoice
whose run has ended: the API starts a new run with update-with-start), a reminder's
activity returns the next reminders, and the run continues as new on its own history
bound. Runs that started before the patch keep their recorded behaviour; one that gets a
request of a new kind continues as new once it is handled, and so runs the new code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.money import MoneyError, parse_decimal
    from domain.schedule import ScheduleError, check_schedule_values
    from domain.status import (
        FINAL,
        IllegalTransition,
        InvoiceStatus,
        check_can_approve,
        check_can_edit,
        check_can_pause_reminders,
        check_can_pay,
        check_can_refund,
        check_can_reschedule,
        check_can_void,
    )
    from domain.ui_summary import efactura_summary, invoice_details, short_id
    from messages import activity_names as act
    from messages import search_attributes as sa
    from messages.models import (
        ApproveInvoice,
        CreditNoteInput,
        CreditNoteIssued,
        EditInvoiceInput,
        EfacturaPrepared,
        EfacturaRef,
        InvoiceEdit,
        InvoiceRef,
        InvoiceSnapshot,
        InvoiceWorkflowInput,
        PaymentRequest,
        PaymentResult,
        RecordPaymentInput,
        RecordRefundInput,
        RefundRequest,
        RefundResult,
        ReminderInput,
        ReminderPause,
        ReminderPlan,
        RenderFailed,
        RescheduleInput,
        RescheduleRequest,
        SetRemindersPausedInput,
        VoidInvoice,
        VoidInvoiceInput,
        efactura_workflow_id,
    )
    from workflows.efactura import EfacturaSubmissionWorkflow
    from workflows.steps import (
        PATCH_BOUNDED_RENDER,
        RENDER_RETRY,
        handler_step,
        render_step,
        run_step,
        run_step_no_result,
    )

IN_REVIEW = (InvoiceStatus.DRAFT, InvoiceStatus.AWAITING_REVIEW)

PATCH_REMINDERS_V2 = "reminders-v2"
PATCH_CREDIT_NOTE = "credit-note"
# Runs after it issue the credit note with bounded retries, as `bounded-render` does the
# invoice's PDFs: a render that keeps failing opens a task instead of retrying forever.
PATCH_BOUNDED_CREDIT_NOTE_RENDER = "bounded-credit-note-render"
PATCH_APPROVAL_REFUSED = "approval-refused"
# Search attributes upserted only when one changed: every upsert is an event and a
# visibility write on the server, and most steps (a reminder) change none of them.
PATCH_SEARCH_ATTRIBUTES_ON_CHANGE = "search-attributes-on-change"
# Continue as new past these even when the server does not suggest it (older servers, the
# time-skipping test server): far below Temporal's limits (51,200 events, 50 MB), and the
# state carried over is small (the snapshot with its next few reminders).
HISTORY_EVENTS_LIMIT = 2_000
HISTORY_BYTES_LIMIT = 4 * 1024 * 1024
# Approve, void and pause/resume pass on the API's request id (who asked); the activity
# takes the actor from it. Only called when a signal carries one, so runs recorded before
# replay unchanged.
PATCH_OPERATOR_REQUESTS = "operator-requests"
_UNSET = object()
# RO e-Factura (issue 14): after the invoice's email (and the credit note's), its submission
# to ANAF runs as a child workflow of its own. Runs recorded before replay without it.
PATCH_EFACTURA = "efactura"
# Matters (issue 15): an invoice filed under a matter sets Q2CMatterId. Runs recorded
# before never call it (their snapshots have no matter).
PATCH_MATTER_SEARCH_ATTRIBUTE = "matter-search-attribute"
# A run started again to take a refund waits this long for it before it ends unchanged.
REOPEN_WAIT = timedelta(minutes=10)


@workflow.defn
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, input: InvoiceWorkflowInput) -> None:
        # Set here, not in run(): with update-with-start an update may run first.
        self._invoice_id = input.invoice_id
        self._snapshot: InvoiceSnapshot | None = input.snapshot
        self._approval: ApproveInvoice | None = None
        self._void: VoidInvoice | None = None
        self._reminders_done: set[int] = set(input.reminders_done)
        self._changed = False
        # Edits, approval, payments, refunds and (v2) reminders each change the invoice
        # row or depend on it; one at a time.
        self._lock = asyncio.Lock()
        self._started = False
        # False in runs that began before reminders v2 (set first thing in run()).
        self._v2 = True
        # A run from before v2 got a request of a new kind: continue as new to run v2.
        self._upgrade = False
        # The last pause / resume asked for and not yet recorded.
        self._pause_wanted: bool | None = None
        self._pause_request = ReminderPause()
        self._refunds_answered = 0
        # What this run last upserted, by search attribute name.
        self._upserted: dict[str, object] = {}
        # The draft PDF kept failing to render (bounded-render): an approval runs the draft
        # step again first.
        self._draft_missing = False

    @workflow.run
    async def run(self, input: InvoiceWorkflowInput) -> str:
        # Runs recorded before the patch replay exactly as they ran (no marker: False).
        self._v2 = workflow.patched(PATCH_REMINDERS_V2)
        if input.snapshot is None:
            workflow.set_current_details(
                f"**Invoice draft {short_id(self._invoice_id)}** — preparing the draft"
            )
            draft = await self._render_step(act.PREPARE_INVOICE_DRAFT)
            if draft is None:
                self._draft_missing = True
            else:
                self._apply(draft)
        else:
            self._apply(input.snapshot)
        self._started = True

        if input.reopened:
            # Started again on a paid or void invoice for a refund: it comes with the start
            # (update-with-start); then the invoice may be open again.
            try:
                await workflow.wait_condition(
                    lambda: self._refunds_answered > 0, timeout=REOPEN_WAIT
                )
            except TimeoutError:
                pass
            await workflow.wait_condition(workflow.all_handlers_finished)

        if self._status in IN_REVIEW:
            while True:
                await workflow.wait_condition(
                    lambda: self._approval is not None or self._void is not None
                )
                if self._void is not None:
                    break
                async with self._lock:
                    if self._draft_missing:
                        draft = await self._render_step(act.PREPARE_INVOICE_DRAFT)
                        if draft is None:
                            self._approval = None
                            continue
                        self._draft_missing = False
                        self._apply(draft)
                    if await self._issue():
                        self._apply(await self._call(act.SEND_INVOICE, self._ref()))
                        if workflow.patched(PATCH_EFACTURA):
                            await self._submit_efactura("invoice", self._invoice_id)
                        break

        while True:
            while self._status not in FINAL:
                if self._void is not None:
                    await self._void_now(self._void)
                    break
                if self._pause_pending():
                    await self._record_pause()
                    continue
                if self._should_continue_as_new():
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    # A void or pause that came in meanwhile is handled by this run first.
                    if not (self._v2 and (self._void is not None or self._pause_pending())):
                        workflow.continue_as_new(self._next_input())
                    continue
                await self._next_step()
            await workflow.wait_condition(workflow.all_handlers_finished)
            # A refund handled meanwhile may have opened the invoice again.
            if self._status in FINAL:
                break
        return self._status.value

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        if not self._v2:
            return self._upgrade
        return (
            info.get_current_history_length() > HISTORY_EVENTS_LIMIT
            or info.get_current_history_size() > HISTORY_BYTES_LIMIT
        )

    def _next_input(self) -> InvoiceWorkflowInput:
        """The state the next run needs: the snapshot (with the next reminders, none of them
        sent: the outbox says which were) and which of those went out since it was read."""
        done = self._reminders_done
        if self._v2:
            done = done & {reminder.step for reminder in self._invoice.reminders}
        return InvoiceWorkflowInput(
            invoice_id=self._invoice_id, snapshot=self._invoice, reminders_done=sorted(done)
        )

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
            send = ReminderInput(invoice.invoice_id, reminder.step, reminder.send_at)
            if self._v2:
                # Under the lock: a re-plan or payment never interleaves with a send; the
                # activity answers with the next reminders (a long repeat is read in parts).
                async with self._lock:
                    snapshot = await self._call(act.SEND_REMINDER, send)
                    self._reminders_done.add(reminder.step)
                    self._apply(snapshot)
            else:
                await self._call_none(act.SEND_REMINDER, send)
                self._reminders_done.add(reminder.step)
                self._show()
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

    def _pause_pending(self) -> bool:
        if self._pause_wanted is None or self._snapshot is None:
            return False
        if self._pause_wanted == self._invoice.reminders_paused:
            self._pause_wanted = None
            return False
        return True

    async def _record_pause(self) -> None:
        paused, request = self._pause_wanted, self._pause_request
        self._pause_wanted = None
        assert paused is not None
        async with self._lock:
            try:
                self._apply(
                    await self._call(
                        act.SET_REMINDERS_PAUSED,
                        SetRemindersPausedInput(
                            self._invoice_id,
                            paused,
                            workflow.now(),
                            request.reason,
                            request.requested_by,
                            self._request_id(request.request_id),
                        ),
                    )
                )
            except ActivityError as refused:
                # E.g. paid meanwhile: a refused request leaves the invoice as it is.
                workflow.logger.warning("reminders pause/resume refused: %s", refused.cause)

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

    @workflow.signal
    def pause_reminders(self, request: ReminderPause | None = None) -> None:
        """No reminder goes out until resumed (from the Temporal UI: no input needed)."""
        self._want_pause(True, request)

    @workflow.signal
    def resume_reminders(self, request: ReminderPause | None = None) -> None:
        """Reminders go on; those planned while paused are skipped, not sent late."""
        self._want_pause(False, request)

    def _want_pause(self, paused: bool, request: ReminderPause | None) -> None:
        try:
            check_can_pause_reminders(self._status)
        except IllegalTransition as refused:
            workflow.logger.warning(
                "%s ignored: %s", "pause" if paused else "resume", refused.reason
            )
            return
        self._pause_wanted = paused
        self._pause_request = request or ReminderPause()
        self._changed = True
        self._upgrade = True

    @workflow.update
    async def reschedule(self, request: RescheduleRequest) -> InvoiceSnapshot:
        """Move the due date and/or set the invoice's own reminder schedule; the remaining
        reminders are planned again (new steps, none before now)."""
        async with self._lock:
            self._refuse_unless(check_can_reschedule)
            self._apply(
                await handler_step(
                    act.RESCHEDULE_INVOICE,
                    RescheduleInput(self._invoice_id, request, workflow.now()),
                    InvoiceSnapshot,
                )
            )
        self._changed = True
        self._upgrade = True
        return self._invoice

    @reschedule.validator
    def validate_reschedule(self, request: RescheduleRequest) -> None:
        self._refuse_unless(check_can_reschedule)
        if request.due_date is not None:
            try:
                date.fromisoformat(request.due_date)
            except ValueError as bad:
                raise ApplicationError(
                    f"due_date: {request.due_date!r} is not a date (YYYY-MM-DD)",
                    type="InvalidInput",
                ) from bad
        schedule = request.schedule
        if schedule is not None:
            if request.reset_schedule:
                raise ApplicationError(
                    "reset_schedule: give a schedule or reset it, not both", type="InvalidInput"
                )
            try:
                check_schedule_values(
                    schedule.offsets_days,
                    schedule.hour,
                    schedule.repeat_every_days,
                    schedule.repeat_max,
                )
            except ScheduleError as bad:
                raise ApplicationError(str(bad), type="InvalidInput") from bad

    @workflow.update
    async def refund(self, request: RefundRequest) -> RefundResult:
        """Give back (part of) a payment, idempotent by the refund's reference."""
        await workflow.wait_condition(lambda: self._started)
        try:
            async with self._lock:
                self._refuse_unless(check_can_refund)
                result = await handler_step(
                    act.RECORD_REFUND,
                    RecordRefundInput(self._invoice_id, request, workflow.now()),
                    RefundResult,
                )
                self._apply(result.snapshot)
        finally:
            self._refunds_answered += 1
        self._changed = True
        self._upgrade = True
        return result

    @refund.validator
    def validate_refund(self, request: RefundRequest) -> None:
        self._refuse_unless(check_can_refund)
        try:
            amount = parse_decimal(request.amount, "amount")
        except MoneyError as bad:
            raise ApplicationError(str(bad), type="InvalidInput") from bad
        if amount <= Decimal(0):
            raise ApplicationError("amount: must be greater than zero", type="InvalidInput")
        for name in ("payment_reference", "reference"):
            if not getattr(request, name).strip():
                raise ApplicationError(f"{name}: must not be empty", type="InvalidInput")

    @workflow.update
    async def edit(self, edit: InvoiceEdit) -> InvoiceSnapshot:
        async with self._lock:
            # Checked again under the lock: an approval may have started since validation.
            self._refuse_unless(check_can_edit)
            request = EditInvoiceInput(self._invoice_id, edit, workflow.now())
            if not workflow.patched(PATCH_BOUNDED_RENDER):
                self._apply(await handler_step(act.EDIT_INVOICE, request, InvoiceSnapshot))
                return self._invoice
            try:
                # The edit commits before the draft is rendered again: a render that keeps
                # failing leaves the edit made, the draft PDF missing and a task open.
                self._apply(
                    await handler_step(act.EDIT_INVOICE, request, InvoiceSnapshot, RENDER_RETRY)
                )
            except ActivityError as failed:
                cause = failed.cause
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    raise
                workflow.logger.warning("the edited draft kept failing to render: %s", cause)
                failure = RenderFailed(
                    self._invoice_id, act.PREPARE_INVOICE_DRAFT, str(cause), workflow.now()
                )
                self._apply(await handler_step(act.OPEN_RENDER_TASK, failure, InvoiceSnapshot))
                self._draft_missing = True
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
            result = await handler_step(
                act.RECORD_PAYMENT,
                RecordPaymentInput(self._invoice_id, payment, workflow.now()),
                PaymentResult,
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

    async def _issue(self) -> bool:
        """Number the approved invoice; False if the approval was refused for a business
        reason (e.g. a VAT rate no longer valid on the issue date): the invoice stays in
        review, with the reason on it, for an edit and a new approval. Runs recorded before
        the patch failed there, and replay so."""
        ref = self._ref()
        if self._approval is not None:
            ref.request_id = self._request_id(self._approval.request_id)
        try:
            issued = await self._render_step(act.ISSUE_INVOICE, ref)
        except ActivityError as failed:
            refused = (
                isinstance(failed.cause, ApplicationError) and failed.cause.type == "InvalidInput"
            )
            if not (refused and workflow.patched(PATCH_APPROVAL_REFUSED)):
                raise
            workflow.logger.warning("approval refused: %s", failed.cause)
            self._approval = None
            return False
        if issued is None:
            # The final PDF kept failing: numbered or not, the invoice stays in review and
            # the operator, told by a task, approves it again once the cause is fixed.
            self._approval = None
            return False
        self._apply(issued)
        return True

    async def _render_step(
        self, name: str, ref: InvoiceRef | None = None
    ) -> InvoiceSnapshot | None:
        """A step that renders the invoice's PDF. In runs after the patch `bounded-render` it
        is tried a few times (workflows.steps.RENDER_RETRY); when it still fails, the
        operator gets a task, the invoice as it now is is applied and None comes back.
        A refusal (a non-retryable business error) is raised as before."""
        ref = ref or self._ref()
        if not workflow.patched(PATCH_BOUNDED_RENDER):
            return await self._call(name, ref)
        try:
            return await render_step(name, ref, InvoiceSnapshot, self._label())
        except ActivityError as failed:
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise
            workflow.logger.warning("%s kept failing, a task is opened: %s", name, cause)
            failure = RenderFailed(self._invoice_id, name, str(cause), workflow.now())
            self._apply(await self._call(act.OPEN_RENDER_TASK, failure))
            return None

    async def _void_now(self, request: VoidInvoice) -> None:
        async with self._lock:
            self._apply(
                await self._call(
                    act.VOID_INVOICE,
                    VoidInvoiceInput(
                        self._invoice_id,
                        request.reason,
                        workflow.now(),
                        self._request_id(request.request_id),
                    ),
                )
            )
            # A numbered invoice was issued: it is cancelled by a credit note (storno). Runs
            # recorded before the patch voided without one and replay that way.
            if (
                self._status == InvoiceStatus.VOID
                and self._invoice.number
                and workflow.patched(PATCH_CREDIT_NOTE)
            ):
                note = CreditNoteInput(self._invoice_id, workflow.now(), request.reason)
                if workflow.patched(PATCH_BOUNDED_CREDIT_NOTE_RENDER):
                    try:
                        issued = await render_step(act.ISSUE_CREDIT_NOTE, note, CreditNoteIssued)
                    except ActivityError as failed:
                        cause = failed.cause
                        if isinstance(cause, ApplicationError) and cause.non_retryable:
                            raise
                        workflow.logger.warning("the credit note kept failing: %s", cause)
                        failure = RenderFailed(
                            self._invoice_id, act.ISSUE_CREDIT_NOTE, str(cause), workflow.now()
                        )
                        self._apply(await self._call(act.OPEN_RENDER_TASK, failure))
                        return
                else:
                    issued = await run_step(act.ISSUE_CREDIT_NOTE, note, CreditNoteIssued)
                await self._call_none(act.SEND_CREDIT_NOTE, note)
                if workflow.patched(PATCH_EFACTURA):
                    await self._submit_efactura("credit_note", issued.credit_note_id)

    async def _submit_efactura(self, kind: str, document_id: str) -> None:
        """Start the document's e-Factura submission when it has one to make (a Romanian
        seller, submission on). It outlives this run (ABANDON); its fixed id refuses a
        second start, so a start retried finds the first."""
        prepared = await run_step(
            act.EFACTURA_PREPARE,
            EfacturaRef(kind, document_id, workflow.now()),
            EfacturaPrepared,
            self._label(),
        )
        if not prepared.start or prepared.submission is None:
            return
        try:
            await workflow.start_child_workflow(
                EfacturaSubmissionWorkflow.run,
                prepared.submission,
                id=efactura_workflow_id(kind, document_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=efactura_summary(kind, prepared.submission.number),
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info(
                "the e-Factura submission of %s %s runs already", kind, document_id
            )

    def _request_id(self, request_id: str) -> str:
        return request_id if request_id and workflow.patched(PATCH_OPERATOR_REQUESTS) else ""

    def _refuse_unless(self, check: Callable[[InvoiceStatus], None]) -> None:
        try:
            check(self._status)
        except IllegalTransition as refused:
            raise ApplicationError(refused.reason, type="IllegalTransition") from refused

    async def _call(self, name: str, argument: object) -> InvoiceSnapshot:
        return await run_step(name, argument, InvoiceSnapshot, self._label(argument))

    async def _call_none(self, name: str, argument: object) -> None:
        await run_step_no_result(name, argument, self._label(argument))

    def _label(self, argument: object = None) -> str:
        """The invoice as the Temporal UI's timeline names it in a step's summary."""
        label = (self._snapshot.number if self._snapshot else None) or (
            f"draft {short_id(self._invoice_id)}"
        )
        if isinstance(argument, ReminderInput):
            label += f", reminder {argument.step}"
        return label

    def _show(self) -> None:
        """The Temporal UI's current details, from the last snapshot and this run's state
        (which reminders went out). Not a command: runs recorded before replay unchanged."""
        if self._snapshot is None:
            return
        pending = self._pending_reminders()
        workflow.set_current_details(
            invoice_details(
                self._invoice,
                self._invoice.view,
                pending[0] if pending else None,
                workflow.now().date(),
            )
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
        self._show()
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
        if snapshot.matter_id and workflow.patched(PATCH_MATTER_SEARCH_ATTRIBUTE):
            updates.append(sa.MATTER_ID.value_set(snapshot.matter_id))
        if workflow.patched(PATCH_SEARCH_ATTRIBUTES_ON_CHANGE):
            updates = [u for u in updates if self._upserted.get(u.key.name, _UNSET) != u.value]
            if not updates:
                return
            self._upserted.update((u.key.name, u.value) for u in updates)
        workflow.upsert_search_attributes(updates)
