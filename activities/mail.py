"""Email through an outbox: a row per message first, then SMTP, then the row marked sent.

The row's unique idempotency key (document, kind, step) means a retried activity finds
the message already sent and sends nothing. A message SMTP accepted whose commit failed (the
database restarted in between: `make chaos` found it) is recorded as sent on a fresh
connection before anything can retry it. What remains is a worker killed in the instant
between SMTP's acceptance and the commit; the Message-ID is derived from the key, so that
rare second copy carries the same Message-ID as the first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlparse

import aiosmtplib
import asyncpg

from activities import metrics
from db import outbox
from db.connection import ConnectionLost
from db.rows import EmailOutboxRow
from db.store import Connection
from domain.safe_text import clean_body, single_line


@dataclass(frozen=True)
class Attachment:
    document_key: str
    filename: str


@dataclass(frozen=True)
class OutgoingEmail:
    idempotency_key: str
    kind: str
    to_address: str
    subject: str
    body_text: str
    attachments: tuple[Attachment, ...] = ()
    proposal_id: str | None = None
    invoice_id: str | None = None
    scheduled_for: datetime | None = None


def message_id_for(idempotency_key: str) -> str:
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@q2c>"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """smtp://[user:pass@]host:port (STARTTLS when offered) or smtps:// (implicit TLS)."""
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {url!r}")
        implicit_tls = parsed.scheme == "smtps"
        return cls(
            host=parsed.hostname or "localhost",
            port=parsed.port or (465 if implicit_tls else 25),
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            use_tls=implicit_tls,
            start_tls=not implicit_tls and "starttls=false" not in parsed.query,
        )


class SmtpSessions:
    """SMTP sessions kept open between messages, so a burst (a morning's reminders) pays
    the connection, greeting and EHLO once per session instead of once per message.

    A session serves one message at a time. One the server has closed meanwhile (idle
    timeout, restart) is noticed before use and replaced; one that fails during a send is
    dropped, and the error goes to the caller (the activity retries with the outbox's
    guarantees, as before). Sessions idle longer than `max_idle_seconds` are closed rather
    than reused, since servers drop idle clients (Postfix after 300 s).
    """

    def __init__(self, smtp: SmtpSettings, keep: int = 16, max_idle_seconds: float = 30.0) -> None:
        self._smtp = smtp
        self._keep = keep
        self._max_idle = max_idle_seconds
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

    async def send(self, message: EmailMessage) -> None:
        session = await self._take()
        try:
            await session.send_message(message)
        except BaseException:
            session.close()
            raise
        self._give_back(session)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, session in idle:
            await _quit(session)

    async def _take(self) -> aiosmtplib.SMTP:
        now = time.monotonic()
        while self._idle:
            since, session = self._idle.pop()
            if session.is_connected and now - since < self._max_idle:
                return session
            await _quit(session)
        session = aiosmtplib.SMTP(
            hostname=self._smtp.host,
            port=self._smtp.port,
            username=self._smtp.username,
            password=self._smtp.password,
            use_tls=self._smtp.use_tls,
            start_tls=None if self._smtp.start_tls else False,
            timeout=30,
        )
        await session.connect()
        return session

    def _give_back(self, session: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._keep and session.is_connected:
            self._idle.append((time.monotonic(), session))
        else:
            session.close()


async def _quit(session: aiosmtplib.SMTP) -> None:
    if not session.is_connected:
        session.close()
        return
    try:
        await session.quit()
    except (aiosmtplib.SMTPException, OSError):
        session.close()


# How long a message SMTP accepted is retried to be recorded as sent while the database is
# away (a restart takes seconds): below the steps' timeout (workflows.steps.STEP_TIMEOUT),
# so no second attempt of the same step starts meanwhile.
RECORD_SENT_WINDOW_SECONDS = 75.0


async def _record_sent(pool: asyncpg.Pool, row: EmailOutboxRow) -> None:
    deadline = time.monotonic() + RECORD_SENT_WINDOW_SECONDS
    pause = 0.25
    while True:
        try:
            async with pool.acquire() as conn:
                await outbox.mark_sent(conn, row.id)
            return
        except ConnectionLost:
            if time.monotonic() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


class Mailer:
    def __init__(self, smtp: SmtpSettings, mail_from: str) -> None:
        self._smtp = smtp
        self._mail_from = mail_from
        self._sessions = SmtpSessions(smtp)

    async def close(self) -> None:
        await self._sessions.close()

    async def enqueue(self, conn: Connection, email: OutgoingEmail) -> str:
        """Store the message unless a message with its key exists; return its key."""
        await outbox.enqueue(
            conn,
            idempotency_key=email.idempotency_key,
            message_id=message_id_for(email.idempotency_key),
            kind=email.kind,
            proposal_id=email.proposal_id,
            invoice_id=email.invoice_id,
            to_address=single_line(email.to_address),
            # Names (client, company, signer) reach subjects and bodies through templates:
            # a CR/LF in one must not add a header or a line the sender did not write.
            subject=single_line(email.subject),
            body_text=clean_body(email.body_text),
            attachments=[
                {"key": a.document_key, "filename": single_line(a.filename)}
                for a in email.attachments
            ],
            scheduled_for=email.scheduled_for,
        )
        return email.idempotency_key

    async def deliver(self, pool: asyncpg.Pool, idempotency_key: str) -> bool:
        """Send the stored message once; True if this call sent it."""
        async with pool.acquire() as conn:
            return await self.deliver_on(conn, idempotency_key, pool=pool)

    async def deliver_on(
        self, conn: Connection, idempotency_key: str, *, pool: asyncpg.Pool | None = None
    ) -> bool:
        """`deliver` on a connection the caller holds (outside a transaction). With `pool`,
        a message SMTP accepted is recorded as sent even when `conn` is lost meanwhile."""
        accepted: EmailOutboxRow | None = None
        try:
            async with conn.transaction():
                # Counting the attempt takes the row lock, which keeps two concurrent
                # attempts from both sending: the second waits, then finds the message sent.
                row = await outbox.claim_attempt(conn, idempotency_key)
                if row is None:
                    if await outbox.is_queued(conn, idempotency_key):
                        return False
                    raise LookupError(f"no outbox message {idempotency_key}")
                try:
                    await self._sessions.send(await self._build(conn, row))
                except (aiosmtplib.SMTPException, OSError):
                    metrics.EMAILS_FAILED.labels(row.kind).inc()
                    raise
                accepted = row
                await outbox.mark_sent(conn, row.id)
        except Exception:
            # The message went out but its row was not marked (the database restarted or the
            # connection dropped between SMTP's acceptance and the commit): a retry would
            # send it again, so the fact is recorded on a fresh connection first.
            if accepted is None or pool is None:
                raise
            await _record_sent(pool, accepted)
        metrics.EMAILS_SENT.labels(accepted.kind).inc()
        return True

    async def _build(self, conn: Connection, row: EmailOutboxRow) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._mail_from
        # Again here, for messages queued before names were cleaned on the way in.
        message["To"] = single_line(row.to_address)
        message["Subject"] = single_line(row.subject)
        message["Message-ID"] = row.message_id
        message["Date"] = format_datetime(row.created_at)
        message["X-Q2C-Key"] = row.idempotency_key
        message.set_content(clean_body(row.body_text))
        for attachment in json.loads(row.attachments):
            content = await outbox.attachment_content(conn, attachment["key"])
            if content is None:
                raise LookupError(f"no document {attachment['key']} to attach")
            message.add_attachment(
                content,
                maintype="application",
                subtype="pdf",
                filename=single_line(attachment["filename"]),
            )
        return message
