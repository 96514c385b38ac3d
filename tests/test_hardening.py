"""The web edges hardened (issue 13, point 5): what reaches a PDF, an email, a page, a
number series and a log line is bounded and cannot be turned against the system."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from activities.mail import Mailer, OutgoingEmail, SmtpSettings
from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf
from domain.numbering import NumberingError, check_pattern_safe, format_number
from domain.safe_text import clean_body, single_line
from starter.api.schemas import ClientIn, CompanyPatch
from starter.devstack.mailsink import MailSink
from tests.conftest import Stack
from tests.helpers import eventually, pdf_text


class _Listener:
    """A local TCP socket that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_the_pdf_fetcher_reads_only_data_urls_and_the_templates_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text('body::after { content: "TOPSECRET" }', encoding="utf-8")
    listener = _Listener()
    try:
        html = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<link rel='stylesheet' href='{secret.as_uri()}'>"
            f"<link rel='stylesheet' href='http://127.0.0.1:{listener.port}/x.css'>"
            "</head><body><h1>Hello</h1>"
            f"<img src='http://127.0.0.1:{listener.port}/latest/meta-data'>"
            "<img src='http://169.254.169.254/latest/meta-data/'>"
            "<img src='file:///etc/passwd'>"
            "</body></html>"
        )
        text = pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES)))
        text_override = pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES), str(tmp_path)))
    finally:
        listener.close()
    assert "Hello" in text and "Hello" in text_override
    # A file outside the templates folder is not read, even inside the override folder's
    # parent; a local socket sees no connection.
    assert "TOPSECRET" not in text
    assert listener.connections == 0


def test_a_file_in_the_override_folder_is_still_fetched(tmp_path: Path) -> None:
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "extra.css").write_text(
        'h1::after { content: " OVERRIDDEN" }', encoding="utf-8"
    )
    html = (
        "<!doctype html><html><head>"
        f"<link rel='stylesheet' href='{(tmp_path / 'pdf' / 'extra.css').as_uri()}'>"
        "</head><body><h1>Hello</h1></body></html>"
    )
    assert "OVERRIDDEN" in pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES), str(tmp_path)))
    assert "OVERRIDDEN" not in pdf_text(write_pdf(html, str(BUILTIN_TEMPLATES)))


def test_names_lose_their_control_characters() -> None:
    assert single_line("Acme SRL\r\nBcc: victim@example.com") == "Acme SRL Bcc: victim@example.com"
    assert single_line("\tA\x00B\x1b[31mC\u2028D\x85E  ") == "A B [31mC D E"
    assert clean_body("Line 1\r\nLine 2\rLine 3\x00\x07\tend") == "Line 1\nLine 2\nLine 3\tend"


def test_client_and_company_names_are_stripped_where_they_enter() -> None:
    client = ClientIn.model_validate(
        {"name": "Evil\r\nBcc: x@evil.test", "email": "a@b.ro", "country": "RO"}
    )
    assert client.name == "Evil Bcc: x@evil.test"
    assert CompanyPatch.model_validate({"name": "Firma\nX-Hdr: 1"}).name == "Firma X-Hdr: 1"
    with pytest.raises(ValidationError) as refused:
        ClientIn.model_validate({"name": "\r\n", "email": "a@b.ro", "country": "RO"})
    assert refused.value.errors()[0]["loc"] == ("name",)


async def test_a_crlf_in_a_subject_adds_no_header(db: asyncpg.Pool, mail: MailSink) -> None:
    mailer = Mailer(SmtpSettings.from_url(mail.url), "q2c <invoices@q2c.test>")
    email = OutgoingEmail(
        idempotency_key="test:injection:1",
        kind="test",
        to_address="client@exemplu.ro",
        subject="Factura pentru Evil SRL\r\nBcc: victim@evil.test\r\nX-Injected: yes",
        body_text="Stimate Evil SRL\r\nBcc: victim@evil.test\x00\x1b",
        attachments=(),
    )
    async with db.acquire() as conn:
        await mailer.enqueue(conn, email)
    try:
        assert await mailer.deliver(db, email.idempotency_key)
        await eventually(lambda: _received(mail, 1), what="the message")
    finally:
        await mailer.close()
    message = mail.messages[0]
    assert message["Subject"] == "Factura pentru Evil SRL Bcc: victim@evil.test X-Injected: yes"
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert mail.envelopes[0].rcpt_tos == ["client@exemplu.ro"]
    body = message.get_content()
    assert "\x00" not in body and "\x1b" not in body and "Stimate Evil SRL" in body


async def _received(sink: MailSink, count: int) -> bool:
    return len(sink.messages) >= count


@pytest.mark.parametrize(
    "pattern", ["{series}-{year}-{seq:05}", "{series}/{year}/{seq:04}", "F{seq}", "A_B.{seq:012}"]
)
def test_safe_number_patterns_are_accepted(pattern: str) -> None:
    check_pattern_safe(pattern)
    assert len(format_number(pattern, "S" * 20, 2026, 10**12 - 1)) <= 64


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("INV\r\nBcc: x {seq}", "only letters, digits"),
        ("<script>{seq}", "only letters, digits"),
        ("F {seq}", "only letters, digits"),
        ("{seq:013}", "from 1 to 12"),
        ("{seq:0}", "from 1 to 12"),
        ("{seq:>40}", "from 1 to 12"),
        ("{seq:12}", "from 1 to 12"),
        ("{seq}{seq}", "once"),
        ("{year:>30}{seq}", "no format"),
        ("{seq!r}", "no conversion"),
        ("X" * 25 + "{seq}", "at most 24"),
    ],
)
def test_unsafe_number_patterns_are_refused(pattern: str, says: str) -> None:
    with pytest.raises(NumberingError, match=r"^pattern: ") as refused:
        check_pattern_safe(pattern)
    assert says in str(refused.value)


async def test_the_series_api_refuses_an_unsafe_pattern_naming_the_field(stack: Stack) -> None:
    path = "/api/v1/number-series/invoice/INV"
    for pattern in ("INV\r\n{seq}", "{series}-{seq:040}", "{series}%{seq}"):
        refused = await stack.api.put(path, json={"pattern": pattern})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith("pattern: ")
    fine = await stack.api.put(path, json={"pattern": "{series}/{year}/{seq:06}"})
    assert fine.status_code == 200, fine.text
