"""Contracts through the API: created, listed and refused with the field named; invoices
made straight from a contract land in review with its lines and terms and print the
reference; a proposal may reference a contract and its invoice inherits it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.contracts import (
    DocumentLine,
    check_exchange_rate,
    check_line_rates,
    contract_invoice_lines,
)
from domain.errors import InvalidInput
from domain.vat import VatCategory
from starter.cli.main import main
from tests.conftest import Stack
from tests.helpers import (
    attachment,
    create_client,
    create_proposal,
    get_json,
    make_seller_russian,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_company import RU_CLIENT

CONTRACT: dict[str, Any] = {
    "number": "C-2026/07",
    "contract_date": "2026-11-01",
    "subject": "Asistență juridică lunară",
    "currency": "RON",
    "payment_terms_days": 30,
    "lines": [
        {
            "description": "Abonament asistență juridică",
            "unit": "lună",
            "unit_price": "2000.00",
            "vat_rate": "21",
        },
        {"description": "Ore suplimentare", "unit": "h", "unit_price": "300.00", "vat_rate": "21"},
    ],
}


async def create_contract(stack: Stack, client_id: str, **overrides: Any) -> dict[str, Any]:
    response = await stack.api.post(
        "/api/v1/contracts", json=CONTRACT | {"client_id": client_id} | overrides
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def invoice_from(stack: Stack, contract_id: str, **body: Any) -> dict[str, Any]:
    response = await stack.api.post(f"/api/v1/contracts/{contract_id}/invoices", json=body)
    assert response.status_code == 201, response.text
    invoice: dict[str, Any] = response.json()
    return invoice


async def invoice_pdf(stack: Stack, invoice_id: str) -> str:
    response = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert response.status_code == 200, response.text
    # Babel puts a narrow no-break space before «г.»; a reader sees a space.
    return pdf_text(response.content).replace("\u202f", " ")


async def test_contracts_are_created_listed_and_refused_with_the_field_named(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    assert contract["number"] == "C-2026/07" and contract["contract_date"] == "2026-11-01"
    assert contract["payment_terms_days"] == 30 and contract["currency"] == "RON"
    # A line without a quantity is a rate or a fixed fee: quantity 1 by default.
    assert [(line["quantity"], line["vat_category"]) for line in contract["lines"]] == [
        ("1", "standard"),
        ("1", "standard"),
    ]
    # 2000.00 + 300.00 at 21 %.
    assert (contract["subtotal"], contract["vat_total"], contract["total"]) == (
        "2300.00",
        "483.00",
        "2783.00",
    )

    other_client = await create_client(stack, email="alt@exemplu.ro")
    await create_contract(stack, other_client, number="C-2026/08", contract_date="2026-10-01")
    listed = await get_json(stack, "/api/v1/contracts")
    assert [item["number"] for item in listed["items"]] == ["C-2026/07", "C-2026/08"]
    mine = await get_json(stack, f"/api/v1/contracts?client_id={client_id}")
    assert [item["id"] for item in mine["items"]] == [contract["id"]]
    shown = await get_json(stack, f"/api/v1/contracts/{contract['id']}")
    assert shown["subject"] == "Asistență juridică lunară" and shown["invoices"] == []

    taken = await stack.api.post("/api/v1/contracts", json=CONTRACT | {"client_id": client_id})
    assert taken.status_code == 409 and "C-2026/07" in taken.json()["detail"]

    unknown = await stack.api.post(
        "/api/v1/contracts",
        json=CONTRACT | {"client_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "number": "X"},
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "client not found"
    missing = await stack.api.get("/api/v1/contracts/3fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert missing.status_code == 404

    no_date = {k: v for k, v in CONTRACT.items() if k != "contract_date"}
    refused = await stack.api.post("/api/v1/contracts", json=no_date | {"client_id": client_id})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "contract_date"]

    old_rate = [*CONTRACT["lines"][:1], CONTRACT["lines"][1] | {"vat_rate": "19"}]
    refused = await stack.api.post(
        "/api/v1/contracts",
        json=CONTRACT | {"client_id": client_id, "number": "C-9", "lines": old_rate},
    )
    assert refused.status_code == 422
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "lines", 1, "vat_rate"]
    assert error["msg"].startswith("19 % is not a RO VAT rate on ")
    count = await stack.db.fetchval("SELECT count(*) FROM contracts")
    assert count == 2, "nothing of a refused contract is kept"


async def test_an_invoice_from_a_contract_lands_in_review_and_prints_its_reference(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    # This month: the fee and 12.5 extra hours.
    created = await invoice_from(stack, contract["id"], quantities=["1", "12.5"])
    assert created["contract_id"] == contract["id"]
    assert created["workflow_id"] == f"invoice-{created['id']}"

    invoice = await wait_invoice_status(stack, created["id"], "awaiting_review")
    assert invoice["proposal_id"] is None and invoice["currency"] == "RON"
    assert [
        (line["description"], line["quantity"], line["unit_price"], line["net_amount"])
        for line in invoice["lines"]
    ] == [
        ("Abonament asistență juridică", "1", "2000.0000", "2000.00"),
        ("Ore suplimentare", "12.5", "300.0000", "3750.00"),
    ]
    # 5750.00 net at 21 % = 1207.50 VAT.
    assert (invoice["subtotal"], invoice["vat_total"], invoice["total"]) == (
        "5750.00",
        "1207.50",
        "6957.50",
    )
    draft = await invoice_pdf(stack, created["id"])
    assert "Contract nr. C-2026/07 din 1 noiembrie 2026" in draft

    approved = await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")
    assert approved.status_code == 202, approved.text
    sent = await wait_invoice_status(stack, created["id"], "sent")
    issued = date.fromisoformat(sent["issue_date"])
    assert date.fromisoformat(sent["due_date"]) == issued + timedelta(days=30)

    message = await stack.mail.wait_for(lambda m: sent["number"] in str(m["Subject"]))
    _, pdf = attachment(message)
    text = pdf_text(pdf)
    assert "Contract nr. C-2026/07 din 1 noiembrie 2026" in text
    assert "Total de plată 6.957,50 RON" in text
    shown = await get_json(stack, f"/api/v1/contracts/{contract['id']}")
    assert shown["invoices"] == [{"id": created["id"], "number": sent["number"], "status": "sent"}]

    # Its own lines instead of the defaults; one quantity per contract line, else refused.
    own = await invoice_from(
        stack,
        contract["id"],
        lines=[
            {
                "description": "Opinie juridică",
                "quantity": "1",
                "unit_price": "900",
                "vat_rate": "21",
            }
        ],
        notes="Conform contractului",
    )
    assert (own["total"], own["notes"]) == ("1089.00", "Conform contractului")
    wrong = await stack.api.post(
        f"/api/v1/contracts/{contract['id']}/invoices", json={"quantities": ["1"]}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "quantities"]
    unknown = await stack.api.post(
        "/api/v1/contracts/3fa85f64-5717-4562-b3fc-2c963f66afa6/invoices", json={}
    )
    assert unknown.status_code == 404


async def test_a_russian_invoice_from_a_contract_prints_the_dogovor(stack: Stack) -> None:
    await make_seller_russian(stack)
    client_id = await create_client(stack, **RU_CLIENT)
    contract = await create_contract(
        stack,
        client_id,
        number="17/2026",
        currency="RUB",
        subject="Юридическое сопровождение",
        lines=[
            {"description": "Абонентское обслуживание", "unit_price": "50000", "vat_rate": "22"}
        ],
    )
    created = await invoice_from(stack, contract["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    text = await invoice_pdf(stack, created["id"])
    assert "Основание:" in text
    assert "Договор № 17/2026 от 1 ноября 2026 г." in text
    # 50 000 + 22 % = 61 000.
    assert "Всего к оплате: 61 000,00 ₽" in text


async def test_a_proposal_references_a_contract_and_its_invoice_inherits_it(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    proposal = await create_proposal(stack, client_id, contract_id=contract["id"])
    assert proposal["contract_id"] == contract["id"]

    message, sign_path = await proposal_email(stack)
    _, pdf = attachment(message)
    assert "Contract nr. C-2026/07 din 1 noiembrie 2026" in pdf_text(pdf)

    invoice_id = await sign_and_get_invoice(stack, sign_path)
    invoice = await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert invoice["contract_id"] == contract["id"]
    assert "Contract nr. C-2026/07 din 1 noiembrie 2026" in await invoice_pdf(stack, invoice_id)

    other_client = await create_client(stack, email="alt@exemplu.ro")
    body = {
        "client_id": other_client,
        "currency": "RON",
        "valid_until": (date.today() + timedelta(days=30)).isoformat(),
        "contract_id": contract["id"],
        "lines": [{"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "21"}],
    }
    refused = await stack.api.post("/api/v1/proposals", json=body)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "contract_id"]
    unknown = await stack.api.post(
        "/api/v1/proposals",
        json=body | {"contract_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
    )
    assert unknown.status_code == 404


def test_cli_makes_an_invoice_from_a_contract(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", "cli-test-key")
    monkeypatch.setenv("Q2C_API_URL", "http://q2c-cli.test")
    contract_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/api/v1/contracts":
            return httpx.Response(200, json={"items": [{"id": contract_id, "number": "C-7"}]})
        return httpx.Response(
            201, json={"id": "inv-1", "total": "6957.50", "currency": "RON", "status": "draft"}
        )

    transport = httpx.MockTransport(answer)
    assert main(["contract", "list"], transport=transport) == 0
    assert "C-7" in capsys.readouterr().out
    code = main(
        ["contracts", "invoice", contract_id, "--quantities", "1,12.5", "--exchange-rate", "4.97"],
        transport=transport,
    )
    assert code == 0
    assert json.loads(sent[-1].content) == {"quantities": ["1", "12.5"], "exchange_rate": "4.97"}
    assert sent[-1].url.path == f"/api/v1/contracts/{contract_id}/invoices"
    assert "6957.50 RON; it awaits review" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["contracts", "invoice", contract_id, "--quantities", "1,x"], transport=transport)


# --- the pure rules (domain/contracts.py) --------------------------------------------------


def _line(rate: str, category: VatCategory | None = None, quantity: str = "1") -> DocumentLine:
    return DocumentLine("x", Decimal(quantity), Decimal("100"), Decimal(rate), category=category)


def test_rates_are_checked_per_country_and_day() -> None:
    after, before = date(2025, 8, 1), date(2025, 7, 31)
    check_line_rates("RO", after, [_line("21"), _line("11"), _line("0", VatCategory.EXEMPT)])
    check_line_rates("RO", before, [_line("19"), _line("9"), _line("5")])
    with pytest.raises(InvalidInput, match=r"^lines\[1\]\.vat_rate: 19 % is not a RO VAT rate"):
        check_line_rates("RO", after, [_line("21"), _line("19")])
    with pytest.raises(InvalidInput, match=r"^lines\[0\]\.vat_rate: 0 % \(zero\) is not a RO"):
        check_line_rates("RO", after, [_line("0")])
    check_line_rates("RU", date(2026, 1, 1), [_line("22"), _line("0"), _line("5")])
    with pytest.raises(InvalidInput, match=r"^lines\[0\]\.vat_rate: 20 % is not a RU VAT rate"):
        check_line_rates("RU", date(2026, 1, 1), [_line("20")])
    # No table for Germany: any rate, as long as the category agrees with it.
    check_line_rates("DE", after, [_line("19"), _line("7"), _line("0", VatCategory.EXEMPT)])
    with pytest.raises(InvalidInput, match=r"^lines\[0\]\.vat_rate: a reverse_charge line has 0"):
        check_line_rates("DE", after, [_line("19", VatCategory.REVERSE_CHARGE)])


def test_contract_lines_take_this_invoices_quantities() -> None:
    defaults = [_line("21"), _line("21", quantity="2")]
    assert contract_invoice_lines(defaults, None) == defaults
    chosen = contract_invoice_lines(defaults, [Decimal("0"), Decimal("12.5")])
    assert [line.quantity for line in chosen] == [Decimal("12.5")]
    with pytest.raises(InvalidInput, match=r"^quantities: give one quantity per contract line"):
        contract_invoice_lines(defaults, [Decimal(1)])
    with pytest.raises(InvalidInput, match=r"^quantities: at least one line"):
        contract_invoice_lines(defaults, [Decimal(0), Decimal(0)])


def test_exchange_rate_belongs_to_romanian_foreign_currency_invoices() -> None:
    check_exchange_rate("RO", "EUR", Decimal("4.975"), required=True)
    check_exchange_rate("RO", "EUR", None, required=False)
    check_exchange_rate("RO", "RON", None, required=True)
    check_exchange_rate("RU", "EUR", None, required=True)
    with pytest.raises(InvalidInput, match=r"^exchange_rate: a Romanian invoice in EUR"):
        check_exchange_rate("RO", "EUR", None, required=True)
    with pytest.raises(InvalidInput, match=r"^exchange_rate: only a Romanian seller"):
        check_exchange_rate("RO", "RON", Decimal("1"), required=False)


async def test_a_crm_proposal_references_a_contract_and_is_checked_like_any(
    stack: Stack,
) -> None:
    from tests.test_webhooks import CRM, crm_event, send

    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    event = await crm_event(
        stack,
        "deal-contract-1",
        client=None,
        client_id=client_id,
        contract_id=contract["id"],
        prices_include_vat=True,
        lines=[{"description": "Audit", "quantity": "1", "unit_price": "121.00", "vat_rate": "21"}],
    )
    event.pop("client")
    created = await send(stack, CRM, "crm", event)
    assert created.status_code == 201, created.text
    proposal = created.json()["proposal"]
    assert proposal["contract_id"] == contract["id"]
    # 121.00 with VAT: 100.00 + 21.00.
    assert (proposal["subtotal"], proposal["vat_total"], proposal["total"]) == (
        "100.00",
        "21.00",
        "121.00",
    )

    old = await crm_event(stack, "deal-contract-2")
    old["lines"][0]["vat_rate"] = "19"
    refused = await send(stack, CRM, "crm", old)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "lines", 0, "vat_rate"]
    stored = await stack.db.fetchval(
        "SELECT count(*) FROM webhook_events WHERE event_id = $1", old["id"]
    )
    assert stored == 0, "a refused event is not kept"


async def test_a_retried_request_with_its_idempotency_key_makes_one_invoice(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    path = f"/api/v1/contracts/{contract['id']}/invoices"
    headers = {"Idempotency-Key": "crm-run-2026-11"}
    first = await stack.api.post(path, json={"quantities": ["1", "2"]}, headers=headers)
    assert first.status_code == 201, first.text
    again = await stack.api.post(path, json={"quantities": ["1", "2"]}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    await wait_invoice_status(stack, first.json()["id"], "awaiting_review")
    count = await stack.db.fetchval(
        "SELECT count(*) FROM invoices WHERE contract_id = $1", contract["id"]
    )
    assert count == 1

    other = await create_contract(stack, client_id, number="C-2026/09")
    reused = await stack.api.post(
        f"/api/v1/contracts/{other['id']}/invoices", json={}, headers=headers
    )
    assert reused.status_code == 409 and "another contract" in reused.json()["detail"]
    fresh = await stack.api.post(path, json={}, headers={"Idempotency-Key": "crm-run-2026-12"})
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
