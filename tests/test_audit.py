"""The evidence of a signature: the hash-chained audit trail and the signed PDF."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader

from activities.documents import DocumentRenderer
from domain.audit import (
    AuditDataError,
    AuditEvent,
    event_hash,
    normalise_data,
    utc_timestamp,
    verify_chain,
)
from domain.certificate_i18n import certificate_labels, event_label
from messages.models import proposal_workflow_id
from tests.conftest import Stack
from tests.helpers import (
    CLIENT,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    invoice_of_proposal,
    pdf_text,
    proposal_email,
)
from workflows.proposal import ProposalWorkflow

SCRIPT = "<script>alert(1)</script>"
CLIENT_IP = "203.0.113.7"


# --- the hash chain, as pure functions ---------------------------------------------------


def _chain(*events: AuditEvent) -> list[dict[str, Any]]:
    rows, prev = [], ""
    for number, event in enumerate(events, start=1):
        digest = event_hash(event, prev)
        rows.append(
            {
                "id": number,
                "proposal_id": event.proposal_id,
                "invoice_id": event.invoice_id,
                "kind": event.kind,
                "actor": event.actor,
                "occurred_at": event.occurred_at,
                "ip": event.ip,
                "user_agent": event.user_agent,
                # As asyncpg returns jsonb: text, with the keys in jsonb's own order.
                "data": json.dumps(dict(reversed(list(normalise_data(event.data).items())))),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def test_chain_verifies_and_pinpoints_an_altered_or_missing_event() -> None:
    at = datetime(2026, 11, 23, 12, 0, 0, 42, tzinfo=UTC)
    doc = "0b7e6a0c-55a4-4c36-9d0e-6d1c0f1f3a11"
    rows = _chain(
        AuditEvent("sent", "system", at, proposal_id=doc),
        AuditEvent("viewed", "client", at, proposal_id=doc, ip="198.51.100.1", data={"first": 1}),
        AuditEvent("signed", "Ana", at, proposal_id=doc, data={"b": "2", "a": "1", "n": [1, 2]}),
    )
    assert verify_chain(rows) == (True, None)
    assert verify_chain([]) == (True, None)

    altered = [dict(row) for row in rows]
    altered[1]["ip"] = "198.51.100.2"
    assert verify_chain(altered) == (False, 2)

    assert verify_chain([rows[0], rows[2]]) == (False, 3), "a deleted row breaks the link"
    assert verify_chain(rows[1:]) == (False, 2), "so does deleting the first one"

    shifted = [dict(row) for row in rows]
    shifted[2]["occurred_at"] = at + timedelta(microseconds=1)
    assert verify_chain(shifted) == (False, 3)


def test_the_hashed_form_survives_the_database_round_trip() -> None:
    # The same instant in another zone, and a naive UTC value, hash alike.
    aware = datetime(2026, 11, 23, 14, 0, 0, 7, tzinfo=timezone(timedelta(hours=2)))
    assert utc_timestamp(aware) == "2026-11-23T12:00:00.000007Z"
    assert utc_timestamp(datetime(2026, 11, 23, 12, 0, 0, 7)) == utc_timestamp(aware)
    one = AuditEvent("x", "y", aware, data={"a": "1", "b": {"d": 1, "c": True}})
    other = AuditEvent("x", "y", aware.astimezone(UTC), data={"b": {"c": True, "d": 1}, "a": "1"})
    assert event_hash(one, "") == event_hash(other, "")
    assert event_hash(one, "") != event_hash(one, "0" * 64)
    # Values JSON lacks become strings, as they are stored; floats would not round-trip.
    assert normalise_data({"amount": Decimal("1.50")}) == {"amount": "1.50"}
    with pytest.raises(AuditDataError):
        normalise_data({"amount": 1.5})


@pytest.mark.parametrize(
    ("locale", "title", "subject"),
    [
        ("ro", "Certificat de semnătură electronică", "Confirmarea semnăturii dvs. — S"),
        ("ru", "Сертификат электронной подписи", "Подтверждение вашей подписи — S"),
        ("en", "Certificate of electronic signature", "Your signature is confirmed — S"),
    ],
)
def test_certificate_and_confirmation_email_in_each_locale(
    locale: str, title: str, subject: str
) -> None:
    renderer = DocumentRenderer()
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    html = renderer.render_text(
        "pdf/certificate.html",
        locale=locale,
        c=certificate_labels(locale),
        proposal_id="p-1",
        seller={"name": "S"},
        buyer={"name": SCRIPT},
        signature={
            "signer_name": SCRIPT,
            "signer_email": "",
            "ip": CLIENT_IP,
            "user_agent": SCRIPT,
            "document_sha256": "a" * 64,
            "consent_text": "ok",
        },
        signed_at="2026-11-23 12:00:00 UTC",
        source="page",
        consent_sha256="b" * 64,
        signature_image=None,
        original_filename="proposal.pdf",
        original_sha256="c" * 64,
        events=[
            {
                "id": 1,
                "time": "2026-11-23 12:00:00",
                "label": event_label("viewed", locale, first=True),
                "actor": SCRIPT,
                "ip": CLIENT_IP,
                "user_agent": SCRIPT,
                "hash": "d" * 64,
            }
        ],
        chain_valid=False,
        first_invalid_event_id=7,
        generated_at="2026-11-23 12:00:01",
    )
    assert title in html and event_label("viewed", locale, first=True) in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "c" * 64 in html, "a document hash that does not match is shown as a warning"
    assert "7" in html.split(certificate_labels(locale)["audit_trail"])[-1]
    mail_subject, body = renderer.email(
        "signed",
        locale,
        seller={"name": "S"},
        buyer={"name": "B"},
        signer_name="Ana",
        signed_at=at.strftime("%Y-%m-%d %H:%M:%S"),
        document_sha256="a" * 64,
    )
    assert mail_subject == subject and "a" * 64 in body and "Ana" in body


# --- through the product -----------------------------------------------------------------


async def _audit(stack: Stack, proposal_id: str) -> dict[str, Any]:
    return await get_json(stack, f"/api/v1/proposals/{proposal_id}/audit")


async def _wait_event(stack: Stack, proposal_id: str, kind: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        trail = await _audit(stack, proposal_id)
        return trail if any(e["kind"] == kind for e in trail["events"]) else None

    return await eventually(probe, what=f"a {kind} audit event")


async def _signed_pdf(stack: Stack, proposal_id: str) -> bytes:
    async def probe() -> bytes | None:
        response = await stack.api.get(f"/api/v1/proposals/{proposal_id}/signed.pdf")
        return response.content if response.status_code == 200 else None

    return await eventually(probe, what="the signed PDF")


def _key_of(message: Any) -> str:
    return str(message["X-Q2C-Key"])


async def test_signed_pdf_confirmation_email_and_audit_trail(stack: Stack) -> None:
    proposal = await create_proposal(stack, await create_client(stack))
    proposal_id = proposal["id"]
    message, sign_path = await proposal_email(stack)
    _, original = attachment(message)
    original_sha256 = hashlib.sha256(original).hexdigest()

    not_yet = await stack.api.get(f"/api/v1/proposals/{proposal_id}/signed.pdf")
    assert not_yet.status_code == 404
    # SMTP's acceptance is recorded just after the sink has the message.
    await _wait_event(stack, proposal_id, "email_accepted")

    ua = "pytest-browser/1.0 (audit)"
    for _ in range(2):
        assert (await stack.api.get(sign_path, headers={"User-Agent": ua})).status_code == 200
    signed = await stack.api.post(
        sign_path,
        data={"signer_name": "Ana Pop", "signer_email": "ana@exemplu.ro", "consent": "yes"},
        headers={"User-Agent": ua},
    )
    assert signed.status_code == 200, signed.text
    invoice_id = await invoice_of_proposal(stack, sign_path)

    content = await _signed_pdf(stack, proposal_id)
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == len(PdfReader(io.BytesIO(original)).pages) + 1
    certificate = pdf_text(content).split("Certificat de semnătură electronică")[-1]
    last_page = reader.pages[-1].extract_text().replace("\xa0", " ")
    assert "Certificat de semnătură electronică" in last_page
    for expected in ("Ana Pop", "ana@exemplu.ro", original_sha256, CLIENT_IP, ua, CLIENT["name"]):
        assert expected in last_page, expected
    assert "Deschisă prima dată" in certificate and "Factură ciornă creată" in certificate
    assert "Lanțul de hash-uri al jurnalului de audit este valid." in certificate
    # The exact PDF the signer saw travels inside the signed one, byte for byte.
    assert reader.attachments["proposal.pdf"] == [original]

    mail = await stack.mail.wait_for(
        lambda m: _key_of(m) == f"proposal:{proposal_id}:signed:1", timeout=20
    )
    assert mail["To"] == CLIENT["email"]
    assert str(mail["Subject"]) == "Confirmarea semnăturii dvs. — q2c Demo SRL"
    filename, emailed = attachment(mail)
    assert filename == "signed-proposal.pdf" and emailed == content
    body = mail.get_body(("plain",))
    assert body is not None and original_sha256 in body.get_content()

    trail = await _wait_event(stack, proposal_id, "signed_copy_emailed")
    assert trail["chain_valid"] is True and trail["first_invalid_event_id"] is None
    events = trail["events"]
    assert [e["kind"] for e in events] == [
        "sent",
        "email_accepted",
        "viewed",  # the reload within the hour records nothing more
        "signed",
        "invoice_created",
        "signed_copy_emailed",
    ]
    sent, accepted, first_view, signed_event, created, emailed_event = events
    # Sent by the operator who created it (the tests' key is the bootstrap admin's).
    assert (sent["actor"], accepted["actor"], created["actor"]) == (
        "operator:admin",
        "smtp",
        "system",
    )
    assert first_view["data"] == {"first": True}
    assert (first_view["actor"], first_view["ip"], first_view["user_agent"]) == (
        "client",
        CLIENT_IP,
        ua,
    )
    assert signed_event["actor"] == "Ana Pop"
    assert (signed_event["ip"], signed_event["user_agent"]) == (CLIENT_IP, ua)
    data = signed_event["data"]
    assert data["document_sha256"] == original_sha256
    assert data["consent_sha256"] == hashlib.sha256(data["consent_text"].encode()).hexdigest()
    assert data["signer_email"] == "ana@exemplu.ro"
    assert created["data"] == {"invoice_id": invoice_id}
    assert emailed_event["data"]["document_sha256"] == hashlib.sha256(content).hexdigest()
    previous = ""
    for event in events:
        assert event["prev_hash"] == previous and len(event["hash"]) == 64
        assert event["occurred_at"].endswith("+00:00")
        previous = event["hash"]
    # The certificate lists the chain as it stood, up to the invoice.
    assert created["hash"] in certificate and signed_event["hash"] in certificate

    signature = await stack.db.fetchrow(
        "SELECT * FROM signatures WHERE proposal_id = $1", proposal_id
    )
    assert signature is not None and signature["consent_sha256"] == data["consent_sha256"]
    stored = await stack.db.fetchval(
        "SELECT signed_document_key FROM proposals WHERE id = $1", proposal_id
    )
    assert stored == f"proposal/{proposal_id}/signed.pdf"

    # One email, however often the workflow's activity would be retried.
    handle = stack.env.client.get_workflow_handle_for(
        ProposalWorkflow.run, proposal_workflow_id(proposal_id)
    )
    assert (await handle.result()).status == "signed"
    assert [_key_of(m) for m in stack.mail.messages].count(f"proposal:{proposal_id}:signed:1") == 1


async def test_audit_endpoints_need_the_key_and_a_known_proposal(stack: Stack) -> None:
    proposal = await create_proposal(stack, await create_client(stack))
    for path in ("audit", "signed.pdf"):
        url = f"/api/v1/proposals/{proposal['id']}/{path}"
        assert (await stack.api.get(url, headers={"Authorization": "Bearer x"})).status_code == 401
        missing = "/api/v1/proposals/00000000-0000-0000-0000-000000000000/" + path
        assert (await stack.api.get(missing)).status_code == 404
    await proposal_email(stack)


async def _tamper(db: asyncpg.Pool, sql: str, *args: Any) -> None:
    """What someone with superuser access to the database could do: switch the append-only
    trigger off, change the table, switch it back on. One transaction, so nobody else ever
    sees the table unguarded."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")


async def test_altered_and_deleted_events_are_detected(
    stack: Stack, owner_pool: asyncpg.Pool
) -> None:
    proposal = await create_proposal(stack, await create_client(stack))
    proposal_id = proposal["id"]
    _, sign_path = await proposal_email(stack)
    await _wait_event(stack, proposal_id, "email_accepted")
    for agent in ("phone/1", "desktop/2", "tablet/3"):
        assert (await stack.api.get(sign_path, headers={"User-Agent": agent})).status_code == 200
    trail = await _audit(stack, proposal_id)
    assert trail["chain_valid"] is True
    ids = [event["id"] for event in trail["events"]]
    assert len(ids) == 5
    first_view, second_view = ids[2], ids[3]

    # The table refuses changes outright...
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await stack.db.execute("UPDATE audit_events SET ip = '10.0.0.1' WHERE id = $1", ids[2])
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await stack.db.execute("DELETE FROM audit_events WHERE id = $1", ids[3])

    # ...and a change made around that is found by the chain.
    original = await stack.db.fetchrow("SELECT * FROM audit_events WHERE id = $1", first_view)
    assert original is not None
    await _tamper(
        owner_pool, "UPDATE audit_events SET data = '{\"first\": false}' WHERE id = $1", first_view
    )
    trail = await _audit(stack, proposal_id)
    assert (trail["chain_valid"], trail["first_invalid_event_id"]) == (False, first_view)

    # Put back as it was, it verifies again: the hash covers exactly the stored values.
    await _tamper(
        owner_pool, "UPDATE audit_events SET data = $2::jsonb WHERE id = $1", first_view, "{}"
    )
    assert (await _audit(stack, proposal_id))["chain_valid"] is False
    await _tamper(
        owner_pool,
        "UPDATE audit_events SET data = $2::jsonb WHERE id = $1",
        first_view,
        original["data"],
    )
    assert (await _audit(stack, proposal_id))["chain_valid"] is True

    second_at = await stack.db.fetchval(
        "SELECT occurred_at FROM audit_events WHERE id = $1", second_view
    )
    await _tamper(
        owner_pool,
        "UPDATE audit_events SET occurred_at = occurred_at + interval '1 microsecond' "
        "WHERE id = $1",
        second_view,
    )
    trail = await _audit(stack, proposal_id)
    assert (trail["chain_valid"], trail["first_invalid_event_id"]) == (False, second_view)
    await _tamper(
        owner_pool,
        "UPDATE audit_events SET occurred_at = $2 WHERE id = $1",
        second_view,
        second_at,
    )
    assert (await _audit(stack, proposal_id))["chain_valid"] is True

    await _tamper(owner_pool, "DELETE FROM audit_events WHERE id = $1", second_view)
    trail = await _audit(stack, proposal_id)
    assert [event["id"] for event in trail["events"]] == [*ids[:3], ids[4]]
    assert (trail["chain_valid"], trail["first_invalid_event_id"]) == (False, ids[4])


def _png(width: int = 120, height: int = 40) -> bytes:
    """A small PNG: a black stroke across a transparent field."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    rows = b"".join(
        b"\x00"
        + b"".join(
            b"\x00\x00\x00\xff" if abs(y - height // 2) <= 2 else b"\x00\x00\x00\x00"
            for _ in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_the_drawn_signature_is_on_the_certificate(stack: Stack) -> None:
    proposal = await create_proposal(
        stack, await create_client(stack, locale="ro", email="ops@example.com")
    )
    proposal_id = proposal["id"]
    _, sign_path = await proposal_email(stack, "ops@example.com")
    # A bare `sign` signal is refused (tests/test_forged_signature.py): sign on the page.
    drawn = "data:image/png;base64," + base64.b64encode(_png()).decode()
    signed = await stack.api.post(
        sign_path, data={"signer_name": "John Smith", "consent": "yes", "signature": drawn}
    )
    assert signed.status_code == 200, signed.text
    content = await _signed_pdf(stack, proposal_id)
    last = PdfReader(io.BytesIO(content)).pages[-1]
    text = last.extract_text()
    assert "Certificat de semnătură electronică" in text and "Semnătura desenată" in text
    assert "John Smith" in text and "203.0.113.7" in text
    assert len(last.images) == 1
    mail = await stack.mail.wait_for(lambda m: _key_of(m) == f"proposal:{proposal_id}:signed:1")
    assert mail["To"] == "ops@example.com"


async def test_markup_in_free_text_is_printed_literally_in_the_pdfs(stack: Stack) -> None:
    client_id = await create_client(stack, name=f"Client {SCRIPT}")
    proposal = await create_proposal(
        stack,
        client_id,
        lines=[
            {
                "description": f"Audit {SCRIPT} <b>bold</b> & co",
                "quantity": "1",
                "unit_price": "100.00",
                "vat_rate": "21",
            }
        ],
    )
    message, sign_path = await proposal_email(stack)
    _, original = attachment(message)
    text = pdf_text(original)
    assert f"Client {SCRIPT}" in text
    # The narrow description column wraps the text (after "</" too): compare it unwrapped.
    assert _unwrapped(f"Audit {SCRIPT} <b>bold</b> & co") in _unwrapped(text)

    signed = await stack.api.post(
        sign_path, data={"signer_name": f"Ana {SCRIPT}", "consent": "yes"}
    )
    assert signed.status_code == 200, signed.text
    content = await _signed_pdf(stack, proposal["id"])
    certificate = PdfReader(io.BytesIO(content)).pages[-1].extract_text()
    assert f"Ana {SCRIPT}" in certificate and f"Client {SCRIPT}" in certificate
    assert _unwrapped(f"Audit {SCRIPT} <b>bold</b> & co") in _unwrapped(pdf_text(content))


def _unwrapped(text: str) -> str:
    return "".join(text.split())
