"""A render that kept failing becomes a task for the operator (the workflow stops retrying
it: workflows.steps.RENDER_RETRY). The invoice is (or stays) in review; approving it again
renders it again, after the template or the data is fixed. A proposal whose PDF could not
be made goes back to draft (nothing reached the client), to be sent again once fixed; a
signed proposal whose signed copy could not be made stays signed."""

from __future__ import annotations

from temporalio import activity

from activities.events import emit_invoice, emit_task_created
from activities.services import Services, business_errors
from db import companies, invoices, proposals, store, tasks
from domain.safe_text import single_line
from domain.schedule import local_date
from domain.status import InvoiceStatus
from messages import activity_names as names
from messages.models import InvoiceSnapshot, ProposalRenderFailed, RenderFailed

# What of the error goes into the task's title: enough to recognise it.
ERROR_CHARS = 300
STEP_DOCUMENT = {names.PREPARE_INVOICE_DRAFT: "draft PDF", names.ISSUE_INVOICE: "final PDF"}
PROPOSAL_TASK = {
    names.RENDER_PROPOSAL: "The PDF of proposal {number} could not be rendered, so it was not"
    " sent and is a draft again; fix the template or the data, then send it again.",
    names.RENDER_SIGNED_COPY: "The signed copy of proposal {number} could not be rendered, so"
    " the client has not received it (the proposal is signed and its invoice made); fix the"
    " template or the data, then have it sent again.",
}


class RenderFailureActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.OPEN_RENDER_TASK)
    async def open_render_task(self, failure: RenderFailed) -> InvoiceSnapshot:
        """Open the invoice's render task (once per invoice)
        and answer with the invoice as it is now."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, failure.invoice_id, lock=True)
                seller = await companies.get(conn, row.company_id)
                document = STEP_DOCUMENT.get(failure.step, "PDF")
                error = single_line(failure.error)[:ERROR_CHARS]
                title = (
                    f"The {document} of invoice {row.number or row.id} could not"
                    f" be rendered; fix the template or the data, then approve it again."
                )
                if failure.step == names.ISSUE_CREDIT_NOTE:
                    title = (
                        f"The credit note cancelling invoice {row.number} could not be"
                        " rendered, so it was not emailed to the client (the invoice is void;"
                        " a credit note already numbered keeps its number); fix the template"
                        " or the data, then have its PDF made and sent."
                    )
                await tasks.open_task_once(
                    conn,
                    "render_failed",
                    company_id=row.company_id,
                    invoice_id=row.id,
                    client_id=row.client_id,
                    title=f"{title} Error: {error}",
                    due_date=local_date(failure.at, seller.time_zone),
                )
                await store.audit(
                    conn,
                    "render_failed",
                    "system",
                    failure.at,
                    invoice_id=row.id,
                    data={"step": failure.step, "error": error},
                )
                await emit_task_created(conn, invoice_id=row.id, kind="render_failed")
                if failure.step == names.PREPARE_INVOICE_DRAFT and row.status == "draft":
                    # Its data can be reviewed, edited and approved without the draft PDF
                    # (an approval renders it again first), as prepare_invoice_draft would.
                    await invoices.change_status(
                        conn,
                        row,
                        InvoiceStatus.AWAITING_REVIEW,
                        "in review without a draft PDF: it could not be rendered",
                        failure.at,
                    )
                    await emit_invoice(conn, "invoice.created", row.id, at=failure.at)
            return await store.snapshot(conn, failure.invoice_id)

    @activity.defn(name=names.OPEN_PROPOSAL_RENDER_TASK)
    async def open_proposal_render_task(self, failure: ProposalRenderFailed) -> str:
        """Open the proposal's render task (once per proposal); a proposal whose own PDF
        failed goes back to draft. Answers with the proposal's status now."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await proposals.get(conn, failure.proposal_id, lock=True)
                seller = await companies.get(conn, row.company_id)
                error = single_line(failure.error)[:ERROR_CHARS]
                text = PROPOSAL_TASK.get(failure.step, PROPOSAL_TASK[names.RENDER_PROPOSAL])
                await tasks.open_task_once(
                    conn,
                    "render_failed",
                    company_id=row.company_id,
                    invoice_id=None,
                    client_id=row.client_id,
                    proposal_id=row.id,
                    title=text.format(number=row.number or row.id) + f" Error: {error}",
                    due_date=local_date(failure.at, seller.time_zone),
                )
                await store.audit(
                    conn,
                    "render_failed",
                    "system",
                    failure.at,
                    proposal_id=row.id,
                    data={"step": failure.step, "error": error},
                )
                task_id = await tasks.automatic_proposal_task_id(conn, row.id, "render_failed")
                await emit_task_created(conn, task_id)
                if failure.step == names.RENDER_PROPOSAL:
                    await proposals.back_to_draft(conn, row.id)
            return (await proposals.get(conn, failure.proposal_id)).status
