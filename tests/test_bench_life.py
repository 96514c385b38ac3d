"""One invoice's whole life on the time-skipping server, its Temporal Cloud actions counted
from every history it produced (bench.actions), its PDFs and emails from the worker's
counters: proposal sent, signed, the draft reviewed (its PDF opened), approved, emailed,
the company's five reminders, paid through the payments webhook.

`make bench`'s `life` section runs this test and prints what it writes to $Q2C_LIFE_OUT;
the test itself holds the life to what it costs now (bench.life.ACTIONS_CEILING), so a
change that adds actions fails here."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import Counter as PromCounter
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from activities import metrics
from bench.actions import count_histories, price_usd
from bench.life import ACTIONS_CEILING
from messages.models import invoice_workflow_id, proposal_workflow_id
from tests.conftest import Stack, release_time_skipping
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    get_json,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_reminders import local, run_histories, skip_to, wait_reminders
from tests.test_webhooks import PAYMENTS, payment_event, send

# The company's default plan (db/migrations: reminder_offsets_days '{-3,0,7,14,30}').
REMINDER_OFFSETS = (-3, 0, 7, 14, 30)


def by_kind(counter: PromCounter) -> Counter[str]:
    counts: Counter[str] = Counter()
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[sample.labels["kind"]] += int(sample.value)
    return counts


async def every_history(client: Client, workflow_ids: list[str]) -> list[WorkflowHistory]:
    """Every run of the workflows and, through their ChildWorkflowExecutionStarted events,
    of every child they started (and its children)."""
    seen: set[str] = set()
    histories: list[WorkflowHistory] = []
    pending = list(workflow_ids)
    while pending:
        workflow_id = pending.pop(0)
        if workflow_id in seen:
            continue
        seen.add(workflow_id)
        for history in await run_histories(client, workflow_id):
            histories.append(history)
            for event in history.events:
                if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                    child = event.child_workflow_execution_started_event_attributes
                    pending.append(child.workflow_execution.workflow_id)
    return histories


async def test_one_invoice_life_costs_no_more_actions_than_now(stack: Stack) -> None:
    rendered_before = by_kind(metrics.DOCUMENTS_RENDERED)
    emailed_before = by_kind(metrics.EMAILS_SENT)

    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    # The operator reviews the draft: opens its PDF.
    draft = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF")
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    invoice = await wait_invoice_status(stack, invoice_id, "sent")

    due = date.fromisoformat(invoice["due_date"])
    for count, offset in enumerate(REMINDER_OFFSETS, start=1):
        await skip_to(stack, local(due + timedelta(days=offset), 12))
        await wait_reminders(stack, invoice_id, count)

    paid = await send(
        stack,
        PAYMENTS,
        "payments",
        payment_event(invoice_id=invoice_id, amount=invoice["total"], reference="OP-LIFE"),
    )
    assert paid.status_code == 200, paid.text
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)
    assert (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["status"] == "paid"

    async def settled() -> Counter[str] | None:
        emailed = by_kind(metrics.EMAILS_SENT) - emailed_before
        return emailed if emailed["reminder"] == len(REMINDER_OFFSETS) else None

    emailed = await eventually(settled, what="the reminders counted")
    rendered = by_kind(metrics.DOCUMENTS_RENDERED) - rendered_before
    histories = await every_history(
        stack.env.client, [proposal_workflow_id(proposal["id"]), invoice_workflow_id(invoice_id)]
    )
    actions = count_histories(histories)
    total = sum(actions.values())
    figures: dict[str, Any] = {
        "workflow_runs": sorted(h.workflow_id.split("-", 1)[0] for h in histories),
        "history_events": sum(len(h.events) for h in histories),
        "actions_by_kind": dict(sorted(actions.items())),
        "actions": total,
        "usd_per_1000_invoices": round(price_usd(total), 3),
        "pdfs_rendered": dict(sorted(rendered.items())),
        "pdfs_rendered_total": sum(rendered.values()),
        "emails_sent": dict(sorted(emailed.items())),
        "emails_sent_total": sum(emailed.values()),
        "reminders": len(REMINDER_OFFSETS),
    }
    out = os.environ.get("Q2C_LIFE_OUT")
    if out:
        await asyncio.to_thread(Path(out).write_text, json.dumps(figures, indent=2) + "\n")
    assert emailed["proposal"] == 1 and emailed["invoice"] == 1
    assert total <= ACTIONS_CEILING, figures
