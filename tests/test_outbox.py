"""Email goes out once per outbox key, whatever retries and races happen around it."""

from __future__ import annotations

import asyncio
import socket

import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from temporalio.testing import ActivityEnvironment

from activities.mail import Mailer, OutgoingEmail, SmtpSettings
from activities.proposals import ProposalActivities
from db import outbox
from messages.models import ProposalRef
from starter.devstack.mailsink import MailSink
from tests.conftest import Stack
from tests.helpers import create_client, create_proposal, eventually, proposal_email


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


async def test_messages_share_an_smtp_session_and_one_the_server_dropped_is_replaced(
    db: asyncpg.Pool,
) -> None:
    first_server = MailSink(None, port=0)
    first_server.start()
    mailer = Mailer(SmtpSettings.from_url(first_server.url), "q2c <invoices@q2c.test>")

    async def send(n: int) -> bool:
        email = OutgoingEmail(f"test:session:{n}", "test", "a@exemplu.ro", f"Nr {n}", "Salut")
        async with db.acquire() as conn:
            await mailer.enqueue(conn, email)
        return await mailer.deliver(db, email.idempotency_key)

    try:
        assert [await send(n) for n in range(3)] == [True] * 3
        await eventually(lambda: _received(first_server, 3), what="three messages")
        assert len(set(first_server.peers)) == 1, "one session carried all three"
        port = first_server.port
    finally:
        first_server.stop()

    # The server went away (a restart): the kept session is dead; the next message opens a
    # new one instead of failing.
    second_server = MailSink(None, port=port)
    second_server.start()
    try:
        assert await send(3) is True
        message = await second_server.wait_for(lambda m: m["Subject"] == "Nr 3")
        assert message["X-Q2C-Key"] == "test:session:3"
        assert second_server.peers[0] not in first_server.peers
    finally:
        await mailer.close()
        second_server.stop()


async def _received(server: MailSink, count: int) -> bool:
    return len(server.messages) == count


class _DropsTheDatabaseOnAccept:
    """An SMTP peer that, while accepting a message, has PostgreSQL end the connection the
    sender holds (as a database restart would), then answers 250."""

    def __init__(self, owner_pool: asyncpg.Pool, loop: asyncio.AbstractEventLoop) -> None:
        self.owner_pool, self.loop = owner_pool, loop
        self.victim_pid = 0
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        ended = asyncio.run_coroutine_threadsafe(
            self.owner_pool.fetchval("SELECT pg_terminate_backend($1)", self.victim_pid),
            self.loop,
        )
        assert await asyncio.wrap_future(ended) is True
        self.accepted.append(envelope.original_content or b"")
        return "250 OK"


async def test_a_message_accepted_while_the_database_restarts_is_recorded_and_not_resent(
    db: asyncpg.Pool, owner_pool: asyncpg.Pool
) -> None:
    # make chaos found it: the commit after SMTP's 250 failed, the row stayed pending and the
    # retry sent the invoice a second time.
    peer = _DropsTheDatabaseOnAccept(owner_pool, asyncio.get_running_loop())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(peer, hostname="127.0.0.1", port=port)
    controller.start()
    mailer = Mailer(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}"), "q2c <invoices@q2c.test>")
    email = OutgoingEmail("test:db-restart:1", "test", "a@exemplu.ro", "Once", "Salut")
    try:
        async with db.acquire() as conn:
            await mailer.enqueue(conn, email)
            peer.victim_pid = conn.get_server_pid()
            assert await mailer.deliver_on(conn, email.idempotency_key, pool=db) is True
        assert len(peer.accepted) == 1
        status = await db.fetchval(
            "SELECT status FROM email_outbox WHERE idempotency_key = $1", email.idempotency_key
        )
        assert status == "sent"
        # The step's retry (as after any failure later in the activity) sends nothing.
        assert await mailer.deliver(db, email.idempotency_key) is False
        assert len(peer.accepted) == 1
    finally:
        await mailer.close()
        controller.stop()


async def test_the_backlog_reads_pending_emails_by_their_index(db: asyncpg.Pool) -> None:
    """The metrics ask for the backlog every few seconds: it must not scan every email
    ever sent (db.outbox.backlog, the partial index on pending rows)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch("EXPLAIN " + outbox.BACKLOG_SQL))
    assert "email_outbox_pending_idx" in plan, plan
