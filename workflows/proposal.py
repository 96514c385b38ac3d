"""ProposalWorkflow: email the proposal, wait for a signature, a refusal or expiry."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.status import ProposalStatus
    from messages import activity_names as act
    from messages.models import (
        AcceptProposalInput,
        CloseProposalInput,
        DeclineProposal,
        InvoiceWorkflowInput,
        ProposalRef,
        ProposalSent,
        ProposalState,
        ProposalWorkflowInput,
        SignProposal,
        invoice_workflow_id,
    )
    from workflows.invoice import InvoiceWorkflow
    from workflows.steps import run_step, run_step_no_result


@workflow.defn
class ProposalWorkflow:
    def __init__(self) -> None:
        self._proposal_id = ""
        self._status = ProposalStatus.DRAFT
        self._invoice_id: str | None = None
        self._signature: SignProposal | None = None
        self._decline: DeclineProposal | None = None

    @workflow.run
    async def run(self, input: ProposalWorkflowInput) -> ProposalState:
        self._proposal_id = input.proposal_id
        sent = await run_step(act.SEND_PROPOSAL, ProposalRef(input.proposal_id), ProposalSent)
        self._status = ProposalStatus(sent.status)
        if self._status != ProposalStatus.SENT:
            return self._state()

        remaining = max(sent.expires_at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: self._signature is not None or self._decline is not None,
                timeout=remaining,
            )
        except TimeoutError:
            await self._close(ProposalStatus.EXPIRED, None)
            return self._state()

        if self._signature is not None:
            await self._accept(self._signature)
        elif self._decline is not None:
            await self._close(ProposalStatus.DECLINED, self._decline)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    @workflow.signal
    def sign(self, signature: SignProposal) -> None:
        if self._signature is None and self._decline is None:
            self._signature = signature
        else:
            workflow.logger.warning("sign ignored: proposal %s already answered", self._proposal_id)

    @workflow.signal
    def decline(self, decline: DeclineProposal) -> None:
        if self._signature is None and self._decline is None:
            self._decline = decline
        else:
            workflow.logger.warning(
                "decline ignored: proposal %s already answered", self._proposal_id
            )

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
        )
        # After the child has started: the draft invoice goes to review even while the
        # signed copy's rendering or SMTP is failing and being retried. Histories from
        # before this step replay without it.
        if workflow.patched("signed-copy"):
            await self._send_signed_copy()

    async def _send_signed_copy(self) -> None:
        """The proposal PDF with its signature certificate, stored and emailed to the client.
        Transient failures are retried; a final one is logged, never fails the proposal,
        which is signed already."""
        try:
            await run_step(act.SEND_SIGNED_COPY, ProposalRef(self._proposal_id), str)
        except ActivityError as failed:
            workflow.logger.error(
                "no signed copy for proposal %s: %s", self._proposal_id, failed.cause
            )

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
            ),
        )
        self._status = status

    def _state(self) -> ProposalState:
        return ProposalState(self._proposal_id, self._status.value, self._invoice_id)
