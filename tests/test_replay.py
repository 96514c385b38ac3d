"""Determinism guard: workflow histories replay against the current workflow code.

Histories recorded by earlier versions live in tests/histories/; a change that breaks
their replay must go behind `workflow.patched`. Record new ones with
`Q2C_RECORD_HISTORIES=1 make test`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from messages.models import invoice_workflow_id, proposal_workflow_id
from tests.conftest import Stack
from tests.helpers import create_client, create_proposal, issued_invoice
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

HISTORIES = Path(__file__).parent / "histories"
WORKFLOWS = [ProposalWorkflow, InvoiceWorkflow]


async def test_saved_histories_replay_on_the_current_code() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "tests/histories/ holds the histories of earlier versions"
    histories = [WorkflowHistory.from_json(path.stem, path.read_text()) for path in files]
    replayer = Replayer(workflows=WORKFLOWS)
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{history.workflow_id}: {result.replay_failure}"


async def test_fresh_histories_replay(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    payment = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": invoice["total"], "paid_at": "2026-12-01", "reference": "R-1"},
    )
    assert payment.status_code == 201
    declined = await create_proposal(stack, await create_client(stack, email="b@exemplu.ro"))
    proposals = await stack.db.fetch("SELECT id, status FROM proposals")
    assert {row["status"] for row in proposals} == {"signed", "sent"}
    await stack.env.client.get_workflow_handle(proposal_workflow_id(declined["id"])).terminate(
        "ends the recording"
    )

    handles = [
        stack.env.client.get_workflow_handle(proposal_workflow_id(str(row["id"])))
        for row in proposals
    ] + [stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"]))]
    await handles[-1].result()
    histories = [await handle.fetch_history() for handle in handles]
    for history in histories:
        await Replayer(workflows=WORKFLOWS).replay_workflow(history)

    if os.environ.get("Q2C_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        for history in histories:
            kind = history.workflow_id.split("-", 1)[0]
            text = history.to_json()
            # Never overwrite a history an earlier version recorded: name by content.
            digest = hashlib.sha256(text.encode()).hexdigest()[:8]
            (HISTORIES / f"{kind}-{len(history.events)}-{digest}.json").write_text(text)
