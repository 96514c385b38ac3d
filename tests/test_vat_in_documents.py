"""VAT on real proposals and invoices (domain.vat wired in): rates checked against the
seller's country and the document's date with the field named, an approval refused on its
issue date that keeps the invoice in review, gross prices with a document discount to the
cent on the API and the PDF, legal mentions, and a Romanian EUR invoice's VAT in RON."""

from __future__ import annotations

import hashlib
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.worker import Replayer

from messages.models import invoice_workflow_id
from tests.conftest import Stack
from tests.helpers import (
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    make_seller_russian,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_company import RU_CLIENT
from tests.test_contracts import CONTRACT, create_contract, invoice_from, invoice_pdf
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

HISTORIES = Path(__file__).parent / "histories"

# Prices with VAT, 5 % off the whole document (hand-computed below, per VAT group).
GROSS_LINES = [
    {"description": "Consultanță", "quantity": "2", "unit_price": "99.99", "vat_rate": "21"},
    {"description": "Traducere", "quantity": "1", "unit_price": "45.50", "vat_rate": "11"},
]


async def test_a_rate_no_longer_in_force_is_refused_with_the_field_named(stack: Stack) -> None:
    client_id = await create_client(stack)
    lines = [
        {"description": "a", "quantity": "1", "unit_price": "10", "vat_rate": "21"},
        {"description": "b", "quantity": "1", "unit_price": "10", "vat_rate": "19"},
    ]
    body: dict[str, Any] = {
        "client_id": client_id,
        "currency": "RON",
        "valid_until": (date.today() + timedelta(days=30)).isoformat(),
        "lines": lines,
    }
    refused = await stack.api.post("/api/v1/proposals", json=body)
    assert refused.status_code == 422
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "lines", 1, "vat_rate"]
    # Romania's 19 % ended on 2025-07-31 (21 % from 2025-08-01).
    assert error["msg"].startswith("19 % is not a RO VAT rate on ")
    assert "21 % (standard)" in error["msg"]
    # A 0 % line on a Romanian document must say why: exempt, reverse charge, ...
    zero = body | {"lines": [lines[0] | {"vat_rate": "0"}]}
    refused = await stack.api.post("/api/v1/proposals", json=zero)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "lines", 0, "vat_rate"]
    assert "0 % (zero) is not a RO VAT rate" in refused.json()["detail"][0]["msg"]
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 0

    proposal = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    edit = await stack.api.patch(
        f"/api/v1/invoices/{invoice_id}",
        json={"lines": [lines[1] | {"vat_category": "standard"}]},
    )
    assert edit.status_code == 422
    [refused] = edit.json()["detail"]
    assert refused["loc"] == ["body", "lines", 0, "vat_rate"]
    assert refused["msg"].startswith("19 % is not a RO VAT rate on")
    assert proposal["total"] == (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["total"]


async def test_an_approval_on_a_day_the_rate_is_gone_keeps_the_invoice_in_review(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    created = await invoice_from(stack, contract["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    # As a draft made before 1 August 2025 would hold it.
    await stack.db.execute(
        "UPDATE invoice_lines SET vat_rate = 19 WHERE invoice_id = $1 AND position = 2",
        created["id"],
    )
    approved = await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")
    assert approved.status_code == 202

    async def refusal() -> dict[str, Any] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{created['id']}")
        return invoice if invoice["approval_error"] else None

    refused = await eventually(refusal, what="the approval to be refused")
    assert refused["status"] == "awaiting_review" and refused["number"] is None
    assert refused["approval_error"].startswith("lines[1].vat_rate: 19 % is not a RO VAT rate")
    audit = await stack.db.fetchval(
        "SELECT data->>'reason' FROM audit_events WHERE invoice_id = $1 AND kind = $2",
        created["id"],
        "approval_refused",
    )
    assert audit == refused["approval_error"]

    # The operator corrects the line; the reason goes, and the next approval goes through.
    fixed = await stack.api.patch(
        f"/api/v1/invoices/{created['id']}",
        json={
            "lines": [
                {
                    "description": line["description"],
                    "quantity": "1",
                    "unit_price": line["unit_price"],
                    "vat_rate": "21",
                }
                for line in CONTRACT["lines"]
            ]
        },
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["approval_error"] is None
    assert (await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")).status_code == 202
    sent = await wait_invoice_status(stack, created["id"], "sent")
    assert sent["number"] and sent["total"] == "2783.00"

    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(created["id"]))
    await handle.terminate("ends the recording")
    history = await handle.fetch_history()
    await Replayer(workflows=[ProposalWorkflow, InvoiceWorkflow]).replay_workflow(history)
    if os.environ.get("Q2C_RECORD_HISTORIES"):
        text = history.to_json()
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        path = HISTORIES / f"invoice-approval-refused-{len(history.events)}-{digest}.json"
        path.write_text(text)


async def test_gross_prices_and_a_document_discount_to_the_cent(stack: Stack) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(
        stack, client_id, lines=GROSS_LINES, prices_include_vat=True, discount_percent="5"
    )
    # 21 %: 2 x 99.99 = 199.98 with VAT, 5 % off = 10.00 (9.999), 189.98 to pay, of which
    #       VAT 189.98 x 21 / 121 = 32.97, base 157.01.
    # 11 %: 45.50, 5 % off = 2.28 (2.275), 43.22 to pay, VAT 43.22 x 11 / 111 = 4.28,
    #       base 38.94.
    # Base 157.01 + 38.94 = 195.95, VAT 32.97 + 4.28 = 37.25, total 233.20 = 189.98 + 43.22.
    assert (proposal["subtotal"], proposal["vat_total"], proposal["total"]) == (
        "195.95",
        "37.25",
        "233.20",
    )
    assert (proposal["prices_include_vat"], proposal["discount_percent"]) == (True, "5")

    contract = await create_contract(
        stack,
        client_id,
        number="G-1",
        prices_include_vat=True,
        discount_percent="5",
        lines=[line | {"quantity": line["quantity"]} for line in GROSS_LINES],
    )
    created = await invoice_from(stack, contract["id"])
    invoice = await wait_invoice_status(stack, created["id"], "awaiting_review")
    assert (invoice["subtotal"], invoice["vat_total"], invoice["total"], invoice["amount_due"]) == (
        "195.95",
        "37.25",
        "233.20",
        "233.20",
    )
    # The lines without VAT: 199.98 - 34.71 (its VAT) = 165.27; 45.50 - 4.51 = 40.99.
    assert [line["net_amount"] for line in invoice["lines"]] == ["165.27", "40.99"]
    text = await invoice_pdf(stack, created["id"])
    for printed in (
        # Unit prices without VAT: 99.99 / 1.21 = 82.64; 45.50 / 1.11 = 40.99.
        "82,64 RON",
        "40,99 RON",
        # 165.27 + 40.99 = 206.26 before the discount; 206.26 - 195.95 = 10.31 off.
        "Total linii 206,26 RON",
        "Reducere 5% -10,31 RON",
        "Cota 21% 157,01 RON 32,97 RON",
        "Cota 11% 38,94 RON 4,28 RON",
        "Total 195,95 RON 37,25 RON",
        "Total de plată 233,20 RON",
        "două sute treizeci și trei de lei și douăzeci de bani",
    ):
        assert printed in text, printed


async def test_exempt_and_reverse_charge_lines_print_their_legal_mentions(stack: Stack) -> None:
    german = await create_client(
        stack,
        name="Nordic Shipping GmbH",
        email="ap@nordic.de",
        country="DE",
        locale="en",
        tax_id="",
        vat_id="DE136695976",
        street="Am Sandtorkai 1",
        city="Hamburg",
        postal_code="20457",
        county="",
    )
    contract = await create_contract(
        stack,
        german,
        number="EU-1",
        currency="EUR",
        lines=[
            {
                "description": "Legal opinion",
                "unit_price": "1500",
                "vat_rate": "0",
                "vat_category": "reverse_charge",
            }
        ],
    )
    created = await invoice_from(stack, contract["id"], exchange_rate="4.9750")
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    text = await invoice_pdf(stack, created["id"])
    assert "Contract no. EU-1 of November 1, 2026" in text
    assert "VAT: Reverse charge" in text
    assert "Total 1,500.00" in text or "€1,500.00" in text

    romanian = await create_client(stack, email="scutit@exemplu.ro")
    exempt = await create_contract(
        stack,
        romanian,
        number="RO-2",
        lines=[
            {
                "description": "Curs de formare",
                "unit_price": "800",
                "vat_rate": "0",
                "vat_category": "exempt",
                "vat_legal_basis": "art. 292 alin. (2) lit. a) din Codul fiscal",
            },
            {
                "description": "Servicii de construcții",
                "unit_price": "1000",
                "vat_rate": "0",
                "vat_category": "reverse_charge",
            },
        ],
    )
    created = await invoice_from(stack, exempt["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    text = await invoice_pdf(stack, created["id"])
    assert "Scutit de TVA conform art. 292 alin. (2) lit. a) din Codul fiscal" in text
    assert "Taxare inversă" in text

    await make_seller_russian(stack)
    russian = await create_client(stack, **RU_CLIENT)
    usn = await create_contract(
        stack,
        russian,
        number="5-У",
        currency="RUB",
        lines=[
            {
                "description": "Консультация",
                "unit_price": "30000",
                "vat_rate": "0",
                "vat_category": "not_subject",
            }
        ],
    )
    created = await invoice_from(stack, usn["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    text = await invoice_pdf(stack, created["id"])
    assert "НДС: Без НДС" in text
    assert "Всего к оплате: 30 000,00 ₽" in text


async def test_a_romanian_eur_invoice_shows_its_vat_in_ron(stack: Stack) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(
        stack,
        client_id,
        number="EUR-1",
        currency="EUR",
        lines=[
            {
                "description": "Consultanță",
                "quantity": "10",
                "unit_price": "100.00",
                "vat_rate": "21",
            }
        ],
    )
    created = await invoice_from(stack, contract["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    # Approval needs the exchange rate the VAT in RON is computed at.
    assert (await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")).status_code == 202

    async def refusal() -> dict[str, Any] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{created['id']}")
        return invoice if invoice["approval_error"] else None

    refused = await eventually(refusal, what="the approval to be refused")
    assert refused["status"] == "awaiting_review"
    assert refused["approval_error"].startswith("exchange_rate: a Romanian invoice in EUR")

    patched = await stack.api.patch(
        f"/api/v1/invoices/{created['id']}", json={"exchange_rate": "4.9750"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["exchange_rate"] == "4.975"
    assert (await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")).status_code == 202
    sent = await wait_invoice_status(stack, created["id"], "sent")
    message = await stack.mail.wait_for(lambda m: sent["number"] in str(m["Subject"]))
    _, pdf = attachment(message)
    text = pdf_text(pdf)
    # 1000.00 EUR at 21 % = 210.00 EUR VAT; x 4.9750 = 1044.75 lei.
    for printed in (
        "TVA în lei · Curs de schimb: 1 EUR = 4,9750 lei",
        "TVA 21% (210,00 EUR) 1.044,75 RON",
        "Total TVA în lei 1.044,75 RON",
        "Total de plată 1.210,00 EUR",
    ):
        assert printed in text, printed

    ron = await stack.api.post(
        f"/api/v1/contracts/{(await create_contract(stack, client_id, number='RON-1'))['id']}"
        "/invoices",
        json={"exchange_rate": "4.97"},
    )
    assert ron.status_code == 422
    assert ron.json()["detail"][0]["loc"] == ["body", "exchange_rate"]
