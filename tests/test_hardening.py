"""The web edges hardened (issue 13, point 5): what reaches a PDF, an email, a page, a
number series and a log line is bounded and cannot be turned against the system."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError
from pypdf import PdfReader
from temporalio.testing import WorkflowEnvironment

from activities.mail import Mailer, OutgoingEmail, SmtpSettings
from activities.pdf_engine import BUILTIN_TEMPLATES, write_pdf
from domain.link_policy import certificate_events, link_shows_document, visitor_key
from domain.numbering import NumberingError, check_pattern_safe, format_number
from domain.safe_text import clean_body, single_line
from starter.api.schemas import ClientIn, CompanyPatch, EsignSignatureIn
from starter.devstack.mailsink import MailSink
from tests.conftest import PUBLIC_URL, Stack, stack_on
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_replay import record, replayer


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


def test_names_with_control_characters_are_refused_where_they_enter() -> None:
    """A CR/LF in a name would be a header injection in an email: refused at the door (the
    mailer strips control characters again from whatever reaches it)."""
    for model, field, data in (
        (
            ClientIn,
            "name",
            {"name": "Evil\r\nBcc: x@evil.test", "email": "a@b.ro", "country": "RO"},
        ),
        (CompanyPatch, "name", {"name": "Firma\nX-Hdr: 1"}),
        (
            EsignSignatureIn,
            "signer_name",
            {
                "id": "evt-1",
                "proposal_id": "00000000-0000-0000-0000-000000000001",
                "signer_name": "Ana\r\nBcc: x@evil.test",
                "signer_email": "ana@exemplu.ro",
                "signed_at": "2026-12-01T10:00:00+00:00",
                "document_sha256": "0" * 64,
            },
        ),
    ):
        with pytest.raises(ValidationError) as refused:
            model.model_validate(data)
        assert refused.value.errors()[0]["loc"] == (field,)


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
        assert refused.json()["detail"][0]["loc"] == ["body", "pattern"], refused.text
    fine = await stack.api.put(path, json={"pattern": "{series}/{year}/{seq:06}"})
    assert fine.status_code == 200, fine.text


SECURITY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def _assert_private(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, f"{what}: {name}"
    policy = headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, what


async def test_the_invoice_page_and_its_pdf_send_the_signing_pages_headers(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    message = await stack.mail.wait_for(lambda m: invoice["number"] in str(m["Subject"]))
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(PUBLIC_URL) + r"(/i/[A-Za-z0-9_\-]+)", body.get_content())
    assert found
    page = await stack.api.get(found.group(1))
    assert page.status_code == 200
    _assert_private(page, "the invoice page")
    pdf = await stack.api.get(f"{found.group(1)}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    _assert_private(pdf, "the invoice PDF")
    guessed = await stack.api.get("/i/" + "x" * 43)
    assert guessed.status_code == 404
    _assert_private(guessed, "an unknown invoice link")


async def test_a_signing_link_stops_showing_the_proposal_days_after_it_closed(
    stack: Stack,
) -> None:
    await create_proposal(stack, await create_client(stack))
    _, path = await proposal_email(stack)
    declined = await stack.api.post(f"{path}/decline", data={"reason": "too dear"})
    assert declined.status_code == 200
    proposal_id = await stack.db.fetchval(
        "SELECT proposal_id FROM access_tokens WHERE token_hash = encode(sha256($1::bytea), 'hex')",
        path.rsplit("/", 1)[1].encode(),
    )

    async def declined_now() -> bool:
        proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return bool(proposal["status"] == "declined")

    await eventually(declined_now, what="the declined proposal")
    # Within the days after closing, the link still shows the proposal and its PDF.
    assert (await stack.api.get(path)).status_code == 200
    assert (await stack.api.get(f"{path}/document.pdf")).status_code == 200
    days = stack.settings.sign_link_days_after_close
    await stack.db.execute(
        "UPDATE proposals SET declined_at = declined_at - make_interval(days => $2) WHERE id = $1",
        proposal_id,
        days + 1,
    )
    for url in (path, f"{path}/document.pdf", f"{path}/signed.pdf"):
        gone = await stack.api.get(url)
        assert gone.status_code == 410, url
        assert gone.headers["content-type"].startswith("text/html")
        assert "Această ofertă este închisă" in gone.text
        assert "Consultanță juridică" not in gone.text
        _assert_private(gone, url)
    answered = await stack.api.post(path, data={"signer_name": "Ana", "consent": "yes"})
    assert answered.status_code == 410
    views = await stack.db.fetchval(
        "SELECT count(*) FROM audit_events WHERE proposal_id = $1 AND kind = 'viewed'",
        proposal_id,
    )
    assert views == 1, "a closed link's loads are not views of the proposal"


async def _proposal_id_of(stack: Stack, path: str) -> str:
    return str(
        await stack.db.fetchval(
            "SELECT proposal_id FROM access_tokens"
            " WHERE token_hash = encode(sha256($1::bytea), 'hex')",
            path.rsplit("/", 1)[1].encode(),
        )
    )


@pytest.fixture
async def unthrottled(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> AsyncIterator[Stack]:
    """A stack without the per-IP page limit: these tests reload a page hundreds of times
    from one address, which the limit (tests/test_web_edges.py) would answer with 429."""
    async with stack_on(env, db, mail, database_url, rate_limit_pages="") as running:
        yield running


async def test_500_loads_leave_a_bounded_audit_trail_and_certificate(unthrottled: Stack) -> None:
    stack = unthrottled
    await create_proposal(stack, await create_client(stack))
    _, path = await proposal_email(stack)
    proposal_id = await _proposal_id_of(stack, path)
    original = await stack.api.get(f"{path}/document.pdf")
    original_pages = len(PdfReader(io.BytesIO(original.content)).pages)

    # One visitor reloading: one view an hour.
    for _ in range(250):
        page = await stack.api.get(path, headers={"User-Agent": "reloader/1"})
        assert page.status_code == 200
    # Visitors made up by rotating the user agent: a bounded number of views an hour.
    for n in range(250):
        page = await stack.api.get(path, headers={"User-Agent": f"bot/{n}"})
        assert page.status_code == 200
    views = await stack.db.fetch(
        "SELECT user_agent, data FROM audit_events WHERE proposal_id = $1 AND kind = 'viewed'"
        " ORDER BY id",
        proposal_id,
    )
    assert [v["user_agent"] for v in views].count("reloader/1") == 1
    assert len(views) == 20
    events = await stack.db.fetchval(
        "SELECT count(*) FROM events WHERE type = 'proposal.viewed' AND proposal_id = $1",
        proposal_id,
    )
    assert events == 1, "the proposal.viewed event once per proposal, as before"

    await sign_and_get_invoice(stack, path)

    async def signed_pdf() -> bytes | None:
        response = await stack.api.get(f"{path}/signed.pdf")
        return response.content if response.status_code == 200 else None

    signed = await eventually(signed_pdf, what="the signed PDF")
    certificate_pages = len(PdfReader(io.BytesIO(signed)).pages) - original_pages
    text = pdf_text(signed)
    assert certificate_pages <= 2, f"a certificate of {certificate_pages} pages"
    assert "reloader/1" in text and "bot/0" in text
    assert "bot/18" not in text, "views past the first ten are counted, not listed"
    assert "încă 10 vizualizări" in text


async def test_reloads_of_the_invoice_page_record_one_view(unthrottled: Stack) -> None:
    stack = unthrottled
    invoice = await issued_invoice(stack)
    message = await stack.mail.wait_for(lambda m: invoice["number"] in str(m["Subject"]))
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(PUBLIC_URL) + r"(/i/[A-Za-z0-9_\-]+)", body.get_content())
    assert found
    for _ in range(100):
        assert (await stack.api.get(found.group(1))).status_code == 200
    views = await stack.db.fetchval(
        "SELECT count(*) FROM audit_events WHERE invoice_id = $1 AND kind = 'viewed'",
        invoice["id"],
    )
    assert views == 1


def test_a_certificate_lists_every_event_but_the_views_past_the_first_ones() -> None:
    kinds = ["created", "sent"] + ["viewed"] * 500 + ["signed"]
    shown, more = certificate_events(kinds, views=10)
    assert [kinds[i] for i in shown] == ["created", "sent"] + ["viewed"] * 10 + ["signed"]
    assert more == 490
    assert certificate_events(["viewed", "signed"], views=10) == ([0, 1], 0)


def test_link_policy_helpers() -> None:
    closed = datetime(2026, 1, 1, tzinfo=UTC)
    assert link_shows_document(None, closed + timedelta(days=999), 30)
    assert link_shows_document(closed, closed + timedelta(days=29), 30)
    assert not link_shows_document(closed, closed + timedelta(days=30), 30)
    assert visitor_key("203.0.113.7", "a") != visitor_key("203.0.113.7", "b")
    assert len(visitor_key("2001:db8::1", "x" * 10_000)) < 100


# A template that cannot render: StrictUndefined refuses the unknown name on every try.
BROKEN_TEMPLATE = "<p>{{ no_such_value.field }}</p>"


@pytest.fixture
def template_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's template folder (Q2C_TEMPLATES_DIR), set before the stack starts."""
    folder = tmp_path / "templates"
    (folder / "pdf").mkdir(parents=True)
    monkeypatch.setenv("Q2C_TEMPLATES_DIR", str(folder))
    return folder


async def _render_tasks(stack: Stack, invoice_id: str) -> list[dict[str, object]]:
    items = (await get_json(stack, f"/api/v1/tasks?invoice_id={invoice_id}"))["items"]
    return [task for task in items if task["kind"] == "render_failed"]


async def _render_failures(stack: Stack, invoice_id: str) -> int:
    return int(
        await stack.db.fetchval(
            "SELECT count(*) FROM audit_events WHERE invoice_id = $1 AND kind = 'render_failed'",
            invoice_id,
        )
    )


async def test_a_draft_that_keeps_failing_to_render_opens_a_task(
    template_folder: Path, stack: Stack
) -> None:
    broken = template_folder / "pdf" / "invoice.ro.html"
    broken.write_text(BROKEN_TEMPLATE, encoding="utf-8")
    await create_proposal(stack, await create_client(stack))
    _, path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, path)

    async def task_opened() -> list[dict[str, object]] | None:
        return await _render_tasks(stack, invoice_id) or None

    (task,) = await eventually(task_opened, within=90, what="the render task")
    assert "draft PDF" in str(task["title"]) and "no_such_value" in str(task["title"])
    invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert invoice["status"] == "awaiting_review" and invoice["number"] is None
    handle = stack.env.client.get_workflow_handle(f"invoice-{invoice_id}")
    assert (await handle.describe()).close_time is None, "the workflow waits, it did not fail"

    # Approved while the template is still broken: tried again, the one task stays.
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202

    async def failed_twice() -> bool:
        return await _render_failures(stack, invoice_id) >= 2

    await eventually(failed_twice, within=90, what="the second failed render")
    assert len(await _render_tasks(stack, invoice_id)) == 1
    invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert invoice["status"] == "awaiting_review" and invoice["number"] is None

    # The template fixed, the approval goes through.
    broken.unlink()
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    message = await stack.mail.wait_for(lambda m: sent["number"] in str(m["Subject"]))
    assert message is not None

    # The run replays on the current code (Q2C_RECORD_HISTORIES=1 keeps it for later ones).
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    record([history])


async def test_a_final_pdf_that_keeps_failing_keeps_the_invoice_in_review(
    template_folder: Path, stack: Stack
) -> None:
    # The folder's copy of the template renders the draft; then it breaks (Jinja reloads a
    # changed file, not one that appears in front of a template it has cached).
    broken = template_folder / "pdf" / "invoice.ro.html"
    broken.write_bytes((BUILTIN_TEMPLATES / "pdf" / "invoice.ro.html").read_bytes())
    await create_proposal(stack, await create_client(stack))
    _, path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    broken.write_text(BROKEN_TEMPLATE, encoding="utf-8")
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202

    async def task_opened() -> list[dict[str, object]] | None:
        return await _render_tasks(stack, invoice_id) or None

    (task,) = await eventually(task_opened, within=90, what="the render task")
    assert "final PDF" in str(task["title"])
    invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    number = invoice["number"]
    assert invoice["status"] == "awaiting_review" and number, "numbered, still in review"

    broken.unlink()
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    assert sent["number"] == number, "the number it got is kept"


async def test_an_edit_whose_draft_keeps_failing_is_kept_and_opens_a_task(
    template_folder: Path, stack: Stack
) -> None:
    broken = template_folder / "pdf" / "invoice.ro.html"
    broken.write_bytes((BUILTIN_TEMPLATES / "pdf" / "invoice.ro.html").read_bytes())
    await create_proposal(stack, await create_client(stack))
    _, path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    broken.write_text(BROKEN_TEMPLATE, encoding="utf-8")

    edited = await stack.api.patch(
        f"/api/v1/invoices/{invoice_id}", json={"notes": "Plata în 10 zile"}
    )
    assert edited.status_code == 200, edited.text
    (task,) = await _render_tasks(stack, invoice_id)
    assert "draft PDF" in str(task["title"])
    edits = await stack.db.fetchval(
        "SELECT count(*) FROM audit_events WHERE invoice_id = $1 AND kind = 'edited'", invoice_id
    )
    assert edits <= 5, "each retry edits again: the retries are bounded"

    broken.unlink()
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    assert sent["notes"] == "Plata în 10 zile", "the edit was kept"


PROPOSAL_LAYOUTS = ("proposal.html", "proposal.ro.html", "proposal.en.html", "proposal.ru.html")


async def _proposal_render_tasks(stack: Stack, proposal_id: str) -> list[asyncpg.Record]:
    return list(
        await stack.db.fetch(
            "SELECT * FROM tasks WHERE proposal_id = $1 AND kind = 'render_failed'", proposal_id
        )
    )


async def test_a_proposal_pdf_that_keeps_failing_goes_back_to_draft_with_a_task(
    template_folder: Path, stack: Stack
) -> None:
    for name in PROPOSAL_LAYOUTS:
        (template_folder / "pdf" / name).write_text(BROKEN_TEMPLATE, encoding="utf-8")
    proposal = await create_proposal(stack, await create_client(stack))
    proposal_id = proposal["id"]

    async def task_opened() -> list[asyncpg.Record] | None:
        return await _proposal_render_tasks(stack, proposal_id) or None

    (task,) = await eventually(task_opened, within=90, what="the proposal's render task")
    assert "could not be rendered" in task["title"] and "no_such_value" in task["title"]
    assert "send it again" in task["title"]
    announced = await stack.db.fetchval(
        "SELECT count(*) FROM events WHERE type = 'task.created' AND dedupe_key = $1",
        f"task.created:{task['id']}",
    )
    assert announced == 1, "subscribers hear of the task as of an invoice's"
    handle = stack.env.client.get_workflow_handle(f"proposal-{proposal_id}")
    # The run ends right after the task's step (on a busy machine, a moment after the task).
    await asyncio.wait_for(handle.result(), timeout=30)
    failed_run = await handle.describe()
    assert failed_run.status is not None and failed_run.status.name == "COMPLETED"
    shown = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    assert shown["status"] == "draft", "nothing reached the client: a draft again"
    assert stack.mail.messages == [], "no email, no signing link"
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM access_tokens WHERE proposal_id = $1", proposal_id
        )
        == 0
    )

    # The template fixed, sending it again goes through; the one task stays one.
    for name in PROPOSAL_LAYOUTS:
        (template_folder / "pdf" / name).unlink()
    sent = await stack.api.post(f"/api/v1/proposals/{proposal_id}/send")
    assert sent.status_code == 200, sent.text
    message, sign_path = await proposal_email(stack)
    assert sign_path and message is not None
    assert (await get_json(stack, f"/api/v1/proposals/{proposal_id}"))["status"] == "sent"
    assert len(await _proposal_render_tasks(stack, proposal_id)) == 1

    # The failed run replays on the current code (Q2C_RECORD_HISTORIES=1 keeps it).
    history = await stack.env.client.get_workflow_handle(
        f"proposal-{proposal_id}", run_id=failed_run.run_id
    ).fetch_history()
    await replayer().replay_workflow(history)
    record([history])


async def test_a_signed_copy_that_keeps_failing_opens_a_task_and_stays_signed(
    template_folder: Path, stack: Stack
) -> None:
    (template_folder / "pdf" / "certificate.html").write_text(BROKEN_TEMPLATE, encoding="utf-8")
    proposal = await create_proposal(stack, await create_client(stack))
    proposal_id = proposal["id"]
    _, path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, path)

    async def task_opened() -> list[asyncpg.Record] | None:
        return await _proposal_render_tasks(stack, proposal_id) or None

    (task,) = await eventually(task_opened, within=90, what="the signed copy's render task")
    assert "signed copy" in task["title"] and "no_such_value" in task["title"]
    handle = stack.env.client.get_workflow_handle(f"proposal-{proposal_id}")

    async def completed() -> bool:
        described = await handle.describe()
        return described.status is not None and described.status.name == "COMPLETED"

    await eventually(completed, within=60, what="the proposal's workflow to finish")
    shown = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    assert shown["status"] == "signed" and shown["invoice_id"] == invoice_id
    await wait_invoice_status(stack, invoice_id, "awaiting_review")

    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    record([history])


CREDIT_NOTE_LAYOUTS = (
    "credit_note.html",
    "credit_note.ro.html",
    "credit_note.en.html",
    "credit_note.ru.html",
)


async def test_a_credit_note_that_keeps_failing_to_render_opens_a_task(
    template_folder: Path, stack: Stack
) -> None:
    for name in CREDIT_NOTE_LAYOUTS:
        (template_folder / "pdf" / name).write_text(BROKEN_TEMPLATE, encoding="utf-8")
    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    voided = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/void", json={"reason": "Anulată la cererea clientului"}
    )
    assert voided.status_code == 202, voided.text

    async def task_opened() -> list[dict[str, object]] | None:
        return await _render_tasks(stack, invoice_id) or None

    (task,) = await eventually(task_opened, within=90, what="the credit note's render task")
    assert "credit note" in str(task["title"]) and "no_such_value" in str(task["title"])
    handle = stack.env.client.get_workflow_handle(f"invoice-{invoice_id}")

    async def completed() -> bool:
        described = await handle.describe()
        return described.status is not None and described.status.name == "COMPLETED"

    await eventually(completed, within=60, what="the invoice's workflow to finish")
    assert (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["status"] == "void"
    note = await stack.db.fetchrow("SELECT * FROM credit_notes WHERE invoice_id = $1", invoice_id)
    assert note is not None and note["number"], "numbered and kept"
    assert note["document_key"] is None
    assert not [m for m in stack.mail.messages if note["number"] in str(m["Subject"])]

    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    record([history])
