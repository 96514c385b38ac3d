"""Forty-five days of an invoice's life in seconds, on the time-skipping test server."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.invoices import InvoiceActivities
from domain.i18n import format_day, format_money
from messages.models import ReminderInput, invoice_workflow_id
from tests.conftest import Stack, release_time_skipping
from tests.helpers import (
    SIGN_LINK,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    sign_and_get_invoice,
    wait_invoice_status,
)
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

HISTORIES = Path(__file__).parent / "histories"

BUCHAREST = ZoneInfo("Europe/Bucharest")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUCHAREST).astimezone(UTC)


async def skip_to(stack: Stack, moment: datetime) -> None:
    now = await stack.env.get_current_time()
    assert moment > now, f"cannot skip back to {moment} from {now}"
    await stack.env.sleep(moment - now)


async def reminder_days(stack: Stack, invoice_id: str) -> list[date]:
    rows = await stack.db.fetch(
        """SELECT scheduled_for FROM email_outbox
           WHERE invoice_id = $1 AND kind = 'reminder' AND status = 'sent'
           ORDER BY scheduled_for""",
        invoice_id,
    )
    return [row["scheduled_for"].astimezone(BUCHAREST).date() for row in rows]


async def test_reminders_overdue_and_nothing_after_payment(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id, number = invoice["id"], invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    issued_on = date.fromisoformat(invoice["issue_date"])
    assert due == issued_on + timedelta(days=14)
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))

    async def status() -> str:
        return (await handle.query(InvoiceWorkflow.status)).status

    async def reminders_reach(count: int) -> list[date]:
        async def probe() -> list[date] | None:
            found = await reminder_days(stack, invoice_id)
            return found if len(found) >= count else None

        return await eventually(probe, what=f"{count} reminders")

    await skip_to(stack, local(due - timedelta(days=3), 9, 30))
    assert await reminders_reach(1) == [due - timedelta(days=3)]

    await skip_to(stack, local(due, 23, 30))
    assert await reminders_reach(2) == [due - timedelta(days=3), due]
    assert await status() == "sent", "not overdue on the due date itself"

    await skip_to(stack, local(due + timedelta(days=1), 0, 30))
    await eventually(lambda: _is(status, "overdue"), what="overdue")
    task = await stack.db.fetchrow("SELECT * FROM tasks WHERE invoice_id = $1", invoice_id)
    assert task is not None and task["kind"] == "check_payment" and number in task["title"]

    await skip_to(stack, local(due + timedelta(days=8), 12))
    assert await reminders_reach(3) == [
        due - timedelta(days=3),
        due,
        due + timedelta(days=7),
    ]
    partial = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "114.00", "paid_at": "2026-12-20", "reference": "OP-1"},
    )
    assert partial.status_code == 201
    assert partial.json()["status"] == "overdue", "partly paid and overdue stays overdue"
    assert partial.json()["amount_due"] == "4000.00"

    await skip_to(stack, local(due + timedelta(days=14), 12))
    assert (await reminders_reach(4))[-1] == due + timedelta(days=14)
    fourth = stack.mail.messages[-1]
    assert number in str(fourth["Subject"]) and "4.000,00" in str(fourth["Subject"])
    fourth_body = fourth.get_body(("plain",))
    assert fourth_body is not None and "http://q2c.test/i/" in fourth_body.get_content()

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "4000.00", "paid_at": "2026-12-27", "reference": "OP-2"},
    )
    assert paid.json()["status"] == "paid"
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)
    assert (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["amount_due"] == "0.00"

    await skip_to(stack, local(issued_on + timedelta(days=45), 12))
    assert len(await reminder_days(stack, invoice_id)) == 4, "no reminder after payment"
    reminder_mails = [m for m in stack.mail.messages if ":reminder:" in str(m["X-Q2C-Key"])]
    assert len(reminder_mails) == 4
    assert await stack.db.fetchval(
        "SELECT done_at IS NOT NULL FROM tasks WHERE invoice_id = $1", invoice_id
    ), "the automatic task closed itself when the invoice was paid"


async def test_void_stops_everything(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    voided = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/void", json={"reason": "issued by mistake"}
    )
    assert voided.status_code == 202
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "void"
    await release_time_skipping(stack.env)
    after = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert after["status"] == "void" and after["number"] == invoice["number"]
    await skip_to(stack, local(date.fromisoformat(invoice["due_date"]) + timedelta(days=40), 12))
    assert await reminder_days(stack, invoice_id) == []
    refused = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "1.00", "paid_at": "2026-12-20", "reference": "late"},
    )
    assert refused.status_code == 409


async def _is(probe: object, expected: str) -> bool:
    assert callable(probe)
    return bool(await probe() == expected)


# --- schedules per client and invoice, the client's time zone, pause, re-planning ----------

TOKYO = ZoneInfo("Asia/Tokyo")


def at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


async def issue_for_client(stack: Stack, client_id: str, email: str) -> dict[str, Any]:
    """A proposal for an existing client, signed and its invoice approved and emailed."""
    await create_proposal(stack, client_id)

    def signing(message: EmailMessage) -> bool:
        body = message.get_body(("plain",))
        return message["To"] == email and body is not None and "/sign/" in body.get_content()

    message = await stack.mail.wait_for(signing, timeout=20)
    body = message.get_body(("plain",))
    assert body is not None
    match = SIGN_LINK.search(body.get_content())
    assert match
    invoice_id = await sign_and_get_invoice(stack, match.group(1))
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    return await wait_invoice_status(stack, invoice_id, "sent")


async def sent_reminders(stack: Stack, invoice_id: str) -> list[asyncpg.Record]:
    return list(
        await stack.db.fetch(
            """SELECT idempotency_key, scheduled_for, subject, body_text FROM email_outbox
               WHERE invoice_id = $1 AND kind = 'reminder' AND status = 'sent'
               ORDER BY scheduled_for""",
            invoice_id,
        )
    )


async def wait_reminders(stack: Stack, invoice_id: str, count: int) -> list[asyncpg.Record]:
    async def probe() -> list[asyncpg.Record] | None:
        found = await sent_reminders(stack, invoice_id)
        return found if len(found) >= count else None

    return await eventually(probe, what=f"{count} reminders")


def steps_of(rows: list[asyncpg.Record]) -> list[int]:
    return [int(row["idempotency_key"].rsplit(":", 1)[1]) for row in rows]


async def test_client_schedule_time_zone_pause_and_replanning(stack: Stack) -> None:
    email = "buh@primer.ru"
    client_id = await create_client(stack, email=email, locale="ru", name="Пример ООО")
    settings = await stack.api.put(
        f"/api/v1/clients/{client_id}/reminders",
        json={"time_zone": "Asia/Tokyo", "offsets_days": [-3, 0, 7], "hour": 10,
              "repeat_every_days": 10, "repeat_max": 3},
    )  # fmt: skip
    assert settings.status_code == 200, settings.text
    assert settings.json()["in_force"] == {
        "offsets_days": [-3, 0, 7], "hour": 10, "repeat_every_days": 10, "repeat_max": 3,
        "time_zone": "Asia/Tokyo",
    }  # fmt: skip
    invoice = await issue_for_client(stack, client_id, email)
    invoice_id, number = invoice["id"], invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    plan = await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders")
    assert plan["time_zone"] == "Asia/Tokyo" and plan["own_schedule"] is None
    assert [(s["step"], s["offset_days"], s["state"]) for s in plan["steps"]] == [
        (1, -3, "planned"), (2, 0, "planned"), (3, 7, "planned"),
        (4, 17, "planned"), (5, 27, "planned"), (6, 37, "planned"),
    ]  # fmt: skip

    # 10:00 in Tokyo, the client's zone: 01:00 UTC, 03:00 in Bucharest, the company's.
    await skip_to(stack, local(due - timedelta(days=3), 12))
    first = (await wait_reminders(stack, invoice_id, 1))[0]
    assert first["scheduled_for"] == at(due - timedelta(days=3), 10, TOKYO)
    amount = format_money(Decimal("4114.00"), "RON", "ru")
    assert first["subject"] == (
        f"Напоминание: счёт {number}, {amount}, срок {format_day(due, 'ru')}"
    )
    assert "Здравствуйте, Пример ООО!" in first["body_text"]
    assert "http://q2c.test/i/" in first["body_text"]

    await skip_to(stack, local(due - timedelta(days=2), 12))
    paused = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/reminders/pause", json={"reason": "client disputes"}
    )
    assert paused.status_code == 202, paused.text
    await eventually(lambda: _reminders_paused(stack, invoice_id, True), what="paused")
    # Paused over the due day: no reminder; overdue all the same, the next local midnight.
    await skip_to(stack, local(due + timedelta(days=1), 12))
    await eventually(lambda: _status_is(stack, invoice_id, "overdue"), what="overdue")
    assert steps_of(await sent_reminders(stack, invoice_id)) == [1]

    # Resumed from the Temporal UI: a signal with no input.
    await handle.signal("resume_reminders")
    await eventually(lambda: _reminders_paused(stack, invoice_id, False), what="resumed")
    plan = await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders")
    assert [s["state"] for s in plan["steps"][:3]] == ["sent", "skipped", "planned"]

    await skip_to(stack, local(due + timedelta(days=8), 12))
    third = (await wait_reminders(stack, invoice_id, 2))[-1]
    assert steps_of([third]) == [3] and third["subject"].startswith("Просрочен: ")
    partial = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "114.00", "paid_at": "2026-12-20", "reference": "PP-1"},
    )
    assert partial.json()["status"] == "overdue"

    # The client gets 30 more days: no longer overdue, the reminders planned again.
    new_due = due + timedelta(days=30)
    await skip_to(stack, local(due + timedelta(days=10), 12))
    moved = await stack.api.patch(
        f"/api/v1/invoices/{invoice_id}/schedule", json={"due_date": new_due.isoformat()}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["status"], moved.json()["overdue"]) == ("partially_paid", False)
    assert moved.json()["due_date"] == new_due.isoformat()
    replanned = moved.json()["reminders"]
    assert [(s["step"], s["offset_days"], s["state"]) for s in replanned["steps"]] == [
        (7, -3, "planned"), (8, 0, "planned"), (9, 7, "planned"),
        (10, 17, "planned"), (11, 27, "planned"), (12, 37, "planned"),
    ]  # fmt: skip
    cause = await stack.db.fetchval(
        """SELECT cause FROM invoice_status_changes
           WHERE invoice_id = $1 AND from_status = 'overdue' AND to_status = 'partially_paid'""",
        invoice_id,
    )
    assert cause == f"due date moved to {new_due.isoformat()}"
    assert await stack.db.fetchval(
        "SELECT done_at IS NOT NULL FROM tasks WHERE invoice_id = $1 AND kind = 'check_payment'",
        invoice_id,
    ), "the check-payment task closed with the overdue status"

    await skip_to(stack, local(due + timedelta(days=28), 12))
    seventh = (await wait_reminders(stack, invoice_id, 3))[-1]
    assert steps_of([seventh]) == [7]
    assert seventh["scheduled_for"] == at(new_due - timedelta(days=3), 10, TOKYO)
    rest = format_money(Decimal("4000.00"), "RON", "ru")
    assert seventh["subject"] == (
        f"Напоминание: счёт {number}, {rest}, срок {format_day(new_due, 'ru')}"
    )

    # This invoice's own schedule: the due day at 16:00 and five days later, no repeat.
    own = await stack.api.patch(
        f"/api/v1/invoices/{invoice_id}/schedule",
        json={"reminders": {"offsets_days": [5, 0], "hour": 16, "repeat_every_days": 0,
                            "repeat_max": 0}},
    )  # fmt: skip
    assert own.status_code == 200, own.text
    assert own.json()["reminders"]["own_schedule"] == {
        "offsets_days": [0, 5], "hour": 16, "repeat_every_days": 0, "repeat_max": 0,
    }  # fmt: skip
    assert [s["step"] for s in own.json()["reminders"]["steps"]] == [13, 14]
    await skip_to(stack, local(new_due + timedelta(days=1), 12))
    thirteenth = (await wait_reminders(stack, invoice_id, 4))[-1]
    assert steps_of([thirteenth]) == [13]
    assert thirteenth["scheduled_for"] == at(new_due, 16, TOKYO)
    await eventually(lambda: _status_is(stack, invoice_id, "overdue"), what="overdue again")
    task = await stack.db.fetchrow(
        "SELECT * FROM tasks WHERE invoice_id = $1 AND kind = 'check_payment'", invoice_id
    )
    assert task is not None and task["done_at"] is None, "the task opened again"

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "4000.00", "paid_at": "2027-01-30", "reference": "PP-2"},
    )
    assert paid.json()["status"] == "paid"
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)
    # The invoice's whole life, 120 days from its issue: nothing more after the payment.
    await skip_to(stack, local(date.fromisoformat(invoice["issue_date"]) + timedelta(days=120), 12))
    assert steps_of(await sent_reminders(stack, invoice_id)) == [1, 3, 7, 13]
    keys = [str(m["X-Q2C-Key"]) for m in stack.mail.messages if ":reminder:" in str(m["X-Q2C-Key"])]
    assert sorted(keys) == sorted(f"invoice:{invoice_id}:reminder:{n}" for n in (1, 3, 7, 13))
    assert await stack.db.fetchval(
        "SELECT array_agg(to_status ORDER BY id) FROM invoice_status_changes WHERE invoice_id=$1",
        invoice_id,
    ) == ["awaiting_review", "sent", "overdue", "partially_paid", "overdue", "paid"]
    events = await stack.db.fetchval(
        """SELECT array_agg(kind ORDER BY id) FROM audit_events WHERE invoice_id = $1
           AND kind IN ('reminders_paused', 'reminders_resumed', 'rescheduled')""",
        invoice_id,
    )
    assert events == ["reminders_paused", "reminders_resumed", "rescheduled", "rescheduled"]
    await replay_and_record(stack.env.client, handle.id, "reminders-pause-reschedule")


async def test_refusals_name_the_field_or_the_status(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    path = f"/api/v1/invoices/{invoice_id}/schedule"
    bad_hour = await stack.api.patch(path, json={"reminders": {"hour": 24}})
    assert bad_hour.status_code == 422 and bad_hour.json()["detail"][0]["loc"][-1] == "hour"
    half_repeat = await stack.api.patch(path, json={"reminders": {"repeat_every_days": 3}})
    assert half_repeat.status_code == 422 and "repeat_max" in half_repeat.text
    far = await stack.api.patch(path, json={"reminders": {"offsets_days": [-3, 500]}})
    assert far.status_code == 422 and "offsets_days[1]" in far.text
    floats = await stack.api.patch(path, json={"reminders": {"offsets_days": [1.5]}})
    assert floats.status_code == 422
    early = await stack.api.patch(path, json={"due_date": "2000-01-01"})
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "due_date"]
    zone = await stack.api.put(
        f"/api/v1/clients/{invoice['client_id']}/reminders", json={"time_zone": "Mars/Base"}
    )
    assert zone.status_code == 422 and zone.json()["detail"][0]["loc"][-1] == "time_zone"

    # An own schedule, then `null`: the client's (here the company's) applies again.
    own = await stack.api.patch(path, json={"reminders": {"offsets_days": [1]}})
    assert own.json()["reminders"]["schedule"]["offsets_days"] == [1]
    dropped = await stack.api.patch(path, json={"reminders": None})
    assert dropped.json()["reminders"]["own_schedule"] is None
    assert dropped.json()["reminders"]["schedule"]["offsets_days"] == [-3, 0, 7, 14, 30]
    assert [s["step"] for s in dropped.json()["reminders"]["steps"]] == [7, 8, 9, 10, 11]

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": invoice["total"], "paid_at": "2026-12-01", "reference": "ALL"},
    )
    assert paid.json()["status"] == "paid"
    for action in ("reminders/pause", "reminders/resume"):
        refused = await stack.api.post(f"/api/v1/invoices/{invoice_id}/{action}")
        assert refused.status_code == 409 and "this one is paid" in refused.json()["detail"]
    late = await stack.api.patch(path, json={"due_date": "2027-06-01"})
    assert late.status_code == 409 and "this one is paid" in late.json()["detail"]
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)


async def test_a_reminder_send_killed_midway_is_finished_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox row is written, then the worker dies before SMTP: the retried activity
    sends it; further retries send nothing."""
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    due = date.fromisoformat(invoice["due_date"])
    activities = InvoiceActivities(stack.services)
    reminder = ReminderInput(invoice_id, 1, local(due - timedelta(days=3), 9))

    async def killed(*_: object, **__: object) -> bool:
        raise ConnectionResetError("worker killed mid-send")

    monkeypatch.setattr(stack.services.mailer, "deliver_on", killed)
    with pytest.raises(ConnectionResetError):
        await ActivityEnvironment().run(activities.send_reminder, reminder)
    monkeypatch.undo()
    assert (
        await stack.db.fetchval(
            "SELECT status FROM email_outbox WHERE idempotency_key = $1",
            f"invoice:{invoice_id}:reminder:1",
        )
        == "pending"
    )
    for _ in range(3):
        await ActivityEnvironment().run(activities.send_reminder, reminder)
    await eventually(lambda: _mails_with_key(stack, f"invoice:{invoice_id}:reminder:1", 1))
    await asyncio.sleep(0.3)
    assert await _mails_with_key(stack, f"invoice:{invoice_id}:reminder:1", 1)


async def _mails_with_key(stack: Stack, key: str, count: int) -> bool:
    return len([m for m in stack.mail.messages if m["X-Q2C-Key"] == key]) == count


async def _reminders_paused(stack: Stack, invoice_id: str, paused: bool) -> bool:
    plan = await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders")
    return bool(plan["paused"] == paused)


async def _status_is(stack: Stack, invoice_id: str, status: str) -> bool:
    invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    return bool(invoice["status"] == status)


async def run_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow id, first to last: back from the latest through each run's
    "continued from" link (continue-as-new)."""
    run_id: str | None = (await client.get_workflow_handle(workflow_id).describe()).run_id
    chain: list[WorkflowHistory] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        chain.insert(0, history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return chain


async def replay_and_record(client: Client, workflow_id: str, name: str) -> None:
    """Replay every run of the workflow on the current code; with Q2C_RECORD_HISTORIES=1
    keep them in tests/histories/ for the replay test of later versions."""
    chain = await run_histories(client, workflow_id)
    for history in chain:
        await Replayer(workflows=[InvoiceWorkflow, ProposalWorkflow]).replay_workflow(history)
    if os.environ.get("Q2C_RECORD_HISTORIES"):
        for index, history in enumerate(chain, start=1):
            suffix = f"-run{index}" if len(chain) > 1 else ""
            path = HISTORIES / f"invoice-v2-{name}{suffix}-{len(history.events)}.json"
            path.write_text(history.to_json())
