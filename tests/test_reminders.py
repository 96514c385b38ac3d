"""Forty-five days of an invoice's life in seconds, on the time-skipping test server."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import Stack, release_time_skipping
from tests.helpers import eventually, get_json, issued_invoice
from workflows.invoice import InvoiceWorkflow
from workflows.shared import invoice_workflow_id

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
