"""Determinism guard: workflow histories replay against the current workflow code.

Histories recorded by earlier versions live in tests/histories/; a change that breaks
their replay must go behind `workflow.patched`. Every workflow the worker runs has at least
one there. Record new ones with `Q2C_RECORD_HISTORIES=1 make test`. Replays run in the full
default sandbox (nothing of q2c passed through, unlike the production worker).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from messages.models import invoice_workflow_id, proposal_workflow_id
from tests.conftest import TEST_WORKFLOW_RUNNER, Stack
from tests.helpers import create_client, create_proposal, eventually, issued_invoice
from tests.test_outbound_events import (
    Receiver,
    deliveries,
    finished,
    hits_at_least,
    stack_allowing_local_receivers,  # noqa: F401  (the `stack` fixture: 127.0.0.1 allowed)
    subscribe,
)
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    return Replayer(workflows=WORKFLOWS, workflow_runner=TEST_WORKFLOW_RUNNER)


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def record(histories: Iterable[WorkflowHistory]) -> None:
    """With Q2C_RECORD_HISTORIES=1, keep the histories for the replay test of later versions."""
    if not os.environ.get("Q2C_RECORD_HISTORIES"):
        return
    HISTORIES.mkdir(exist_ok=True)
    for history in histories:
        kind = history.workflow_id.split("-", 1)[0]
        text = history.to_json()
        # Never overwrite a history an earlier version recorded: name by content.
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        (HISTORIES / f"{kind}-{len(history.events)}-{digest}.json").write_text(text)


async def test_saved_histories_replay_on_the_current_code() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "tests/histories/ holds the histories of earlier versions"
    histories = [WorkflowHistory.from_json(path.stem, path.read_text()) for path in files]
    for history in histories:
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{history.workflow_id}: {result.replay_failure}"


def test_every_workflow_has_a_saved_history() -> None:
    saved = {
        workflow_type(WorkflowHistory.from_json(path.stem, path.read_text()))
        for path in HISTORIES.glob("*.json")
    }
    # Each is `@workflow.defn` without a name: its workflow type is its class name.
    names = {cls.__name__ for cls in WORKFLOWS}
    assert names - saved == set(), "record a history of each (see the module's docstring)"


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
        await replayer().replay_workflow(history)
    record(histories)


async def test_fresh_delivery_histories_replay(stack: Stack) -> None:
    """Two deliveries of one event: delivered at the second attempt, and failed once its
    20 attempts are spent."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        histories = await delivery_histories(stack, receiver)
    for history in histories:
        await replayer().replay_workflow(history)
    record(histories)


async def delivery_histories(stack: Stack, receiver: Receiver) -> list[WorkflowHistory]:
    flaky = await subscribe(stack, receiver, "/flaky", ["proposal.sent"])
    down = await subscribe(stack, receiver, "/down", ["proposal.sent"])
    receiver.scripts["/flaky"] = [500]
    receiver.scripts["/down"] = [503] * 20
    await create_proposal(stack, await create_client(stack))

    async def both() -> list[dict[str, str]] | None:
        found = [await deliveries(stack, subscription_id=s["id"]) for s in (flaky, down)]
        return [d for ds in found for d in ds] if all(found) else None

    made = await eventually(both, what="the two deliveries")
    # About 10 hours of backoff, skipped: each hour of server time is past the next retry.
    for attempt in range(1, 21):
        await hits_at_least(receiver, "/down", attempt)
        await stack.env.sleep(timedelta(hours=1))
    handles = [stack.env.client.get_workflow_handle(d["workflow_id"]) for d in made]
    assert [await finished(handle) for handle in handles] == ["delivered", "failed"]
    return [await handle.fetch_history() for handle in handles]
