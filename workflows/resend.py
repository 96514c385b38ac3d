"""ResendWorkflow: an issued invoice or a sent proposal emailed again, once per key.

id `resend-<outbox key>`, started by the API with id-reuse REJECT_DUPLICATE: a retried
request with the same Idempotency-Key finds this run (running or closed) and takes its
result instead of starting another, so the email goes out once. Its one activity queues
the outbox row with the audit event in one transaction, then delivers it; the outbox key
makes a retried activity send nothing twice. The document's own workflow is not touched:
no status, due date or reminder changes, and no patch to InvoiceWorkflow/ProposalWorkflow.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.ui_summary import step_summary
    from messages.activity_names import RESEND_DOCUMENT
    from messages.models import ResendInput, ResendResult

STEP_TIMEOUT = timedelta(minutes=2)
# SMTP down: retried with the outbox's guarantees, for up to a day; the operator's request
# was answered 202 meanwhile and the row stays pending if it never goes out.
STEP_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
GIVE_UP_AFTER = timedelta(days=1)


@workflow.defn
class ResendWorkflow:
    @workflow.run
    async def run(self, request: ResendInput) -> ResendResult:
        step = dataclasses.replace(request, at=workflow.now())
        result: ResendResult = await workflow.execute_activity(
            RESEND_DOCUMENT,
            step,
            result_type=ResendResult,
            start_to_close_timeout=STEP_TIMEOUT,
            schedule_to_close_timeout=GIVE_UP_AFTER,
            retry_policy=STEP_RETRY,
            summary=step_summary(RESEND_DOCUMENT, request.kind),
        )
        return result
