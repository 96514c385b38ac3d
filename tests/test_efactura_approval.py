"""RO e-Factura at approval (issue 14, point 4): a Romanian seller's invoice is built as
CIUS-RO XML and validated with the official rules before it takes its number; a refusal
keeps it in review with the reason, an edit clears it; what is stored after numbering is
the XML later uploaded, and the credit note of a voided invoice gets its own."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from typing import Any

from activities import efactura_rules
from tests.conftest import Stack
from tests.helpers import (
    CLIENT,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_company import RU_CLIENT
from tests.test_contracts import create_contract, invoice_from
from tests.test_operators import add_operator, as_key

UBL = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


async def _draft(stack: Stack, *, no_address: bool = False, **client: Any) -> str:
    client_id = await create_client(stack, **client)
    if no_address:
        # As a client kept from before addresses had parts: only the printed line.
        await stack.db.execute(
            "UPDATE clients SET street = '', city = '', postal_code = '', county = '' "
            "WHERE id = $1",
            client_id,
        )
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, client.get("email", CLIENT["email"]))
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    return invoice_id


async def _refused(stack: Stack, invoice_id: str) -> dict[str, Any]:
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text

    async def refusal() -> dict[str, Any] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
        return invoice if invoice["approval_error"] else None

    return await eventually(refusal, what="the approval to be refused")


async def test_an_approved_romanian_invoice_keeps_the_valid_xml_it_was_checked_with(
    stack: Stack,
) -> None:
    invoice = await issued_invoice(stack)
    # Submission is off in this stack: the XML waits, pending.
    assert invoice["efactura"]["status"] == "pending"
    assert invoice["efactura"]["upload_index"] is None
    response = await stack.api.get(f"/api/v1/invoices/{invoice['id']}/efactura.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    xml = response.content
    root = ElementTree.fromstring(xml)
    assert root.tag.endswith("}Invoice")
    assert root.findtext(f"{UBL}ID") == invoice["number"]
    assert root.findtext(f"{UBL}IssueDate") == invoice["issue_date"]
    assert efactura_rules.fatal(efactura_rules.validate(xml)) == []
    assert CLIENT["name"] in xml.decode()

    # A viewer reads it too.
    viewer = await add_operator(stack, "victor", "viewer")
    async with as_key(stack, viewer["key"]) as api:
        read = await api.get(f"/api/v1/invoices/{invoice['id']}/efactura.xml")
    assert read.status_code == 200 and read.content == xml

    missing = await stack.api.get(f"/api/v1/invoices/{invoice['id']}/efactura-answer.zip")
    assert missing.status_code == 404
    assert "ANAF has not answered" in missing.text

    export = await stack.api.get("/api/v1/exports/invoices.csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["number"], r["efactura_status"]) for r in rows] == [(invoice["number"], "pending")]


async def test_a_buyer_without_an_address_is_refused_naming_the_field(stack: Stack) -> None:
    invoice_id = await _draft(stack, no_address=True)
    refused = await _refused(stack, invoice_id)
    assert refused["status"] == "awaiting_review" and refused["number"] is None
    assert refused["approval_error"].startswith("e-Factura: ")
    assert "buyer" in refused["approval_error"] and "street" in refused["approval_error"]
    assert refused["efactura"] is None
    audit = await stack.db.fetchval(
        "SELECT data->>'reason' FROM audit_events WHERE invoice_id = $1 AND kind = $2",
        invoice_id,
        "approval_refused",
    )
    assert audit == refused["approval_error"]
    # No number was taken: nothing numbered exists, nothing in the series moved.
    assert await stack.db.fetchval("SELECT count(*) FROM invoices WHERE number IS NOT NULL") == 0

    edited = await stack.api.patch(f"/api/v1/invoices/{invoice_id}", json={"notes": "corectat"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["approval_error"] is None


async def test_a_rule_the_document_breaks_is_named_in_the_refusal(stack: Stack) -> None:
    invoice_id = await _draft(stack)
    # A buyer's VAT id without its country prefix (as a row from an older import might
    # hold): EN 16931's BR-CO-09 refuses it.
    await stack.db.execute("UPDATE clients SET vat_id = 'XX123'")
    refused = await _refused(stack, invoice_id)
    assert refused["status"] == "awaiting_review" and refused["number"] is None
    assert refused["approval_error"].startswith("e-Factura: BR-CO-09: ")
    assert "ISO 3166-1 alpha-2" in refused["approval_error"]


async def test_the_first_invoice_approved_after_a_refusal_takes_the_first_number(
    stack: Stack,
) -> None:
    invoice_id = await _draft(stack, no_address=True)
    await _refused(stack, invoice_id)
    await stack.db.execute(
        "UPDATE clients SET street = 'Str. Memorandumului 28', city = 'Cluj-Napoca', "
        "postal_code = '400114', county = 'RO-CJ'"
    )
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    assert sent["number"].endswith("0001") and sent["approval_error"] is None
    xml = (await stack.api.get(f"/api/v1/invoices/{invoice_id}/efactura.xml")).content
    assert ElementTree.fromstring(xml).findtext(f"{UBL}ID") == sent["number"]


async def test_a_seller_outside_romania_needs_no_efactura(stack: Stack) -> None:
    moved = await stack.api.patch(
        "/api/v1/company",
        json={
            "country": "RU",
            "tax_id": "7707083893",
            "kpp": "773601001",
            "registration_number": "1027700132195",
            "iban": "",
            "locale": "ru",
            "street": "ул. Тверская, 1",
            "city": "Москва",
            "postal_code": "101000",
            "county": "",
        },
    )
    assert moved.status_code == 200, moved.text
    russian = await create_client(stack, **RU_CLIENT)
    contract = await create_contract(
        stack,
        russian,
        number="7-У",
        currency="RUB",
        lines=[{"description": "Консультация", "unit_price": "30000", "vat_rate": "22"}],
    )
    invoice_id = (await invoice_from(stack, contract["id"]))["id"]
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    assert sent["efactura"]["status"] == "not_required"
    missing = await stack.api.get(f"/api/v1/invoices/{invoice_id}/efactura.xml")
    assert missing.status_code == 404 and "no e-Factura XML" in missing.text


async def test_the_credit_note_of_a_voided_invoice_gets_its_own_xml(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    voided = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/void", json={"reason": "anulată"}
    )
    assert voided.status_code == 202

    async def credit_note() -> dict[str, Any] | None:
        current = await get_json(stack, f"/api/v1/invoices/{invoice['id']}")
        return current if current["credit_note_id"] else None

    credit_note_id = (await eventually(credit_note, what="the credit note"))["credit_note_id"]
    note = await get_json(stack, f"/api/v1/credit-notes/{credit_note_id}")
    assert note["efactura"]["status"] == "pending"
    response = await stack.api.get(f"/api/v1/credit-notes/{credit_note_id}/efactura.xml")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)
    assert root.tag.endswith("}CreditNote")
    assert root.findtext(f"{UBL}ID") == note["number"]
    assert root.findtext(f"{UBL}CreditNoteTypeCode") == "381"
    assert invoice["number"] in response.text
    assert efactura_rules.fatal(efactura_rules.validate(response.content)) == []
