"""How a workflow runs one of its steps (an activity): locally, in the worker that runs the
workflow, in runs that began after the patch `local-steps`.

q2c's steps are short database transactions, a render or an email, each idempotent by a
business key. As ordinary activities each one costs a round trip through the Temporal
server (scheduled, started, completed, then a second workflow task): about half of the
server's and a third of the worker's CPU for a reminder. As local activities the result is
recorded as a marker in the same workflow task. Retries, timeouts and at-least-once
delivery are the same. Runs recorded before the patch replay as ordinary activities.

Steps an update handler runs stay ordinary activities (`handler_step`): a local activity
runs before its workflow task completes, so one started by an update that arrives in the
task where the run continues as new would record (a payment) in a run that then closes,
and the client's retried update would record it again in the next run; an ordinary
activity is only scheduled by that task's completion, which the closing run drops.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.ui_summary import step_summary

PATCH_LOCAL_STEPS = "local-steps"
STEP_TIMEOUT = timedelta(minutes=2)
STEP_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# A step that renders a PDF, in runs that began after the patch `bounded-render`: a broken
# template or a document WeasyPrint cannot lay out fails the same way on every try, so it
# is tried a few times (about 15 seconds, enough for a render process that died) and then
# the workflow opens a task for the operator instead of retrying forever.
PATCH_BOUNDED_RENDER = "bounded-render"
RENDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=8),
    maximum_attempts=5,
)

ResultT = TypeVar("ResultT")


# `detail`: what the Temporal UI's timeline adds to the step's business name
# (domain.ui_summary.step_summary), e.g. the invoice's number. User metadata only: not part
# of the commands' determinism checks, so adding it changes no recorded run.


async def run_step(
    name: str, argument: object, result_type: type[ResultT], detail: str = ""
) -> ResultT:
    result: ResultT = await _run(name, argument, result_type, local=True, detail=detail)
    return result


async def run_step_no_result(name: str, argument: object, detail: str = "") -> None:
    await _run(name, argument, None, local=True, detail=detail)


async def render_step(
    name: str, argument: object, result_type: type[ResultT], detail: str = ""
) -> ResultT:
    """A render step with RENDER_RETRY: after its last try it raises the ActivityError for
    the workflow to turn into an operator task."""
    result: ResultT = await _run(
        name, argument, result_type, local=True, retry=RENDER_RETRY, detail=detail
    )
    return result


async def handler_step(
    name: str,
    argument: object,
    result_type: type[ResultT],
    retry: RetryPolicy = STEP_RETRY,
    detail: str = "",
) -> ResultT:
    result: ResultT = await _run(
        name, argument, result_type, local=False, retry=retry, detail=detail
    )
    return result


async def _run(
    name: str,
    argument: object,
    result_type: type[Any] | None,
    *,
    local: bool,
    retry: RetryPolicy = STEP_RETRY,
    detail: str = "",
) -> Any:
    summary = step_summary(name, detail)
    if local and workflow.patched(PATCH_LOCAL_STEPS):
        try:
            return await workflow.execute_local_activity(
                name,
                argument,
                result_type=result_type,
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=retry,
                summary=summary,
            )
        except ActivityError:
            raise
        except FailureError as failed:
            # A local activity's failure reaches the workflow bare (the ApplicationError the
            # activity raised, or a timeout); callers handle one shape: an ActivityError
            # whose cause is that failure, as an ordinary activity's is.
            raise ActivityError(
                f"local activity {name} failed",
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=name,
                activity_id="",
                retry_state=None,
            ) from failed
    return await workflow.execute_activity(
        name,
        argument,
        result_type=result_type,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=retry,
        summary=summary,
    )
