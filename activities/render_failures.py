"""A render that kept failing becomes a task for the operator (the workflow stops retrying
it: workflows.steps.RENDER_RETRY). The invoice is (or stays) in review; approving it again
renders it again, after the template or the data is fixed."""

from __future__ import annotations

from temporalio import activity

from activities.events import emit_invoice, emit_task_created
from activities.services import Services, business_errors
from db import invoices, store, tasks
from domain.safe_text import single_line
from domain.schedule import local_date
from domain.status import InvoiceStatus
from messages import activity_names as names
from messages.models import InvoiceSnapshot, RenderFailed

# What of the error goes into the task's title: enough to recognise it.
ERROR_CHARS = 300
STEP_DOCUMENT = {names.PREPARE_INVOICE_DRAFT: "draft PDF", names.ISSUE_INVOICE: "final PDF"}


class RenderFailureActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.OPEN_RENDER_TASK)
    async def open_render_task(self, failure: RenderFailed) -> InvoiceSnapshot:
        """Open the invoice's render task (once per invoice)
        and answer with the invoice as it is now."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, failure.invoice_id, lock=True)
                seller = await store.company(conn, row.company_id)
                document = STEP_DOCUMENT.get(failure.step, "PDF")
                error = single_line(failure.error)[:ERROR_CHARS]
                await tasks.open_task_once(
                    conn,
                    "render_failed",
                    company_id=row.company_id,
                    invoice_id=row.id,
                    client_id=row.client_id,
                    title=f"The {document} of invoice {row.number or row.id} could not"
                    f" be rendered; fix the template or the data, then approve it again."
                    f" Error: {error}",
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
