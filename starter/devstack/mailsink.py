"""A local SMTP server that keeps every message.

The dev stack's mailbox (`.q2c/mail/*.eml`) and the tests' real SMTP peer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope


class Envelope(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]


class _Controller(Controller):
    """aiosmtpd's Controller, but port 0 binds a free port and `port` then tells which."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server) and self.server.sockets:
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


class MailSink:
    def __init__(self, mail_dir: Path | None, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.mail_dir = mail_dir
        self.host = host
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        # The client's (host, port) per message: one SMTP session per distinct peer.
        self.peers: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._received = 0  # never reset, so .eml names stay unique across clear()
        self._controller = _Controller(self, hostname=host, port=port)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.peers.clear()

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        """aiosmtpd handler hook (runs on the controller's thread)."""
        raw = envelope.original_content or b""
        message = BytesParser(_class=EmailMessage, policy=default_policy).parsebytes(raw)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(Envelope(envelope.mail_from or "", list(envelope.rcpt_tos)))
            host, port = session.peer[:2] if isinstance(session.peer, tuple) else ("", 0)
            self.peers.append((str(host), int(port)))
            self._received += 1
            n = self._received
        if self.mail_dir is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            (self.mail_dir / f"{stamp}-{n}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"

    async def wait_for(
        self,
        predicate: Callable[[EmailMessage], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> EmailMessage:
        """The first message (already received or arriving within `timeout`) that matches."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                received = list(self.messages)
            for message in received:
                if predicate(message):
                    return message
            if loop.time() >= deadline:
                subjects = [str(m.get("Subject", "")) for m in received]
                raise TimeoutError(
                    f"no matching email within {timeout}s; {len(received)} received, "
                    f"subjects: {subjects!r}"
                )
            await asyncio.sleep(0.05)
