"""Refunds: idempotent by their own reference, the status moved back as money and due date
say, over-payment credit given back first, and a paid invoice's ended run started again."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.refunds import RefundError, split_refund
from messages.models import invoice_workflow_id
from starter.cli.main import main
from tests.conftest import Stack, release_time_skipping
from tests.helpers import get_json, issued_invoice
from tests.test_reminders import (
    local,
    replay_and_record,
    run_histories,
    sent_reminders,
    skip_to,
    steps_of,
    wait_reminders,
)
from workflows.invoice import InvoiceWorkflow

D = Decimal


def split(amount: str, **given: str | bool) -> tuple[Decimal, Decimal, Decimal]:
    args: dict[str, Any] = {
        "payment_amount": D("100"),
        "payment_from_credit": False,
        "overpayment": D("0"),
        "refunded_from_invoice": D("0"),
        "refunded_from_credit": D("0"),
        "credit_balance": D("0"),
    }
    args |= {k: D(v) if isinstance(v, str) else v for k, v in given.items()}
    result = split_refund(D(amount), **args)
    return result.from_invoice, result.from_credit, result.to_credit


def test_a_refund_takes_back_unspent_overpayment_credit_first() -> None:
    # 120 paid on a 100 invoice: 20 became credit.
    over = {"payment_amount": "120", "overpayment": "20", "credit_balance": "20"}
    assert split("15", **over) == (D("0"), D("15"), D("0"))
    assert split("50", **over) == (D("30"), D("20"), D("0"))
    assert split("120", **over) == (D("100"), D("20"), D("0"))
    # 15 of the credit was spent on another invoice: only 5 of it can come back.
    spent = over | {"credit_balance": "5"}
    assert split("105", **spent) == (D("100"), D("5"), D("0"))
    with pytest.raises(RefundError, match="at most 105 of this payment"):
        split("106", **spent)
    # Earlier refunds of the same payment count.
    assert split("30", refunded_from_invoice="70") == (D("30"), D("0"), D("0"))
    with pytest.raises(RefundError, match="30 of this payment can still be refunded"):
        split("31", refunded_from_invoice="70")
    with pytest.raises(RefundError, match="refunded in full"):
        split("1", refunded_from_invoice="100")
    # A payment made from credit goes back to the credit.
    assert split("40", payment_from_credit=True) == (D("40"), D("0"), D("40"))
    with pytest.raises(RefundError, match=r"^amount:"):
        split("0")


async def test_partial_refunds_are_idempotent_and_move_the_status_back(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    refunds = f"/api/v1/invoices/{invoice_id}/refunds"
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "1000.00", "paid_at": "2026-12-01", "reference": "OP-1"},
    )
    assert paid.json()["status"] == "partially_paid"

    first = await stack.api.post(
        refunds, json={"payment_reference": "OP-1", "amount": "400.00", "reference": "RF-1"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["refund_recorded"] is True
    assert (first.json()["status"], first.json()["amount_paid"]) == ("partially_paid", "600.00")
    again = await stack.api.post(
        refunds, json={"payment_reference": "OP-1", "amount": "400.00", "reference": "RF-1"}
    )
    assert again.status_code == 200 and again.json()["refund_recorded"] is False
    assert again.json()["amount_paid"] == "600.00"

    rest = await stack.api.post(
        refunds, json={"payment_reference": "OP-1", "amount": "600.00", "reference": "RF-2"}
    )
    assert rest.status_code == 201, rest.text
    assert (rest.json()["status"], rest.json()["amount_due"]) == ("sent", "4114.00")

    for body, status, text in (
        ({"payment_reference": "OP-1", "amount": "0.01", "reference": "RF-3"}, 422, "in full"),
        ({"payment_reference": "NOPE", "amount": "1.00", "reference": "RF-4"}, 422, "NOPE"),
        ({"payment_reference": "OP-1", "amount": 1.0, "reference": "RF-5"}, 422, "decimal"),
        ({"payment_reference": "OP-1", "amount": "0.001", "reference": "RF-6"}, 422, "amount"),
    ):
        refused = await stack.api.post(refunds, json=body)
        assert refused.status_code == status and text in refused.text, refused.text
        # Every 422 answers in the shape the OpenAPI document declares: a list of errors.
        assert isinstance(refused.json()["detail"], list), refused.text

    listed = await get_json(stack, refunds)
    assert [(r["reference"], r["amount"], r["from_invoice"]) for r in listed["items"]] == [
        ("RF-1", "400.00", "400.00"),
        ("RF-2", "600.00", "600.00"),
    ]
    causes = await stack.db.fetch(
        """SELECT from_status, to_status, cause FROM invoice_status_changes
           WHERE invoice_id = $1 AND cause LIKE 'refund%' ORDER BY id""",
        invoice_id,
    )
    assert [tuple(row) for row in causes] == [("partially_paid", "sent", "refund RF-2")]
    audit = await stack.db.fetchval(
        "SELECT count(*) FROM audit_events WHERE invoice_id = $1 AND kind = 'refund'", invoice_id
    )
    assert audit == 2


async def test_a_refund_reopens_a_paid_invoice_whose_run_had_ended(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    due = date.fromisoformat(invoice["due_date"])
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "4114.00", "paid_at": "2026-12-01", "reference": "OP-ALL"},
    )
    assert paid.json()["status"] == "paid"
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)

    refund = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/refunds",
        json={"payment_reference": "OP-ALL", "amount": "114.00", "reference": "RF-BACK"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "partially_paid"
    assert refund.json()["amount_due"] == "114.00"
    runs = await run_histories(stack.env.client, handle.id)
    assert len(runs) == 1, "a new run, not a continuation of the ended one"
    description = await handle.describe()
    assert description.status is not None and description.status.name == "RUNNING"
    assert (await handle.query(InvoiceWorkflow.status)).amount_due == "114.00"

    # The open invoice is reminded again, with what is due now.
    await skip_to(stack, local(due - timedelta(days=3), 12))
    reminder = (await wait_reminders(stack, invoice_id, 1))[0]
    assert steps_of([reminder]) == [1] and "114,00" in reminder["subject"]
    settled = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "114.00", "paid_at": "2026-12-10", "reference": "OP-REST"},
    )
    assert settled.json()["status"] == "paid"
    assert await handle.result() == "paid"
    assert await stack.db.fetchval(
        "SELECT array_agg(to_status ORDER BY id) FROM invoice_status_changes WHERE invoice_id=$1",
        invoice_id,
    ) == ["awaiting_review", "sent", "paid", "partially_paid", "paid"]
    await replay_and_record(stack.env.client, handle.id, "refund-reopened")


async def test_refunds_of_an_overpayment_and_after_the_due_date(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    due = date.fromisoformat(invoice["due_date"])
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    refunds = f"/api/v1/invoices/{invoice_id}/refunds"
    over = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "4200.00", "paid_at": "2026-12-01", "reference": "OP-OVER"},
    )
    assert over.json()["status"] == "paid"
    assert await handle.result() == "paid"
    await release_time_skipping(stack.env)

    # The 86.00 over-paid comes back out of the credit: the invoice stays paid.
    excess = await stack.api.post(
        refunds, json={"payment_reference": "OP-OVER", "amount": "86.00", "reference": "RF-X"}
    )
    assert excess.status_code == 201, excess.text
    assert (excess.json()["status"], excess.json()["amount_paid"]) == ("paid", "4114.00")
    credit = await get_json(stack, f"/api/v1/clients/{invoice['client_id']}/credit")
    assert credit["balances"] == [{"currency": "RON", "amount": "0.00"}]
    assert [e["kind"] for e in credit["entries"]] == ["overpayment", "refunded"]
    # No release_time_skipping here: that works around the test server's bug with ABANDON
    # children, and a run the API starts for a refund is nobody's child.
    assert await handle.result() == "paid", "the run started for it ended again"

    # After the due date, money given back makes it overdue at once, with its task; the
    # reminders planned while it was paid are not sent late, the next one goes out.
    await skip_to(stack, local(due + timedelta(days=2), 12))
    late = await stack.api.post(
        refunds, json={"payment_reference": "OP-OVER", "amount": "100.00", "reference": "RF-Y"}
    )
    assert late.status_code == 201, late.text
    assert (late.json()["status"], late.json()["overdue"]) == ("overdue", True)
    assert late.json()["amount_due"] == "100.00"
    task = await stack.db.fetchrow(
        "SELECT * FROM tasks WHERE invoice_id = $1 AND kind = 'check_payment'", invoice_id
    )
    assert task is not None and task["done_at"] is None
    await skip_to(stack, local(due + timedelta(days=8), 12))
    assert steps_of(await wait_reminders(stack, invoice_id, 1)) == [3]
    plan = await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders")
    assert [s["state"] for s in plan["steps"]] == ["skipped", "skipped", "sent", "planned",
                                                  "planned"]  # fmt: skip
    listed = await get_json(stack, refunds)
    assert [(r["from_invoice"], r["from_credit"]) for r in listed["items"]] == [
        ("0.00", "86.00"),
        ("100.00", "0.00"),
    ]
    settled = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "100.00", "paid_at": "2026-12-30", "reference": "OP-AGAIN"},
    )
    assert settled.json()["status"] == "paid"
    assert await handle.result() == "paid"
    assert steps_of(await sent_reminders(stack, invoice_id)) == [3]


async def test_refunds_on_void_and_unissued_invoices(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "500.00", "paid_at": "2026-12-01", "reference": "OP-1"},
    )
    voided = await stack.api.post(f"/api/v1/invoices/{invoice_id}/void", json={"reason": "x"})
    assert voided.status_code == 202
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    assert await handle.result() == "void"
    await release_time_skipping(stack.env)
    back = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/refunds",
        json={"payment_reference": "OP-1", "amount": "500.00", "reference": "RF-VOID"},
    )
    assert back.status_code == 201, back.text
    assert (back.json()["status"], back.json()["amount_paid"]) == ("void", "0.00")
    assert await handle.result() == "void"

    draft = await stack.db.fetchrow(
        """INSERT INTO invoices (company_id, client_id, series, currency, payment_terms_days,
               subtotal, vat_total, total, status)
           SELECT company_id, client_id, 'INV', 'RON', 14, 1, 0, 1, 'awaiting_review'
           FROM invoices WHERE id = $1 RETURNING id""",
        invoice_id,
    )
    assert draft is not None
    refused = await stack.api.post(
        f"/api/v1/invoices/{draft['id']}/refunds",
        json={"payment_reference": "OP-1", "amount": "1.00", "reference": "RF-D"},
    )
    assert refused.status_code == 409 and "awaiting_review" in refused.json()["detail"]


async def test_cli_refund_pause_resume_reschedule(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI says what the API says: it only builds the requests and prints the answers."""
    invoice_id = "6f1c1e8a-3c1b-4a59-9a1e-2f0a8b7d1c11"
    base = {
        "id": invoice_id, "number": "INV-2026-00007", "status": "partially_paid",
        "amount_due": "114.00", "currency": "RON", "due_date": "2027-01-15",
    }  # fmt: skip
    plan = {
        "paused": False, "time_zone": "Europe/Chisinau", "steps": [
            {"step": 6, "offset_days": -3, "send_at": "2027-01-12T07:00:00+00:00",
             "state": "planned"}],
        "schedule": {"offsets_days": [-3, 0], "hour": 9, "repeat_every_days": 7,
                     "repeat_max": 2},
    }  # fmt: skip
    seen: list[tuple[str, str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.url.path.endswith("/refunds"):
            return httpx.Response(201, json=base | {"refund_recorded": True})
        if request.url.path.endswith("/schedule"):
            return httpx.Response(200, json=base | {"reminders": plan})
        return httpx.Response(202, json=base)

    monkeypatch.setenv("Q2C_API_KEY", "k")
    transport = httpx.MockTransport(answer)
    commands = [
        ["invoices", "refund", invoice_id, "114.00", "--payment", "OP-1", "--reference", "R-1"],
        ["invoices", "pause", invoice_id, "--reason", "dispute"],
        ["invoices", "resume", invoice_id],
        ["invoices", "reschedule", invoice_id, "--due", "2027-01-15", "--offsets=-3,0",
         "--repeat", "7", "2"],
        ["invoices", "reschedule", invoice_id, "--inherit"],
    ]  # fmt: skip
    for argv in commands:
        assert await asyncio.to_thread(main, argv, transport=transport) == 0, argv
    path = f"/api/v1/invoices/{invoice_id}"
    assert seen == [
        ("POST", f"{path}/refunds",
         {"payment_reference": "OP-1", "amount": "114.00", "reference": "R-1"}),
        ("POST", f"{path}/reminders/pause", {"reason": "dispute"}),
        ("POST", f"{path}/reminders/resume", {"reason": ""}),
        ("PATCH", f"{path}/schedule", {"due_date": "2027-01-15", "reminders": {
            "offsets_days": [-3, 0], "repeat_every_days": 7, "repeat_max": 2}}),
        ("PATCH", f"{path}/schedule", {"reminders": None}),
    ]  # fmt: skip
    printed = capsys.readouterr().out
    assert "refund R-1 of 114.00 (payment OP-1) recorded" in printed
    assert "days -3, +0 from the due date, then every 7 days at most 2 times" in printed
    assert "09:00 Europe/Chisinau" in printed
    nothing = await asyncio.to_thread(
        main, ["invoices", "reschedule", invoice_id], transport=transport
    )
    assert nothing == 1
