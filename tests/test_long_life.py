"""A long life: 500 payments and 402 reminders on one invoice. The workflow continues as new
(its own bound on the history, since the time-skipping server does not suggest it) and
loses no payment and no reminder, and sends none twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.schedule import local_instant
from messages.models import PaymentRequest, invoice_workflow_id
from settings import Settings
from starter.api.app import create_app
from starter.devstack.mailsink import MailSink
from tests import invoice_workflow_v1
from tests.conftest import (
    API_KEY,
    PUBLIC_URL,
    Stack,
    build_test_worker,
    release_time_skipping,
)
from tests.helpers import create_client, eventually, get_json, issued_invoice
from tests.test_reminders import (
    issue_for_client,
    local,
    run_histories,
    sent_reminders,
    skip_to,
    steps_of,
    wait_reminders,
)
from worker import activities_of, services_for
from workflows.invoice import HISTORY_EVENTS_LIMIT, PATCH_REMINDERS_V2, InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

PAYMENTS = 500
REPEATS = 400
ROUNDS = 10
CONCURRENT = 5


def amount_of(index: int) -> Decimal:
    """Small amounts that differ, so a lost or doubled one shows in the sum."""
    return Decimal(index % 97 + 1) / 100


async def test_500_payments_and_402_reminders_across_runs(stack: Stack) -> None:
    email = "long@exemplu.ro"
    client_id = await create_client(stack, email=email)
    schedule = await stack.api.put(
        f"/api/v1/clients/{client_id}/reminders",
        json={"offsets_days": [-3, 0], "repeat_every_days": 1, "repeat_max": REPEATS},
    )
    assert schedule.status_code == 200, schedule.text
    invoice = await issue_for_client(stack, client_id, email)
    invoice_id = invoice["id"]
    due = date.fromisoformat(invoice["due_date"])
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    reminders = 2 + REPEATS
    last_reminder_day = due + timedelta(days=REPEATS)

    # Rounds of payments (updates), each followed by weeks of daily reminders skipped through.
    days = [due - timedelta(days=3) + timedelta(days=(REPEATS + 4) * n // ROUNDS)
            for n in range(1, ROUNDS + 1)]  # fmt: skip
    expected_paid = Decimal(0)

    async def pay(index: int) -> Decimal:
        amount = amount_of(index)
        result = await handle.execute_update(
            InvoiceWorkflow.record_payment,
            PaymentRequest(str(amount), "2027-01-01", f"LL-{index:03d}"),
        )
        assert result.recorded, index
        return amount

    for round_index, day in enumerate(days):
        first = round_index * PAYMENTS // ROUNDS
        # A few at a time, as a bank import would: the workflow takes them one by one.
        for batch in range(first, first + PAYMENTS // ROUNDS, CONCURRENT):
            paid = await asyncio.gather(*(pay(i) for i in range(batch, batch + CONCURRENT)))
            expected_paid += sum(paid, Decimal(0))
        await skip_to(stack, local(day, 12))
    assert days[-1] > last_reminder_day

    async def all_sent() -> bool:
        return len(await sent_reminders(stack, invoice_id)) >= reminders

    await eventually(all_sent, within=60, what=f"{reminders} reminders")
    before_last = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert Decimal(before_last["amount_paid"]) == expected_paid, "every payment, to the cent"
    assert before_last["status"] == "overdue"

    # One more reminder would repeat a step: there is none, and none went out twice.
    sent = await sent_reminders(stack, invoice_id)
    assert steps_of(sent) == list(range(1, reminders + 1))
    offsets = [-3, 0, *range(1, REPEATS + 1)]
    assert [row["scheduled_for"] for row in sent] == [
        local_instant(due + timedelta(days=offset), 9, "Europe/Bucharest") for offset in offsets
    ]
    keys = [str(m["X-Q2C-Key"]) for m in stack.mail.messages if ":reminder:" in str(m["X-Q2C-Key"])]
    assert len(keys) == len(set(keys)) == reminders
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM tasks WHERE invoice_id = $1 AND kind = 'call_client'", invoice_id
        )
        == 1
    ), "the last step of the schedule hands over to a person"

    rest = Decimal(invoice["total"]) - expected_paid
    final = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": str(rest), "paid_at": "2028-02-01", "reference": "LL-LAST"},
    )
    assert final.json()["status"] == "paid" and final.json()["amount_due"] == "0.00"
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)
    counts = await stack.db.fetchrow(
        """SELECT count(*) AS n, count(DISTINCT reference) AS refs, sum(amount) AS total
           FROM payments WHERE invoice_id = $1""",
        invoice_id,
    )
    assert counts is not None
    assert (counts["n"], counts["refs"]) == (PAYMENTS + 1, PAYMENTS + 1)
    assert counts["total"] == Decimal(invoice["total"])

    runs = await run_histories(stack.env.client, handle.id)
    assert len(runs) >= 3, f"continued as new {len(runs) - 1} times"
    assert all(len(run.events) <= HISTORY_EVENTS_LIMIT + 100 for run in runs)
    for run in runs:
        await Replayer(workflows=[InvoiceWorkflow, ProposalWorkflow]).replay_workflow(run)


def has_patch_marker(history: WorkflowHistory) -> bool:
    """The run recorded `workflow.patched(PATCH_REMINDERS_V2)` as taken."""
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
            continue
        for payload in event.marker_recorded_event_attributes.details["patch-data"].payloads:
            if json.loads(payload.data)["id"] == PATCH_REMINDERS_V2:
                return True
    return False


async def test_a_run_from_before_the_patch_keeps_its_past_then_upgrades(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> None:
    """A deploy under a running invoice: the new worker replays the old run as it was
    recorded (no marker: the old behaviour), sends its next reminder the old way, and on the
    first request of a new kind (a re-plan) continues as new, on the new behaviour."""
    settings = Settings(
        database_url=database_url,
        temporal_address="unused",
        temporal_namespace=env.client.namespace,
        smtp_url=f"smtp://127.0.0.1:{mail.port}",
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        task_queue=f"q2c-deploy-{uuid.uuid4()}",
    )
    async with services_for(settings) as services:
        app = create_app(settings, pool=db, temporal=env.client)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=PUBLIC_URL,
                headers={"Authorization": f"Bearer {API_KEY}"},
            ) as api,
        ):
            stack = Stack(env, api, mail, db, settings, services, app)
            old_code = [ProposalWorkflow, invoice_workflow_v1.InvoiceWorkflow]
            async with Worker(
                env.client,
                task_queue=settings.task_queue,
                workflows=old_code,
                activities=activities_of(services),
                # No sticky queue: the test server would keep the next task on this worker's.
                max_cached_workflows=0,
            ):
                invoice = await issued_invoice(stack)
                invoice_id = invoice["id"]
                due = date.fromisoformat(invoice["due_date"])
                await skip_to(stack, local(due - timedelta(days=3), 12))
                assert steps_of(await wait_reminders(stack, invoice_id, 1)) == [1]

            async with build_test_worker(env.client, services, settings.task_queue):
                await skip_to(stack, local(due, 12))
                assert steps_of(await wait_reminders(stack, invoice_id, 2)) == [1, 2]
                new_due = due + timedelta(days=10)
                moved = await stack.api.patch(
                    f"/api/v1/invoices/{invoice_id}/schedule",
                    json={"due_date": new_due.isoformat()},
                )
                assert moved.status_code == 200, moved.text
                # The company schedule had steps 1-5: the new plan's are 6-10.
                assert [s["step"] for s in moved.json()["reminders"]["steps"]] == [6, 7, 8, 9, 10]

                async def upgraded() -> list[WorkflowHistory] | None:
                    runs = await run_histories(env.client, invoice_workflow_id(invoice_id))
                    return runs if len(runs) == 2 else None

                runs = await eventually(upgraded, what="the run to continue as new")
                await skip_to(stack, local(new_due - timedelta(days=2), 12))
                assert steps_of(await wait_reminders(stack, invoice_id, 3)) == [1, 2, 6]
                paid = await stack.api.post(
                    f"/api/v1/invoices/{invoice_id}/payments",
                    json={"amount": invoice["total"], "paid_at": "2027-01-02", "reference": "D"},
                )
                assert paid.json()["status"] == "paid"
                handle = env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
                assert await handle.result() == "paid"
                await release_time_skipping(env)

    runs = await run_histories(env.client, invoice_workflow_id(invoice_id))
    assert len(runs) == 2
    assert not has_patch_marker(runs[0]) and has_patch_marker(runs[1])
    for run in runs:
        await Replayer(workflows=[InvoiceWorkflow, ProposalWorkflow]).replay_workflow(run)
