"""Documents keep the details they were issued with (issue 15 point 2): an invoice
numbered, a proposal sent, a credit note issued store their parties; a client or company
edited afterwards changes the next documents and the drafts under review, not what the
client already has, whatever is rendered again from rows (the hosted page, the signing
page, a resend, a credit note)."""

from __future__ import annotations

import asyncio
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from stdnum.ro import cui as ro_cui

from domain.parties import BankDetails, BuyerDetails, IssuedParties, SellerDetails
from tests.conftest import Stack
from tests.helpers import (
    CLIENT,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_hardening import (
    BROKEN_TEMPLATE,
    PROPOSAL_LAYOUTS,
    _proposal_render_tasks,
)
from tests.test_invoice_page import INVOICE_LINK
from tests.test_reminders import local, skip_to
from tests.test_resend import link_in, resend

NEW_CUI = "RO" + "4000001" + ro_cui.calc_check_digit("4000001")


async def _patch(stack: Stack, path: str, **changes: Any) -> None:
    response = await stack.api.patch(path, json=changes)
    assert response.status_code == 200, response.text


async def _email(stack: Stack, key: str) -> EmailMessage:
    return await stack.mail.wait_for(lambda m: m["X-Q2C-Key"] == key, timeout=20)


def _body(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def _credit_note_pdf(stack: Stack, invoice_id: str) -> str:
    voided = await stack.api.post(f"/api/v1/invoices/{invoice_id}/void", json={"reason": "x"})
    assert voided.status_code == 202, voided.text

    async def note_id() -> str | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
        return invoice["credit_note_id"] or None

    note = await eventually(note_id, what="the credit note")
    message = await _email(stack, f"credit_note:{note}:credit_note:1")
    return pdf_text(attachment(message)[1])


async def _credit_note_xml(stack: Stack, invoice_id: str) -> str:
    content = await stack.db.fetchval(
        """SELECT d.content FROM efactura_submissions e
           JOIN credit_notes c ON c.id = e.document_id JOIN documents d ON d.key = e.xml_key
           WHERE e.document_kind = 'credit_note' AND c.invoice_id = $1""",
        invoice_id,
    )
    assert content is not None, "the credit note's XML is stored"
    return bytes(content).decode()


async def _at_review(stack: Stack, client_id: str, skip: int = 0) -> str:
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, skip=skip)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    return invoice_id


def test_the_parties_round_trip_through_json() -> None:
    parties = IssuedParties(
        seller=SellerDetails(name="Firmă SRL", tax_id="RO18547290", director_name="Ana"),
        buyer=BuyerDetails(name="Client „Ăî” SRL", street="Str. Ștefan 1", locale="ro"),
        bank=BankDetails(iban="RO49AAAA1B31007593840000", bank_name="Banca"),
    )
    assert IssuedParties.from_json(parties.to_json()) == parties
    # A later shape's extra keys are ignored, missing ones read as empty.
    assert IssuedParties.from_json({"buyer": {"name": "X", "new": 1}}).buyer == BuyerDetails("X")
    assert parties.buyer.same_party(BuyerDetails(name="Alt nume", street="Alta"))
    assert not parties.seller.same_party(SellerDetails(name="Firmă SRL", tax_id="RO1"))
    assert parties.seller.same_party(SellerDetails(tax_id=" ro18547290 "))


async def test_issued_documents_keep_their_parties_and_drafts_show_the_corrected(
    stack: Stack,
) -> None:
    company = await get_json(stack, "/api/v1/company")
    seller_then = company["name"]
    client_id = await create_client(stack)
    invoice_id = await _at_review(stack, client_id)

    # A draft at review shows the client's corrected details: that is why they are edited.
    await _patch(stack, f"/api/v1/clients/{client_id}", name="Corectat SRL")
    await _patch(stack, f"/api/v1/invoices/{invoice_id}", notes="Corectat")
    draft = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert "Corectat SRL" in pdf_text(draft.content)

    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    invoice = await wait_invoice_status(stack, invoice_id, "sent")
    number = invoice["number"]
    first = await _email(stack, f"invoice:{invoice_id}:invoice:1")
    link = link_in(first, INVOICE_LINK)
    issued_pdf = (await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")).content
    assert "Corectat SRL" in pdf_text(issued_pdf)

    # A proposal sent before the edit (its signing link kept, not yet answered).
    proposal = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, skip=1)

    # The client becomes another name, address and tax id; the seller renames itself.
    await _patch(
        stack,
        f"/api/v1/clients/{client_id}",
        name="Nume Nou SRL",
        street="Str. Nouă 1",
        city="Timișoara",
        postal_code="300001",
        county="RO-TM",
        tax_id=NEW_CUI,
    )
    await _patch(stack, "/api/v1/company", name="Firma Nouă SRL")

    # The hosted page shows the invoice as issued.
    page = (await stack.api.get(link)).text
    assert "Corectat SRL" in page and seller_then in page
    assert "Nume Nou SRL" not in page and "Firma Nouă SRL" not in page

    # The sales journal lists the invoice under the buyer it was issued to.
    export = await stack.api.get(f"/api/v1/exports/invoices.csv?client_id={client_id}")
    assert export.status_code == 200, export.text
    assert f"{number},".encode() in export.content
    assert b"Corectat SRL" in export.content and CLIENT["tax_id"].encode() in export.content
    assert b"Nume Nou" not in export.content and NEW_CUI.encode() not in export.content

    # The stored PDF is the same bytes.
    assert (await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")).content == issued_pdf

    # The proposal's signing page shows it as it was sent.
    signing = await stack.api.get(sign_path)
    assert signing.status_code == 200, signing.text
    assert "Corectat SRL" in signing.text and CLIENT["tax_id"] in signing.text
    assert "Memorandumului" in signing.text and seller_then in signing.text
    for new in ("Nume Nou SRL", NEW_CUI, "Str. Nouă", "Firma Nouă SRL"):
        assert new not in signing.text
    # Signed now: the confirmation names the parties as the proposal did.
    await sign_and_get_invoice(stack, sign_path)
    signed = await _email(stack, f"proposal:{proposal['id']}:signed:1")
    assert seller_then in str(signed["Subject"]) and "Bună ziua, Corectat SRL," in _body(signed)
    assert "Nume Nou" not in _body(signed) and "Firma Nouă" not in str(signed["Subject"])

    # A resend names the parties as the attached invoice does.
    with stack.env.auto_time_skipping_disabled():
        answer = await resend(stack, f"/api/v1/invoices/{invoice_id}", key="after-edit")
    assert answer.status_code == 200, answer.text
    again = await _email(stack, f"invoice:{invoice_id}:resend:after-edit")
    assert str(again["Subject"]) == f"Factura {number} de la {seller_then}"
    assert "Bună ziua, Corectat SRL," in _body(again)
    assert "Nume Nou SRL" not in _body(again) and "Firma Nouă" not in _body(again)
    assert attachment(again)[1] == issued_pdf

    # The credit note, issued today: the seller (the same company, renamed) as it is
    # called now; the buyer's tax id changed, so the client row now names another person:
    # the note cancels the invoice of the buyer it was issued to, under its tax id.
    note = await _credit_note_pdf(stack, invoice_id)
    assert "Firma Nouă SRL" in note and number in note
    assert "Corectat SRL" in note and CLIENT["tax_id"] in note and "Memorandumului" in note
    assert "Nume Nou SRL" not in note and NEW_CUI not in note
    # Its e-Factura XML goes to the same buyer (CIF) as the invoice's.
    xml = await _credit_note_xml(stack, invoice_id)
    assert "<cbc:RegistrationName>Corectat SRL<" in xml and "18547290" in xml
    assert "Nume Nou" not in xml and NEW_CUI[2:] not in xml
    assert "<cbc:RegistrationName>Firma Nouă SRL<" in xml


async def test_a_credit_note_names_the_same_buyer_as_it_is_called_today(stack: Stack) -> None:
    client_id = await create_client(stack)
    invoice_id = await _at_review(stack, client_id)
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    invoice = await wait_invoice_status(stack, invoice_id, "sent")
    link = link_in(await _email(stack, f"invoice:{invoice_id}:invoice:1"), INVOICE_LINK)

    # The same legal person (same tax id) under a new name, address and email.
    await _patch(
        stack,
        f"/api/v1/clients/{client_id}",
        email="nou@exemplu.ro",
        name="Nume Nou SRL",
        street="Str. Nouă 1",
        city="Timișoara",
        postal_code="300001",
        county="RO-TM",
    )
    page = (await stack.api.get(link)).text
    assert CLIENT["name"] in page and "Nume Nou SRL" not in page
    # An invoice issued before parties were stored (none on its row) reads the live rows.
    stored = await stack.db.fetchval(
        "SELECT issued_parties FROM invoices WHERE id = $1", invoice_id
    )
    assert stored is not None
    await stack.db.execute("UPDATE invoices SET issued_parties = NULL WHERE id = $1", invoice_id)
    assert "Nume Nou SRL" in (await stack.api.get(link)).text
    await stack.db.execute(
        "UPDATE invoices SET issued_parties = $2::jsonb WHERE id = $1", invoice_id, stored
    )

    # A reminder quotes the invoice as issued, and goes to the corrected address.
    due = date.fromisoformat(invoice["due_date"])
    await skip_to(stack, local(due, 12))
    reminder = await stack.mail.wait_for(
        lambda m: str(m["X-Q2C-Key"]).startswith(f"invoice:{invoice_id}:reminder:"), timeout=20
    )
    assert reminder["To"] == "nou@exemplu.ro"
    assert f"Bună ziua, {CLIENT['name']}," in _body(reminder)
    assert "Nume Nou SRL" not in _body(reminder)

    note = await _credit_note_pdf(stack, invoice_id)
    assert "Nume Nou SRL" in note and "Str. Nouă 1" in note and CLIENT["tax_id"] in note
    assert invoice["number"] in note  # the invoice it cancels, by number


@pytest.fixture
def own_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A template folder (Q2C_TEMPLATES_DIR) set before the stack starts (as in
    tests/test_hardening.py)."""
    folder = tmp_path / "templates"
    (folder / "pdf").mkdir(parents=True)
    monkeypatch.setenv("Q2C_TEMPLATES_DIR", str(folder))
    return folder


async def test_a_proposal_sent_again_after_a_failed_pdf_is_sent_with_the_fixed_details(
    own_templates: Path, stack: Stack
) -> None:
    for name in PROPOSAL_LAYOUTS:
        (own_templates / "pdf" / name).write_text(BROKEN_TEMPLATE, encoding="utf-8")
    client_id = await create_client(stack)
    proposal_id = (await create_proposal(stack, client_id))["id"]

    async def back_to_draft() -> bool:
        shown = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return bool(await _proposal_render_tasks(stack, proposal_id)) and (
            shown["status"] == "draft"
        )

    await eventually(back_to_draft, within=90, what="the proposal back to draft")
    handle = stack.env.client.get_workflow_handle(f"proposal-{proposal_id}")
    await asyncio.wait_for(handle.result(), timeout=30)

    # Nothing reached the client: the details fixed meanwhile are the ones it is sent with.
    await _patch(stack, f"/api/v1/clients/{client_id}", name="Corectat SRL")
    for name in PROPOSAL_LAYOUTS:
        (own_templates / "pdf" / name).unlink()
    sent = await stack.api.post(f"/api/v1/proposals/{proposal_id}/send")
    assert sent.status_code == 200, sent.text
    message, sign_path = await proposal_email(stack)
    assert "Bună ziua, Corectat SRL," in _body(message)
    assert "Corectat SRL" in pdf_text(attachment(message)[1])

    # And keeps them once sent.
    await _patch(stack, f"/api/v1/clients/{client_id}", name="Nume Nou SRL")
    signing = (await stack.api.get(sign_path)).text
    assert "Corectat SRL" in signing and "Nume Nou SRL" not in signing
