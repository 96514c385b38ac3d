"""Email goes out once per outbox key, whatever retries and races happen around it."""

from __future__ import annotations

import asyncio

from temporalio.testing import ActivityEnvironment

from activities.mail import OutgoingEmail
from activities.proposals import ProposalActivities
from tests.conftest import Stack
from tests.helpers import create_client, create_proposal, eventually, proposal_email
from workflows.shared import ProposalRef


async def test_a_retried_email_activity_sends_no_second_email(stack: Stack) -> None:
    proposal = await create_proposal(stack, await create_client(stack))
    first, _ = await proposal_email(stack)

    # What Temporal does when an activity's completion is lost: run it again, same input.
    activities = ProposalActivities(stack.services)
    sent = await ActivityEnvironment().run(activities.send_proposal, ProposalRef(proposal["id"]))
    assert sent.status == "sent"
    await asyncio.sleep(0.5)
    assert len(stack.mail.messages) == 1
    row = await stack.db.fetchrow(
        "SELECT * FROM email_outbox WHERE proposal_id = $1", proposal["id"]
    )
    assert row is not None and row["attempts"] == 1 and row["status"] == "sent"
    assert first["Message-ID"] == row["message_id"]
    tokens = await stack.db.fetchval(
        "SELECT count(*) FROM access_tokens WHERE proposal_id = $1", proposal["id"]
    )
    assert tokens == 1, "the retry made no second signing link"


async def test_concurrent_deliveries_of_one_message_send_it_once(stack: Stack) -> None:
    mailer, pool = stack.services.mailer, stack.db
    email = OutgoingEmail(
        idempotency_key="test:concurrent:1",
        kind="test",
        to_address="someone@exemplu.ro",
        subject="Once only",
        body_text="Hello",
    )
    async with pool.acquire() as conn:
        await mailer.enqueue(conn, email)
        await mailer.enqueue(conn, email)
    results = await asyncio.gather(*(mailer.deliver(pool, email.idempotency_key) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    await eventually(lambda: _count(stack, "Once only", 1), what="the message")
    await asyncio.sleep(0.3)
    assert len([m for m in stack.mail.messages if m["Subject"] == "Once only"]) == 1


async def _count(stack: Stack, subject: str, expected: int) -> bool:
    return len([m for m in stack.mail.messages if m["Subject"] == subject]) == expected
