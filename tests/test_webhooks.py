"""Inbound webhooks on real parts: signed requests from a CRM, an e-signature provider and a
payment provider, their replays, and forged, tampered or stale ones."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from messages.models import proposal_workflow_id
from tests.conftest import WEBHOOK_SECRETS, Stack
from tests.helpers import (
    CLIENT,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    proposal_email,
    wait_invoice_status,
)
from workflows.proposal import ProposalWorkflow

CRM = "/webhooks/crm/proposals"
ESIGN = "/webhooks/esign"
PAYMENTS = "/webhooks/payments"


def signed(source: str, body: bytes, *, secret: int = 0, at: int | None = None) -> dict[str, str]:
    """Headers of a request signed the way the README tells a sender to sign it."""
    t = str(int(time.time()) if at is None else at)
    mac = hmac.new(
        WEBHOOK_SECRETS[source][secret].encode(), f"{t}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return {"Q2C-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


async def send(
    stack: Stack, path: str, source: str, payload: dict[str, Any], **signing: Any
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await stack.api.post(path, content=body, headers=signed(source, body, **signing))


def event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


async def today(stack: Stack) -> date:
    return (await stack.env.get_current_time()).date()


async def crm_event(stack: Stack, external_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": event_id(),
        "external_id": external_id,
        "client": CLIENT,
        "currency": "RON",
        "valid_until": (await today(stack) + timedelta(days=30)).isoformat(),
        "payment_terms_days": 14,
        "lines": [
            {
                "description": "Audit GDPR",
                "quantity": "4",
                "unit": "h",
                "unit_price": "300.00",
                "vat_rate": "21",
            }
        ],
    } | overrides


def payment_event(**fields: Any) -> dict[str, Any]:
    return {
        "id": event_id(),
        "currency": "RON",
        "amount": "1000.00",
        "reference": f"OP-{uuid.uuid4().hex[:8]}",
        "paid_at": "2026-12-01T10:15:00+02:00",
    } | fields


async def rejection(stack: Stack, body: bytes) -> Any:
    return await stack.db.fetchrow(
        "SELECT * FROM webhook_rejections WHERE body_sha256 = $1 ORDER BY id DESC LIMIT 1",
        hashlib.sha256(body).hexdigest(),
    )


# --- CRM ---------------------------------------------------------------------------------


async def test_crm_retries_never_make_a_second_proposal_or_workflow(stack: Stack) -> None:
    external_id = f"crm-deal-{uuid.uuid4().hex[:8]}"
    event = await crm_event(stack, external_id)
    first = await send(stack, CRM, "crm", event)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "proposal_created" and first.json()["duplicate"] is False
    proposal = first.json()["proposal"]
    assert proposal["external_id"] == external_id and proposal["status"] == "sent"
    assert proposal["total"] == "1452.00"  # 4 h x 300.00 + 21 % VAT
    await proposal_email(stack)
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal["id"]))
    run_id = (await handle.describe()).run_id

    # The same event again (a provider retry, freshly signed): nothing happens again.
    replay = await send(stack, CRM, "crm", event)
    assert replay.status_code == 200, replay.text
    assert replay.json()["duplicate"] is True
    assert replay.json()["outcome"] == "proposal_created"
    assert replay.json()["proposal"]["id"] == proposal["id"]

    # A new event for the same deal, signed with the previous secret during a rotation.
    again = await send(stack, CRM, "crm", event | {"id": event_id()}, secret=1)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "proposal_exists" and again.json()["duplicate"] is False
    assert again.json()["proposal"]["id"] == proposal["id"]

    assert (await handle.describe()).run_id == run_id
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 1
    # Sent on the CRM's word, not an operator's.
    sent_by = await stack.db.fetchval("SELECT actor FROM audit_events WHERE kind = 'sent'")
    assert sent_by == "crm"
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 1
    assert await stack.db.fetchval("SELECT count(*) FROM email_outbox") == 1
    events = await stack.db.fetch("SELECT * FROM webhook_events WHERE source = 'crm' ORDER BY id")
    assert [(row["event_id"], row["outcome"]) for row in events] == [
        (event["id"], "proposal_created"),
        (again.json()["event_id"], "proposal_exists"),
    ]
    assert all(row["processed_at"] is not None for row in events)
    await asyncio.sleep(1.0)  # room for a second email, if anything were to send one
    assert [m["To"] for m in stack.mail.messages] == [CLIENT["email"]]


async def test_crm_reuses_a_client_by_email_or_takes_a_client_id(stack: Stack) -> None:
    first = await send(stack, CRM, "crm", await crm_event(stack, "deal-a"))
    second = await send(
        stack,
        CRM,
        "crm",
        await crm_event(stack, "deal-b", client=CLIENT | {"email": CLIENT["email"].upper()}),
    )
    assert first.status_code == 201 and second.status_code == 201, second.text
    client_id = first.json()["proposal"]["client_id"]
    assert second.json()["proposal"]["client_id"] == client_id
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 1

    other = await create_client(stack, email="alt@exemplu.ro", name="Alt SRL")
    event = await crm_event(stack, "deal-c")
    del event["client"]
    third = await send(stack, CRM, "crm", event | {"client_id": other})
    assert third.status_code == 201, third.text
    assert third.json()["proposal"]["client_id"] == other
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 3


async def test_crm_can_hold_a_proposal_as_a_draft_until_an_operator_sends_it(
    stack: Stack,
) -> None:
    response = await send(stack, CRM, "crm", await crm_event(stack, "deal-d", send=False))
    assert response.status_code == 201, response.text
    proposal = response.json()["proposal"]
    assert proposal["status"] == "draft"
    await asyncio.sleep(0.5)
    assert stack.mail.messages == [], "a draft is not emailed"
    retried = await send(stack, CRM, "crm", await crm_event(stack, "deal-d", send=False))
    assert retried.status_code == 200 and retried.json()["proposal"]["id"] == proposal["id"]

    sent = await stack.api.post(f"/api/v1/proposals/{proposal['id']}/send")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    await stack.mail.wait_for(lambda m: "Ofert" in str(m["Subject"]))
    again = await stack.api.post(f"/api/v1/proposals/{proposal['id']}/send")
    assert again.status_code == 200
    await asyncio.sleep(0.5)
    assert len(stack.mail.messages) == 1, "sending twice emails once"


async def test_crm_invalid_bodies_get_422_naming_the_field_and_store_nothing(
    stack: Stack,
) -> None:
    not_json = b'{"id": "evt_1", "external_id": '
    response = await stack.api.post(CRM, content=not_json, headers=signed("crm", not_json))
    assert response.status_code == 422 and "not valid JSON" in response.text

    event = await crm_event(stack, "deal-x")
    del event["lines"]
    response = await send(stack, CRM, "crm", event)
    assert response.status_code == 422
    assert ["body", "lines"] in [error["loc"] for error in response.json()["detail"]]

    both = await crm_event(stack, "deal-x", client_id=str(uuid.uuid4()))
    response = await send(stack, CRM, "crm", both)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "client"]

    unknown = await crm_event(stack, "deal-x", client_id=str(uuid.uuid4()))
    del unknown["client"]
    response = await send(stack, CRM, "crm", unknown)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "client_id"]

    past = await today(stack) - timedelta(days=3)
    event = await crm_event(stack, "deal-x", valid_until=past.isoformat())
    response = await send(stack, CRM, "crm", event)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "valid_until"]

    # Nothing was kept, so the sender can fix the event and send the same id again.
    assert await stack.db.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0
    fixed = await send(stack, CRM, "crm", await crm_event(stack, "deal-x", id=event["id"]))
    assert fixed.status_code == 201, fixed.text


async def test_an_event_stored_but_not_processed_is_processed_by_the_retry(
    stack: Stack,
) -> None:
    """A delivery that died after storing the event, or after acting but before recording
    the outcome: the sender's retry finishes it, and acting twice changes nothing."""
    event = await crm_event(stack, "deal-crash")
    await stack.db.execute(
        "INSERT INTO webhook_events (source, event_id, payload) VALUES ('crm', $1, $2::jsonb)",
        event["id"],
        json.dumps(event),
    )
    retried = await send(stack, CRM, "crm", event)
    assert retried.status_code == 201, retried.text
    assert retried.json()["outcome"] == "proposal_created" and retried.json()["duplicate"] is False
    await proposal_email(stack)

    await stack.db.execute(
        "UPDATE webhook_events SET processed_at = NULL, outcome = NULL WHERE event_id = $1",
        event["id"],
    )
    again = await send(stack, CRM, "crm", event)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "proposal_exists"
    assert again.json()["proposal"]["id"] == retried.json()["proposal"]["id"]
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 1
    assert await stack.db.fetchval("SELECT count(*) FROM email_outbox") == 1
    assert (
        await stack.db.fetchval(
            "SELECT outcome FROM webhook_events WHERE event_id = $1", event["id"]
        )
        == "proposal_exists"
    )

    parked = payment_event(invoice_number="INV-0")
    first = await send(stack, PAYMENTS, "payments", parked)
    assert first.status_code == 202, first.text
    await stack.db.execute(
        "UPDATE webhook_events SET processed_at = NULL WHERE event_id = $1", parked["id"]
    )
    second = await send(stack, PAYMENTS, "payments", parked)
    assert second.status_code == 202 and second.json()["duplicate"] is False
    assert second.json()["unmatched_payment_id"] == first.json()["unmatched_payment_id"]
    assert await stack.db.fetchval("SELECT count(*) FROM unmatched_payments") == 1


# --- authentication ----------------------------------------------------------------------


async def test_tampered_forged_and_unsigned_requests_get_401_and_are_recorded(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="q2c.webhooks")
    original = json.dumps(payment_event(invoice_number="INV-2026-00001")).encode()
    tampered = original.replace(b'"1000.00"', b'"9000.00"')
    assert tampered != original
    headers = signed("payments", original)
    response = await stack.api.post(PAYMENTS, content=tampered, headers=headers)
    assert response.status_code == 401
    row = await rejection(stack, tampered)
    assert row is not None and row["source"] == "payments" and row["reason"] == "bad_signature"
    assert row["remote_ip"] == "203.0.113.7"
    assert row["signature_header"] == headers["Q2C-Signature"]
    assert any(
        "refused: bad_signature" in record.getMessage() and record.levelno == logging.WARNING
        for record in caplog.records
    )

    # A flipped signature digit, another source's secret, no header, a garbled header.
    def flipped(body: bytes) -> str:
        header = signed("payments", body)["Q2C-Signature"]
        return header[:-1] + ("a" if header[-1] != "a" else "b")

    def other_source(body: bytes) -> str:
        return signed("crm", body)["Q2C-Signature"]

    def unprefixed(body: bytes) -> str:
        return "sha256=" + signed("payments", body)["Q2C-Signature"].rsplit("v1=", 1)[1]

    cases: list[tuple[Callable[[bytes], str] | None, str]] = [
        (flipped, "bad_signature"),
        (other_source, "bad_signature"),
        (None, "missing_signature"),
        (unprefixed, "malformed_signature"),
    ]
    for make_header, reason in cases:
        body = json.dumps(payment_event(invoice_number="INV-2026-00001")).encode()
        header = make_header(body) if make_header else None
        response = await stack.api.post(
            PAYMENTS, content=body, headers={"Q2C-Signature": header} if header else {}
        )
        assert response.status_code == 401, (reason, response.text)
        row = await rejection(stack, body)
        assert row is not None and row["reason"] == reason
        assert row["signature_header"] == (header or "")

    assert await stack.db.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM unmatched_payments") == 0


async def test_stale_or_future_timestamps_are_refused_within_tolerance_accepted(
    stack: Stack,
) -> None:
    # Ten seconds past the 300 s tolerance: a slow machine takes a moment between signing
    # and the check, which must not bring a future timestamp back within it.
    for offset in (-310, 310, -3600):
        at = int(time.time()) + offset
        body = json.dumps(payment_event(invoice_number="INV-1")).encode()
        response = await stack.api.post(
            PAYMENTS, content=body, headers=signed("payments", body, at=at)
        )
        assert response.status_code == 401, response.text
        assert "timestamp" in response.json()["detail"]
        row = await rejection(stack, body)
        assert row is not None and row["reason"] == "stale_timestamp"
    assert await stack.db.fetchval("SELECT count(*) FROM webhook_events") == 0

    for offset in (-240, 240):
        at = int(time.time()) + offset
        response = await send(stack, PAYMENTS, "payments", payment_event(invoice_number="X"), at=at)
        assert response.status_code == 202, response.text


async def test_both_rotation_secrets_are_accepted_and_an_unconfigured_source_refuses_all(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for secret in (0, 1):
        response = await send(
            stack, PAYMENTS, "payments", payment_event(invoice_number="NONE"), secret=secret
        )
        assert response.status_code == 202, response.text
    monkeypatch.setitem(stack.settings.webhook_secrets, "payments", ())
    body = json.dumps(payment_event(invoice_number="NONE")).encode()
    response = await stack.api.post(PAYMENTS, content=body, headers=signed("payments", body))
    assert response.status_code == 401
    row = await rejection(stack, body)
    assert row is not None and row["reason"] == "no_secret_configured"
    assert await stack.db.fetchval("SELECT count(*) FROM webhook_events") == 2


# --- e-signature -------------------------------------------------------------------------


def esign_event(proposal: dict[str, Any], document_sha256: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": event_id(),
        "external_id": proposal["external_id"],
        "signer_name": "Ana Pop",
        "signer_email": "ana@exemplu.ro",
        "signed_at": "2026-11-24T09:30:00+00:00",
        "document_sha256": document_sha256,
        "provider": "DocuSign",
        "signer_ip": "198.51.100.23",
    } | fields


async def sent_proposal(stack: Stack) -> tuple[dict[str, Any], str]:
    """A proposal emailed to its client, and the SHA-256 of the PDF in that email."""
    proposal = await create_proposal(
        stack, await create_client(stack), external_id=f"deal-{uuid.uuid4().hex[:8]}"
    )
    message, _ = await proposal_email(stack)
    _, pdf = attachment(message)
    return proposal, hashlib.sha256(pdf).hexdigest()


async def test_esign_with_the_hash_of_the_sent_document_signs_the_proposal(stack: Stack) -> None:
    proposal, document_sha256 = await sent_proposal(stack)
    event = esign_event(proposal, document_sha256.upper())
    response = await send(stack, ESIGN, "esign", event)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "signature_accepted"
    assert response.json()["proposal_id"] == proposal["id"]

    async def signed_with_invoice() -> dict[str, Any] | None:
        current = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
        return current if current["status"] == "signed" and current["invoice_id"] else None

    signed_proposal = await eventually(signed_with_invoice, what="the esign signature")
    invoice = await wait_invoice_status(stack, signed_proposal["invoice_id"], "awaiting_review")
    assert invoice["proposal_id"] == proposal["id"] and invoice["total"] == proposal["total"]
    signature = await stack.db.fetchrow(
        "SELECT * FROM signatures WHERE proposal_id = $1", proposal["id"]
    )
    assert signature is not None
    assert signature["source"] == "esign" and signature["signer_name"] == "Ana Pop"
    assert signature["signer_email"] == "ana@exemplu.ro" and signature["ip"] == "198.51.100.23"
    assert signature["document_sha256"] == document_sha256
    assert signature["consent_text"] == "Signed through DocuSign e-signature"
    assert signature["signed_at"] == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

    replay = await send(stack, ESIGN, "esign", event)
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert replay.json()["outcome"] == "signature_accepted"
    same_signature = await send(stack, ESIGN, "esign", event | {"id": event_id()})
    assert same_signature.status_code == 200
    assert same_signature.json()["outcome"] == "already_signed"

    other = esign_event(proposal, document_sha256, signer_name="Ion Ionescu")
    late = await send(stack, ESIGN, "esign", other)
    assert late.status_code == 409 and late.json()["outcome"] == "refused_not_sent"
    refused = await stack.db.fetchrow(
        "SELECT * FROM audit_events WHERE proposal_id = $1 AND kind = 'signature_refused'",
        proposal["id"],
    )
    assert refused is not None and json.loads(refused["data"])["status"] == "signed"
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1
    assert await stack.db.fetchval("SELECT count(*) FROM signatures") == 1


async def test_esign_with_another_documents_hash_is_refused_and_recorded(stack: Stack) -> None:
    proposal, document_sha256 = await sent_proposal(stack)
    wrong = hashlib.sha256(b"some other document").hexdigest()
    event = esign_event(proposal, wrong, external_id=None, proposal_id=proposal["id"])
    response = await send(stack, ESIGN, "esign", event)
    assert response.status_code == 409, response.text
    assert response.json()["outcome"] == "refused_hash_mismatch"
    assert "document_sha256" in response.json()["detail"]

    audit = await stack.db.fetch(
        """SELECT * FROM audit_events WHERE proposal_id = $1 AND kind = 'signature_refused'""",
        proposal["id"],
    )
    assert len(audit) == 1
    data = json.loads(audit[0]["data"])
    assert (data["expected"], data["got"]) == (document_sha256, wrong)
    assert audit[0]["ip"] == "203.0.113.7" and audit[0]["actor"] == "esign:DocuSign"
    stored = await stack.db.fetchrow(
        "SELECT * FROM webhook_events WHERE source = 'esign' AND event_id = $1", event["id"]
    )
    assert stored is not None and stored["outcome"] == "refused_hash_mismatch"
    assert stored["processed_at"] is not None

    replay = await send(stack, ESIGN, "esign", event)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert replay.json()["outcome"] == "refused_hash_mismatch"
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM audit_events WHERE kind = 'signature_refused'"
        )
        == 1
    )
    handle = stack.env.client.get_workflow_handle_for(
        ProposalWorkflow.run, proposal_workflow_id(proposal["id"])
    )
    assert (await handle.query(ProposalWorkflow.status)).status == "sent"
    current = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
    assert current["status"] == "sent" and current["invoice_id"] is None
    assert await stack.db.fetchval("SELECT count(*) FROM signatures") == 0

    unknown = esign_event(proposal, wrong, external_id="no-such-deal")
    response = await send(stack, ESIGN, "esign", unknown)
    assert response.status_code == 404 and response.json()["outcome"] == "unknown_proposal"


# --- payments ----------------------------------------------------------------------------


async def test_payment_matched_by_invoice_number_moves_the_invoice(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    event = payment_event(invoice_number=invoice["number"], reference="OP-123")
    first = await send(stack, PAYMENTS, "payments", event)
    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "payment_recorded"
    assert first.json()["invoice"]["status"] == "partially_paid"
    assert first.json()["invoice"]["amount_due"] == "3114.00"

    replay = await send(stack, PAYMENTS, "payments", event)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert replay.json()["outcome"] == "payment_recorded"
    same_reference = await send(stack, PAYMENTS, "payments", event | {"id": event_id()})
    assert same_reference.status_code == 200
    assert same_reference.json()["outcome"] == "payment_duplicate"
    current = await get_json(stack, f"/api/v1/invoices/{invoice['id']}")
    assert current["amount_paid"] == "1000.00" and current["status"] == "partially_paid"
    payment = await stack.db.fetchrow("SELECT * FROM payments")
    assert payment is not None and payment["paid_at"] == date(2026, 12, 1)
    # Recorded as the provider's doing, not an operator's.
    assert payment["recorded_by"] == "payments"
    history = await get_json(stack, f"/api/v1/invoices/{invoice['id']}/history")
    assert history["items"][-1]["actor"] == "payments"

    rest = payment_event(
        invoice_id=invoice["id"], amount="3114.00", reference="OP-124", paid_at="2026-12-02"
    )
    last = await send(stack, PAYMENTS, "payments", rest)
    assert last.status_code == 200, last.text
    assert last.json()["invoice"]["status"] == "paid"
    assert await stack.db.fetchval("SELECT sum(amount) FROM payments") == 4114
    assert await stack.db.fetchval("SELECT count(*) FROM unmatched_payments") == 0


async def test_payment_for_an_unknown_invoice_is_parked_and_listed(stack: Stack) -> None:
    event = payment_event(invoice_number="INV-1999-00042", reference="BANK-7781")
    response = await send(stack, PAYMENTS, "payments", event)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["outcome"] == "parked_unknown_invoice" and body["parked"] is True
    assert body["reason"] == "unknown_invoice"
    assert (await send(stack, PAYMENTS, "payments", event)).json()["duplicate"] is True

    listed = await get_json(stack, "/api/v1/unmatched-payments")
    assert [
        (item["id"], item["event_id"], item["invoice_ref"], item["invoice_id"], item["reason"])
        for item in listed["items"]
    ] == [(body["unmatched_payment_id"], event["id"], "INV-1999-00042", None, "unknown_invoice")]
    item = listed["items"][0]
    assert (item["amount"], item["currency"], item["reference"]) == ("1000.00", "RON", "BANK-7781")
    assert datetime.fromisoformat(item["paid_at"]) == datetime(2026, 12, 1, 8, 15, tzinfo=UTC)

    anonymous = await stack.api.get("/api/v1/unmatched-payments", headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_currency_mismatch_and_a_void_invoice_are_parked_never_applied(
    stack: Stack,
) -> None:
    invoice = await issued_invoice(stack)
    euros = payment_event(invoice_number=invoice["number"], currency="EUR", amount="100.00")
    response = await send(stack, PAYMENTS, "payments", euros)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "parked_currency_mismatch"

    voided = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/void", json={"reason": "issued by mistake"}
    )
    assert voided.status_code == 202, voided.text
    await wait_invoice_status(stack, invoice["id"], "void")
    late = payment_event(invoice_number=invoice["number"], paid_at="2026-12-03")
    response = await send(stack, PAYMENTS, "payments", late)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "parked_not_payable"

    listed = (await get_json(stack, "/api/v1/unmatched-payments"))["items"]
    assert [(item["reason"], item["currency"], item["invoice_status"]) for item in listed] == [
        ("not_payable", "RON", "void"),
        ("currency_mismatch", "EUR", "void"),
    ]
    assert all(
        item["invoice_id"] == invoice["id"] and item["invoice_number"] == invoice["number"]
        for item in listed
    )
    assert await stack.db.fetchval("SELECT count(*) FROM payments") == 0
    current = await get_json(stack, f"/api/v1/invoices/{invoice['id']}")
    assert current["status"] == "void" and current["amount_paid"] == "0.00"


# --- CRM: addresses in parts ----------------------------------------------------------------


async def test_crm_clients_carry_their_address_in_parts_with_or_without_the_line(
    stack: Stack,
) -> None:
    # A tax id of its own: a known one makes the CRM's client the existing client.
    parts_only = {key: value for key, value in CLIENT.items() if key != "address"} | {
        "tax_id": "RO30405065",
        "email": "parts@exemplu.ro",
        "city": "sector 2",
        "county": "București",
        "street": "Șos. Pantelimon 5",
        "postal_code": "021591",
    }
    first = await send(stack, CRM, "crm", await crm_event(stack, "deal-p1", client=parts_only))
    assert first.status_code == 201, first.text
    client = await get_json(stack, f"/api/v1/clients/{first.json()['proposal']['client_id']}")
    assert (client["city"], client["county"], client["postal_code"]) == (
        "SECTOR2",
        "RO-B",
        "021591",
    )
    assert client["address"] == "Șos. Pantelimon 5, 021591 București, Sector 2"
    assert client["address_needs_review"] is False

    with_line = await send(stack, CRM, "crm", await crm_event(stack, "deal-p2"))
    assert with_line.status_code == 201, with_line.text
    client = await get_json(stack, f"/api/v1/clients/{with_line.json()['proposal']['client_id']}")
    assert client["address"] == CLIENT["address"] and client["county"] == "RO-CJ"

    line_only = {key: CLIENT[key] for key in ("name", "country", "locale", "address")}
    third = await send(
        stack,
        CRM,
        "crm",
        await crm_event(stack, "deal-p3", client=line_only | {"email": "line@exemplu.ro"}),
    )
    assert third.status_code == 201, third.text
    client = await get_json(stack, f"/api/v1/clients/{third.json()['proposal']['client_id']}")
    assert client["address"] == CLIENT["address"] and client["street"] == ""
    assert client["address_needs_review"] is True, "a line alone is not split, only flagged"


async def test_crm_a_bad_address_part_gets_422_naming_it_and_stores_nothing(
    stack: Stack,
) -> None:
    event = await crm_event(stack, "deal-bad-address", client=CLIENT | {"county": "RO-ZZ"})
    response = await send(stack, CRM, "crm", event)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "client", "county"]
    assert "not a Romanian county" in error["msg"]
    assert await stack.db.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 0
