"""Operator tasks: by hand through the API and CLI, and the invoice's own automatic ones."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from uuid import uuid4

import httpx
import pytest

from starter.cli.main import main
from tests.conftest import Stack
from tests.helpers import eventually, get_json, issued_invoice
from tests.test_reminders import local, skip_to


async def test_automatic_tasks_open_with_the_schedule_and_close_when_paid(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    due = date.fromisoformat(invoice["due_date"])
    manual = await stack.api.post(
        "/api/v1/tasks",
        json={"title": "Send the signed contract", "invoice_id": invoice["id"], "assignee": "ana"},
    )
    assert manual.status_code == 201 and manual.json()["client_id"] == invoice["client_id"]
    elsewhere = await stack.api.post(
        "/api/v1/tasks",
        json={"title": "x", "invoice_id": invoice["id"], "client_id": str(uuid4())},
    )
    # Refused as every 422 is: a list naming the field, as the OpenAPI document declares.
    assert elsewhere.status_code == 422, elsewhere.text
    assert elsewhere.json()["detail"][0]["loc"] == ["body", "client_id"], elsewhere.text

    await skip_to(stack, local(due + timedelta(days=30), 12))

    async def auto_tasks() -> list[dict[str, object]] | None:
        tasks = (await get_json(stack, f"/api/v1/tasks?invoice_id={invoice['id']}"))["items"]
        kinds = sorted(str(task["kind"]) for task in tasks)
        return tasks if kinds == ["call_client", "check_payment", "manual"] else None

    tasks = await eventually(auto_tasks, what="check-payment and call-client tasks")
    call = next(task for task in tasks if task["kind"] == "call_client")
    assert invoice["number"] in str(call["title"]) and call["due_date"] == str(
        due + timedelta(days=30)
    )

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": invoice["total"], "paid_at": "2026-12-30", "reference": "LATE-1"},
    )
    assert paid.json()["status"] == "paid"
    still_open = (await get_json(stack, f"/api/v1/tasks?invoice_id={invoice['id']}"))["items"]
    assert [task["title"] for task in still_open] == ["Send the signed contract"]
    done = await stack.api.post(f"/api/v1/tasks/{manual.json()['id']}/done")
    assert done.status_code == 200 and done.json()["done"] is True
    assert (await get_json(stack, f"/api/v1/tasks?invoice_id={invoice['id']}"))["items"] == []
    every = await get_json(stack, f"/api/v1/tasks?invoice_id={invoice['id']}&done=true")
    assert len(every["items"]) == 3


async def test_bad_task_requests(stack: Stack) -> None:
    missing = await stack.api.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/done")
    assert missing.status_code == 404
    empty = await stack.api.post("/api/v1/tasks", json={"title": ""})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "title"]
    unknown_invoice = await stack.api.post(
        "/api/v1/tasks",
        json={"title": "x", "invoice_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert unknown_invoice.status_code == 404


async def test_cli_lists_and_closes_tasks(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await stack.api.post("/api/v1/tasks", json={"title": "Call the notary"})
    task_id = created.json()["id"]
    listing = (await stack.api.get("/api/v1/tasks?done=false")).json()
    closed = (await stack.api.post(f"/api/v1/tasks/{task_id}/done")).json()
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=closed if request.method == "POST" else listing)

    monkeypatch.setenv("Q2C_API_KEY", "k")
    transport = httpx.MockTransport(answer)
    assert await asyncio.to_thread(main, ["tasks", "list"], transport=transport) == 0
    assert await asyncio.to_thread(main, ["tasks", "done", task_id], transport=transport) == 0
    printed = capsys.readouterr().out
    assert "Call the notary" in printed and f"task {task_id}: Call the notary (done)" in printed
    assert seen == ["GET /api/v1/tasks", f"POST /api/v1/tasks/{task_id}/done"]
