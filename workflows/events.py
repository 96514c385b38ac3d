"""EventDeliveryWorkflow: one outbound webhook delivery (an event to one subscription).

`delivery-<delivery id>`: POST the signed event, retried with backoff (5 s, doubling, at
most an hour apart, 20 attempts: about 10½ hours in all); once the attempts are spent the
delivery is marked failed. The activity logs every attempt and treats a delivery already
made as done, so a retry or a second start of the same workflow id posts nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.ui_summary import step_summary
    from messages.activity_names import DELIVER_WEBHOOK, MARK_DELIVERY_FAILED
    from messages.models import DeliveryFailure, DeliveryInput


DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    maximum_attempts=20,
)
# One attempt: the POST is cut at 10 s; the rest is two short database writes.
ATTEMPT_TIMEOUT = timedelta(seconds=30)
BOOKKEEPING_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@workflow.defn
class EventDeliveryWorkflow:
    @workflow.run
    async def run(self, input: DeliveryInput) -> str:
        """'delivered', or what the delivery turned out to be ('cancelled' when its
        subscription was deleted, 'missing' when its event was rolled back), or 'failed'."""
        try:
            outcome: str = await workflow.execute_activity(
                DELIVER_WEBHOOK,
                input,
                result_type=str,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                retry_policy=DELIVERY_RETRY,
                summary=step_summary(DELIVER_WEBHOOK),
            )
            return outcome
        except ActivityError as failed:
            cause = failed.cause
            await workflow.execute_activity(
                MARK_DELIVERY_FAILED,
                DeliveryFailure(input.delivery_id, str(cause) if cause else str(failed)),
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY,
                summary=step_summary(MARK_DELIVERY_FAILED),
            )
            return "failed"
