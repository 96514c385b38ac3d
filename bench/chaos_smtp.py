"""The chaos run's SMTP peer, a process of its own so that it can be taken away (connections
refused) and brought back on the same port:

    python -m bench.chaos_smtp PORT LOG

Every accepted message is appended to LOG as one JSON line (when, Message-ID, X-Q2C-Key,
To, Subject, the plain-text body) before the 250 reply, so the log holds every message the
sender was told was delivered; the judge counts duplicates from it. Attachments are not kept.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import IO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

TEXT_KEPT = 4000


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    if body is None:
        return ""
    try:
        return str(body.get_content())[:TEXT_KEPT]
    except (LookupError, ValueError):
        return ""


def record(raw: bytes, at: float) -> dict[str, object]:
    """What the log keeps of one accepted message."""
    message = message_from_bytes(raw, _class=EmailMessage, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return {
        "at": at,
        "message_id": str(message.get("Message-ID", "")),
        "key": str(message.get("X-Q2C-Key", "")),
        "to": str(message.get("To", "")),
        "subject": str(message.get("Subject", "")),
        "text": plain_text(message),
    }


class LoggingPeer:
    def __init__(self, log: IO[str]) -> None:
        self._log = log
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        line = json.dumps(record(envelope.original_content or b"", time.time()))
        with self._lock:
            self._log.write(line + "\n")
            self._log.flush()
        return "250 accepted"


def main(argv: list[str]) -> int:
    port, log_path = int(argv[0]), Path(argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with log_path.open("a", encoding="utf-8") as log:
        controller = Controller(LoggingPeer(log), hostname="127.0.0.1", port=port)
        controller.start()
        print(f"smtp peer listening on {port}", flush=True)
        stop.wait()
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
