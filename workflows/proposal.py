"""ProposalWorkflow: email the proposal, wait for a signature, a refusal or expiry."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from domain.status import ProposalStatus
    from domain.ui_summary import document_summary, proposal_details
    from messages import activity_names as act
    from messages.models import (
        AcceptProposalInput,
        CloseProposalInput,
        ConvertProposal,
        ConvertProposalInput,
        DeclineProposal,
        FollowupInput,
        FollowupPlan,
        FollowupStep,
        InvoiceWorkflowInput,
        PlanFollowupsInput,
        ProposalRef,
        ProposalRenderFailed,
        ProposalSent,
        ProposalState,
        ProposalView,
        ProposalWorkflowInput,
        SignProposal,
        invoice_workflow_id,
    )
    from workflows.invoice import InvoiceWorkflow
    from workflows.steps import render_step, run_step, run_step_no_result


# Runs that catch a refused answer and keep waiting (before, a refusal could not happen).
PATCH_REFUSED_ANSWERS = "refused-answers"
# The activities' ApplicationError type for an answer nobody recorded (activities.proposals).
ANSWER_REFUSED = "AnswerRefused"
# Signals are cheap to send: a bound on the answers waiting their turn.
MAX_PENDING_ANSWERS = 20
# Runs after these render the proposal's PDF (and, once signed, its signed copy) in a step of
# their own with bounded retries (workflows.steps.RENDER_RETRY, as the invoice's
# `bounded-render`); one that keeps failing opens a task instead of retrying forever. Two
# ids: a run that started before the first can still reach the signature after it.
PATCH_BOUNDED_PROPOSAL_RENDER = "bounded-proposal-render"
PATCH_BOUNDED_SIGNED_COPY_RENDER = "bounded-signed-copy-render"
# Runs after this plan the proposal's follow-ups once it is sent (domain.followups) and wake
# for each one while they wait; runs before it wait for the expiry alone.
PATCH_FOLLOWUPS = "proposal-followups"

Waiting = SignProposal | DeclineProposal | ConvertProposal


def refused(failed: ActivityError) -> bool:
    cause = failed.cause
    return isinstance(cause, ApplicationError) and cause.type == ANSWER_REFUSED


@workflow.defn
class ProposalWorkflow:
    def __init__(self) -> None:
        self._proposal_id = ""
        self._status = ProposalStatus.DRAFT
        self._invoice_id: str | None = None
        # Answers not yet applied, in the order they came: each is checked against what the
        # signing page or the e-sign webhook recorded, so a forged one ahead of the real one
        # is refused without losing the real one.
        self._pending: list[Waiting] = []
        # The follow-ups still to send, in time order (patch proposal-followups).
        self._followups: list[FollowupStep] = []
        # What the Temporal UI shows (the send step's result; None before it, and in runs
        # recorded before issue 15).
        self._view: ProposalView | None = None

    @workflow.run
    async def run(self, input: ProposalWorkflowInput) -> ProposalState:
        self._proposal_id = input.proposal_id
        self._show()
        if workflow.patched(PATCH_BOUNDED_PROPOSAL_RENDER):
            if not await self._rendered(act.RENDER_PROPOSAL):
                # Back to draft with the operator's task: nothing reached the client, and
                # sending it again (a new run) starts over.
                return self._state()
        sent = await run_step(act.SEND_PROPOSAL, ProposalRef(input.proposal_id), ProposalSent)
        self._status = ProposalStatus(sent.status)
        self._view = sent.view
        self._show()
        if self._status != ProposalStatus.SENT:
            return self._state()

        if workflow.patched(PATCH_FOLLOWUPS):
            plan = await run_step(
                act.PLAN_PROPOSAL_FOLLOWUPS,
                PlanFollowupsInput(input.proposal_id, workflow.now()),
                FollowupPlan,
            )
            self._followups = list(plan.steps)
            self._show()

        while True:
            followup = self._followups[0] if self._followups else None
            wake = sent.expires_at
            if followup is not None and followup.send_at < wake:
                wake = followup.send_at
            remaining = max(wake - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=remaining)
            except TimeoutError:
                if followup is not None and wake == followup.send_at:
                    self._followups.pop(0)
                    await self._follow_up(followup)
                    self._show()
                    continue
                await self._close(ProposalStatus.EXPIRED, None)
                return self._state()
            answer = self._pending.pop(0)
            try:
                if isinstance(answer, ConvertProposal):
                    if not await self._convert(answer):
                        continue
                elif isinstance(answer, SignProposal):
                    await self._accept(answer)
                else:
                    await self._close(ProposalStatus.DECLINED, answer)
            except ActivityError as failed:
                if not refused(failed) or not workflow.patched(PATCH_REFUSED_ANSWERS):
                    raise
                # Not what the signing page or the e-sign webhook recorded (a signal sent by
                # hand): nothing changed, the refusal is in the audit trail, and the real
                # client can still answer.
                workflow.logger.warning(
                    "answer to proposal %s refused: %s", self._proposal_id, failed.cause
                )
                continue
            break
        self._show()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    @workflow.signal
    def sign(self, signature: SignProposal) -> None:
        self._take(signature)

    @workflow.signal
    def decline(self, decline: DeclineProposal) -> None:
        self._take(decline)

    @workflow.signal
    def convert(self, convert: ConvertProposal | None = None) -> None:
        """Make the unsigned proposal a draft invoice (the API's POST
        /api/v1/proposals/{id}/invoice); from the Temporal UI (no input needed) it is
        recorded as temporal-ui."""
        self._take(convert or ConvertProposal())

    def _take(self, answer: Waiting) -> None:
        if self._status not in (ProposalStatus.DRAFT, ProposalStatus.SENT):
            workflow.logger.warning("answer ignored: proposal %s answered", self._proposal_id)
        elif len(self._pending) >= MAX_PENDING_ANSWERS:
            workflow.logger.warning("answer ignored: proposal %s has too many", self._proposal_id)
        else:
            self._pending.append(answer)

    @workflow.query
    def status(self) -> ProposalState:
        return self._state()

    async def _accept(self, signature: SignProposal) -> None:
        self._invoice_id = await run_step(
            act.ACCEPT_PROPOSAL, AcceptProposalInput(self._proposal_id, signature), str
        )
        self._status = ProposalStatus.SIGNED
        await workflow.start_child_workflow(
            InvoiceWorkflow.run,
            InvoiceWorkflowInput(invoice_id=self._invoice_id),
            id=invoice_workflow_id(self._invoice_id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=self._invoice_summary(self._invoice_id),
        )
        # After the child has started: the draft invoice goes to review even while the
        # signed copy's rendering or SMTP is failing and being retried. Histories from
        # before this step replay without it.
        if workflow.patched("signed-copy"):
            await self._send_signed_copy()

    async def _follow_up(self, followup: FollowupStep) -> None:
        """One follow-up email; one that fails for good is logged and never fails the
        proposal, which still waits for its client."""
        try:
            await run_step(
                act.SEND_PROPOSAL_FOLLOWUP,
                FollowupInput(self._proposal_id, followup.step, followup.send_at),
                str,
            )
        except ActivityError as failed:
            workflow.logger.error(
                "follow-up %s of proposal %s not sent: %s",
                followup.step,
                self._proposal_id,
                failed.cause,
            )

    async def _convert(self, convert: ConvertProposal) -> bool:
        """The draft invoice made without a signature, and its workflow started as a
        signature starts it. False if the proposal could no longer be converted."""
        invoice_id = await run_step(
            act.CONVERT_PROPOSAL,
            ConvertProposalInput(self._proposal_id, convert.request_id, workflow.now()),
            str,
        )
        if not invoice_id:
            return False
        self._invoice_id = invoice_id
        self._status = ProposalStatus.CONVERTED
        try:
            await workflow.start_child_workflow(
                InvoiceWorkflow.run,
                InvoiceWorkflowInput(invoice_id=invoice_id),
                id=invoice_workflow_id(invoice_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=self._invoice_summary(invoice_id),
            )
        except WorkflowAlreadyStartedError:
            # The API started it (it converted the proposal itself, in a race with this run).
            pass
        return True

    async def _send_signed_copy(self) -> None:
        """The proposal PDF with its signature certificate, stored and emailed to the client.
        Transient failures are retried; a final one is logged, never fails the proposal,
        which is signed already."""
        try:
            if workflow.patched(PATCH_BOUNDED_SIGNED_COPY_RENDER):
                if not await self._rendered(act.RENDER_SIGNED_COPY):
                    return
            await run_step(act.SEND_SIGNED_COPY, ProposalRef(self._proposal_id), str)
        except ActivityError as failed:
            workflow.logger.error(
                "no signed copy for proposal %s: %s", self._proposal_id, failed.cause
            )

    async def _rendered(self, step: str) -> bool:
        """Run a render step with bounded retries; when it keeps failing, the operator gets
        a task (and a proposal whose own PDF failed is a draft again) and False comes back.
        A refusal (a non-retryable business error) is raised as before."""
        try:
            await render_step(step, ProposalRef(self._proposal_id), str)
            return True
        except ActivityError as failed:
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise
            workflow.logger.warning("%s kept failing, a task is opened: %s", step, cause)
            failure = ProposalRenderFailed(self._proposal_id, step, str(cause), workflow.now())
            status = await run_step(act.OPEN_PROPOSAL_RENDER_TASK, failure, str)
            self._status = ProposalStatus(status)
            self._show()
            return False

    async def _close(self, status: ProposalStatus, decline: DeclineProposal | None) -> None:
        await run_step_no_result(
            act.CLOSE_PROPOSAL,
            CloseProposalInput(
                self._proposal_id,
                status.value,
                decline.declined_at if decline else workflow.now(),
                reason=decline.reason if decline else "",
                ip=decline.ip if decline else "",
                user_agent=decline.user_agent if decline else "",
                answer_id=decline.answer_id if decline else "",
            ),
        )
        self._status = status
        self._show()

    def _invoice_summary(self, invoice_id: str) -> str | None:
        """The draft invoice's static summary, from what the send step read of the proposal
        (its lines and total become the invoice's): no step of its own."""
        view = self._view
        if view is None:
            return None
        return document_summary(
            number=None,
            document_id=invoice_id,
            client_name=view.client_name,
            total_text=view.total,
        )

    def _show(self) -> None:
        """The Temporal UI's current details. Not a command: replay is unchanged."""
        followup = self._followups[0].send_at if self._followups else None
        workflow.set_current_details(
            proposal_details(
                self._proposal_id, self._status.value, self._view, followup, self._invoice_id
            )
        )

    def _state(self) -> ProposalState:
        return ProposalState(self._proposal_id, self._status.value, self._invoice_id)
