"""Invoice numbers are unique and gapless, even when approvals arrive all at once."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import asyncpg
from temporalio.client import WorkflowHandle

from db import store
from messages.models import (
    ApproveInvoice,
    InvoiceWorkflowInput,
    PaymentRequest,
    invoice_workflow_id,
)
from tests.conftest import Stack
from tests.helpers import create_client, eventually
from workflows.invoice import InvoiceWorkflow


async def _draft_invoices(stack: Stack, count: int) -> list[str]:
    """Drafts as a signature leaves them, one line each, straight in the database."""
    client_id = await create_client(stack)
    async with stack.db.acquire() as conn:
        company_id = await store.default_company_id(conn)
        ids = []
        for index in range(count):
            invoice_id = await conn.fetchval(
                """INSERT INTO invoices (company_id, client_id, series, currency,
                       payment_terms_days, subtotal, vat_total, total)
                   VALUES ($1, $2, 'INV', 'RON', 14, 100, 21, 121) RETURNING id""",
                company_id,
                client_id,
            )
            await conn.execute(
                """INSERT INTO invoice_lines (invoice_id, position, description, quantity,
                       unit_price, vat_rate, net_amount)
                   VALUES ($1, 1, $2, 1, 100, 21, 100)""",
                invoice_id,
                f"Serviciu {index}",
            )
            ids.append(str(invoice_id))
    return ids


async def test_fifty_concurrent_approvals_get_fifty_gapless_numbers(stack: Stack) -> None:
    invoice_ids = await _draft_invoices(stack, 50)
    handles = await asyncio.gather(
        *(
            stack.env.client.start_workflow(
                InvoiceWorkflow.run,
                InvoiceWorkflowInput(invoice_id),
                id=invoice_workflow_id(invoice_id),
                task_queue=stack.settings.task_queue,
            )
            for invoice_id in invoice_ids
        )
    )

    async def all_in(status: str) -> bool:
        count = await stack.db.fetchval("SELECT count(*) FROM invoices WHERE status = $1", status)
        return bool(count == len(invoice_ids))

    await eventually(lambda: all_in("awaiting_review"), within=120, what="50 drafts")
    await asyncio.gather(
        *(handle.signal(InvoiceWorkflow.approve, ApproveInvoice()) for handle in handles)
    )
    await eventually(lambda: all_in("sent"), within=180, what="50 sent invoices")

    numbers = [row["number"] for row in await stack.db.fetch("SELECT number FROM invoices")]
    sequence = sorted(int(re.fullmatch(r"INV-\d{4}-(\d{5})", n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert sequence == list(range(1, 51))
    assert len(stack.mail.messages) == 50


async def test_two_hundred_concurrent_numberings_across_two_series_are_gapless(
    stack: Stack,
) -> None:
    """Half the transactions roll back after taking a number: their numbers are reissued."""
    invoice_ids = await _draft_invoices(stack, 200)
    async with stack.db.acquire() as conn:
        company_id = await store.default_company_id(conn)
    rng = random.Random(7)
    plan = [(invoice_id, rng.choice(["A", "B"]), rng.random() < 0.5) for invoice_id in invoice_ids]

    async def approve(invoice_id: str, series: str, fail_first: bool) -> None:
        for attempt in range(2):
            try:
                async with stack.db.acquire() as conn, conn.transaction():
                    number = await store.assign_number(conn, company_id, "invoice", series, 2026)
                    await conn.execute(
                        "UPDATE invoices SET number = $2, series = $3 WHERE id = $1",
                        invoice_id,
                        number,
                        series,
                    )
                    if fail_first and attempt == 0:
                        raise RuntimeError("the approval fails after taking a number")
                return
            except RuntimeError:
                continue

    await asyncio.gather(*(approve(*step) for step in plan))
    for series in ("A", "B"):
        rows = await stack.db.fetch(
            "SELECT number FROM invoices WHERE series = $1 AND number IS NOT NULL", series
        )
        expected = sum(1 for _, chosen, _ in plan if chosen == series)
        assert sorted(row["number"] for row in rows) == [
            f"{series}-2026-{seq:05}" for seq in range(1, expected + 1)
        ]


async def test_a_number_is_never_given_twice(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        company_id = await store.default_company_id(conn)
        first = await store.assign_number(conn, company_id, "invoice", "X", 2026)
        second = await store.assign_number(conn, company_id, "invoice", "X", 2026)
    assert (first, second) == ("X-2026-00001", "X-2026-00002")


async def test_an_early_approval_and_payment_wait_for_the_invoice_instead_of_vanishing(
    stack: Stack,
) -> None:
    """The API reads the database, which can run a step ahead of the workflow's own copy."""
    (invoice_id,) = await _draft_invoices(stack, 1)
    handle = await stack.env.client.start_workflow(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(invoice_id),
        id=invoice_workflow_id(invoice_id),
        task_queue=stack.settings.task_queue,
    )
    await handle.signal(InvoiceWorkflow.approve, ApproveInvoice())
    await eventually(lambda: _approval_seen(handle), what="the approval to be taken")
    result = await handle.execute_update(
        InvoiceWorkflow.record_payment,
        PaymentRequest(amount="21.00", paid_at="2026-12-01", reference="EARLY-1"),
    )
    assert result.recorded and result.snapshot.status == "partially_paid"
    assert result.snapshot.number is not None and result.snapshot.amount_due == "100.00"


async def _approval_seen(handle: WorkflowHandle[Any, Any]) -> bool:
    # The payment must arrive while the approval is still in flight to test the window;
    # wait only until the workflow has the signal, not until it has acted on it.
    description = await handle.describe()
    return description.raw_description.workflow_execution_info.history_length > 3


async def test_yearly_reset_starts_each_year_at_one(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        company_id = await store.default_company_id(conn)
        await conn.execute(
            """INSERT INTO number_series (company_id, kind, series, reset_yearly)
               VALUES ($1, 'invoice', 'R', true)""",
            company_id,
        )
        numbers = [
            await store.assign_number(conn, company_id, "invoice", series, year)
            for series, year in (("R", 2026), ("R", 2026), ("R", 2027), ("K", 2026), ("K", 2027))
        ]
    assert numbers == [
        "R-2026-00001",
        "R-2026-00002",
        "R-2027-00001",
        "K-2026-00001",
        "K-2027-00002",
    ]


async def test_operators_set_the_series_forward_never_back(stack: Stack) -> None:
    path = "/api/v1/number-series/invoice/INV"
    moved = await stack.api.put(path, json={"next_seq": 100})
    assert moved.status_code == 200, moved.text
    assert moved.json()["next_number"].endswith("-00100")
    back = await stack.api.put(path, json={"next_seq": 99})
    assert back.status_code == 409 and "only move forward" in back.json()["detail"]
    no_year = await stack.api.put(path, json={"pattern": "F{seq:04}", "reset_yearly": True})
    assert no_year.status_code == 422 and "{year}" in no_year.json()["detail"][0]["msg"]
    no_seq = await stack.api.put(path, json={"pattern": "{series}-{year}"})
    assert no_seq.status_code == 422

    (invoice_id,) = await _draft_invoices(stack, 1)
    handle = await stack.env.client.start_workflow(
        InvoiceWorkflow.run,
        InvoiceWorkflowInput(invoice_id),
        id=invoice_workflow_id(invoice_id),
        task_queue=stack.settings.task_queue,
    )
    await handle.signal(InvoiceWorkflow.approve, ApproveInvoice())

    async def number() -> str | None:
        found = await stack.db.fetchval("SELECT number FROM invoices WHERE id = $1", invoice_id)
        return str(found) if found else None

    assert (await eventually(number, what="the number")).endswith("-00100")
    listed = (await stack.api.get("/api/v1/number-series")).json()["items"]
    assert [(s["series"], s["next_seq"]) for s in listed] == [("INV", 101)]
