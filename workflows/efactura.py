"""EfacturaSubmissionWorkflow: one issued document (invoice or credit note) of a Romanian
seller reported to ANAF's SPV, durably.

id `efactura-invoice-<id>` / `efactura-credit-note-<id>`, started by the invoice's workflow
after the email. Upload (the activity records its intent first and, after a lost answer,
finds the upload in ANAF's messages instead of uploading twice), then poll with durable
timers (1 minute, doubling to hourly) until ANAF answers ok or nok; the answer is stored by
the poll's activity. Four days after issue a document not yet accepted opens a task (the
legal deadline is five). No ANAF connection: a task once, then a try every hour.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.ui_summary import step_summary
    from messages import activity_names as act
    from messages import search_attributes as sa
    from messages.models import EfacturaProgress, EfacturaRef, EfacturaSubmissionInput

# ANAF answers most uploads within a minute or two (the stand-in at once): first look soon,
# then back off to hourly.
FIRST_POLL = timedelta(seconds=20)
LONGEST_POLL = timedelta(hours=1)
# While no ANAF connection exists, and while a lost upload is looked for.
NOT_CONNECTED_RETRY = timedelta(hours=1)
SEARCH_RETRY = timedelta(minutes=5)
# The task opens a day before the legal deadline (5 calendar days from issue).
DEADLINE = timedelta(days=4)
# Months without an ANAF connection add ~10 events an hour: a run continues as new well
# before Temporal's limits (the deadline task opens at most once, whichever run asks).
HISTORY_EVENTS_LIMIT = 2_000
STEP_TIMEOUT = timedelta(minutes=2)
# ANAF unreachable (AnafError): the activity is retried, durably, with a bounded interval.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10)
)


@workflow.defn
class EfacturaSubmissionWorkflow:
    @workflow.init
    def __init__(self, input: EfacturaSubmissionInput) -> None:
        self._input = input
        self._deadline = input.issued_at + DEADLINE
        self._deadline_checked = False
        self._status = "pending"

    @workflow.run
    async def run(self, input: EfacturaSubmissionInput) -> str:
        updates = [sa.EFACTURA_STATUS.value_set("pending")]
        if input.number:
            updates.append(sa.INVOICE_NUMBER.value_set(input.number))
        workflow.upsert_search_attributes(updates)

        while True:
            progress = await self._step(act.EFACTURA_UPLOAD, input)
            if progress.status != "pending":
                break
            await self._sleep(NOT_CONNECTED_RETRY if progress.not_connected else SEARCH_RETRY)
            self._continue_as_new_if_long()

        delay = FIRST_POLL
        while self._status == "uploaded":
            await self._sleep(delay)
            await self._step(act.EFACTURA_POLL, input)
            delay = min(delay * 2, LONGEST_POLL)
            self._continue_as_new_if_long()
        return self._status

    def _label(self) -> str:
        # The document as the Temporal UI's timeline names it: its number (no client data).
        return self._input.number or self._input.kind.replace("_", " ")

    def _continue_as_new_if_long(self) -> None:
        info = workflow.info()
        if (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_EVENTS_LIMIT
        ):
            workflow.continue_as_new(self._input)

    async def _step(self, name: str, input: EfacturaSubmissionInput) -> EfacturaProgress:
        progress: EfacturaProgress = await workflow.execute_activity(
            name,
            EfacturaRef(input.kind, input.document_id, workflow.now()),
            result_type=EfacturaProgress,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
            summary=step_summary(name, self._label()),
        )
        if progress.status != self._status:
            self._status = progress.status
            workflow.upsert_search_attributes([sa.EFACTURA_STATUS.value_set(progress.status)])
        return progress

    async def _sleep(self, delay: timedelta) -> None:
        """Sleep `delay`; when the deadline falls within it, open its task then (if the
        document is not accepted by then) and sleep the rest."""
        wake = workflow.now() + delay
        if not self._deadline_checked and self._deadline <= wake:
            before = self._deadline - workflow.now()
            if before > timedelta(0):
                await workflow.sleep(before)
            self._deadline_checked = True
            await workflow.execute_activity(
                act.EFACTURA_DEADLINE,
                EfacturaRef(self._input.kind, self._input.document_id, workflow.now()),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
                summary=step_summary(act.EFACTURA_DEADLINE, self._label()),
            )
        rest = wake - workflow.now()
        if rest > timedelta(0):
            await workflow.sleep(rest)
