"""The seller's and clients' legal details through the API: checked per country, refused
with the field named, and bank accounts with one default per currency."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack
from tests.helpers import CLIENT, issued_invoice, pdf_text

RU_CLIENT = {
    "name": "ООО «Ромашка»",
    "email": "buh@romashka.ru",
    "country": "RU",
    "locale": "ru",
    "tax_id": "7707083893",
    "kpp": "773601001",
    "registration_number": "1027700132195",
    "bank_name": "ПАО Сбербанк",
    "bik": "044525225",
    "settlement_account": "40702810938000012345",
    "correspondent_account": "30101810400000000225",
    "street": "ул. Лесная, 5",
    "city": "Москва",
    "postal_code": "125047",
    "county": "",
}


async def test_valid_romanian_and_russian_clients_are_accepted(stack: Stack) -> None:
    ro = await stack.api.post(
        "/api/v1/clients",
        json=CLIENT
        | {"registration_number": "J40/1234/2020", "iban": "RO49 AAAA 1B31 0075 9384 0000"},
    )
    assert ro.status_code == 201, ro.text
    assert ro.json()["tax_id"] == "RO18547290"
    assert ro.json()["iban"] == "RO49AAAA1B31007593840000", "stored compact"

    ru = await stack.api.post("/api/v1/clients", json=RU_CLIENT)
    assert ru.status_code == 201, ru.text
    body = ru.json()
    assert (body["tax_id"], body["kpp"], body["registration_number"]) == (
        "7707083893",
        "773601001",
        "1027700132195",
    )
    fetched = await stack.api.get(f"/api/v1/clients/{body['id']}")
    assert fetched.json()["settlement_account"] == "40702810938000012345"


@pytest.mark.parametrize(
    ("base", "field", "value"),
    [
        (CLIENT, "tax_id", "RO18547291"),
        (CLIENT, "registration_number", "J99/1234/2020"),
        (CLIENT, "iban", "RO49AAAA1B31007593840001"),
        (CLIENT, "kpp", "773601001"),  # a Romanian client has no КПП
        (RU_CLIENT, "tax_id", "7707083894"),
        (RU_CLIENT, "kpp", "77360100"),
        (RU_CLIENT, "registration_number", "1027700132196"),
        (RU_CLIENT, "bik", "04452522"),
        (RU_CLIENT, "settlement_account", "40702810038000012345"),
        (RU_CLIENT, "correspondent_account", "30101810400000000226"),
        (CLIENT | {"country": "DE", "tax_id": ""}, "vat_id", "DE136695977"),
    ],
)
async def test_an_invalid_client_field_is_refused_by_name(
    stack: Stack, base: dict[str, Any], field: str, value: str
) -> None:
    response = await stack.api.post("/api/v1/clients", json=base | {field: value})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert field in response.json()["detail"][0]["msg"]
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0


async def test_the_seller_company_details_are_read_and_patched(stack: Stack) -> None:
    company = await stack.api.get("/api/v1/company")
    assert company.status_code == 200, company.text
    assert company.json()["tax_id"] == "RO18547290" and company.json()["country"] == "RO"

    patched = await stack.api.patch(
        "/api/v1/company",
        json={
            "registration_number": "J40/1234/2020",
            "legal_form": "SRL",
            "accent_color": "#aa3300",
            "footer_text": "Capital social 200 lei",
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["registration_number"] == "J40/1234/2020"
    assert patched.json()["accent_color"] == "#aa3300"

    bad = await stack.api.patch("/api/v1/company", json={"tax_id": "RO18547291"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "tax_id"]
    # A Russian seller: the Romanian Reg. Com. no longer fits, so it must change too.
    moved = await stack.api.patch(
        "/api/v1/company",
        json={"country": "RU", "tax_id": "7707083893", "kpp": "773601001", "locale": "ru"},
    )
    assert moved.status_code == 422
    assert moved.json()["detail"][0]["loc"] == ["body", "registration_number"]
    russian = await stack.api.patch(
        "/api/v1/company",
        json={
            "country": "RU",
            "tax_id": "7707083893",
            "kpp": "773601001",
            "registration_number": "1027700132195",
            "iban": "",
            "locale": "ru",
            "director_name": "Иванов И. И.",
        },
    )
    assert russian.status_code == 200, russian.text
    assert (await stack.api.get("/api/v1/company")).json()["kpp"] == "773601001"


async def test_bank_accounts_keep_one_default_per_currency(stack: Stack) -> None:
    first = await stack.api.post(
        "/api/v1/company/bank-accounts",
        json={
            "currency": "RON",
            "bank_name": "Banca Transilvania",
            "iban": "RO49AAAA1B31007593840000",
            "bic": "BTRLRO22",
        },
    )
    assert first.status_code == 201, first.text
    assert first.json()["is_default"], "the first account in a currency is its default"
    second = await stack.api.post(
        "/api/v1/company/bank-accounts",
        json={"currency": "RON", "bank_name": "BCR", "iban": "RO09BCYP0000001234567890"},
    )
    assert second.status_code == 201 and not second.json()["is_default"]
    rub = await stack.api.post(
        "/api/v1/company/bank-accounts",
        json={
            "currency": "RUB",
            "bank_name": "ПАО Сбербанк",
            "bik": "044525225",
            "settlement_account": "40702810938000012345",
            "correspondent_account": "30101810400000000225",
        },
    )
    assert rub.status_code == 201 and rub.json()["is_default"], rub.text
    third = await stack.api.post(
        "/api/v1/company/bank-accounts",
        json={
            "currency": "RON",
            "bank_name": "BCR",
            "iban": "RO09BCYP0000001234567890",
            "is_default": True,
        },
    )
    assert third.status_code == 201 and third.json()["is_default"]

    listed = (await stack.api.get("/api/v1/company/bank-accounts")).json()
    defaults = {(a["currency"], a["id"]) for a in listed if a["is_default"]}
    assert defaults == {("RON", third.json()["id"]), ("RUB", rub.json()["id"])}

    for bad, field in (
        ({"currency": "RON", "iban": "RO49AAAA1B31007593840001"}, "iban"),
        ({"currency": "RON", "iban": "RO49AAAA1B31007593840000", "bic": "XX"}, "bic"),
        (
            {"currency": "RUB", "bik": "044525225", "settlement_account": "40702810038000012345"},
            "settlement_account",
        ),
        ({"currency": "RON"}, "iban"),
    ):
        refused = await stack.api.post("/api/v1/company/bank-accounts", json=bad)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    assert len((await stack.api.get("/api/v1/company/bank-accounts")).json()) == 4


async def test_the_document_series_are_set_on_the_company(stack: Stack) -> None:
    changed = await stack.api.patch(
        "/api/v1/company",
        json={"invoice_series": "FCT", "proposal_series": "OFR", "credit_note_series": "STORNO"},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["invoice_series"], body["proposal_series"], body["credit_note_series"]) == (
        "FCT",
        "OFR",
        "STORNO",
    )
    invoice = await issued_invoice(stack)
    assert invoice["number"].startswith("FCT-")
    proposal = await stack.db.fetchrow("SELECT series, number FROM proposals")
    assert proposal is not None and proposal["number"].startswith("OFR-")

    spaced = await stack.api.patch("/api/v1/company", json={"invoice_series": "F CT"})
    assert spaced.status_code == 422
    assert spaced.json()["detail"][0]["loc"] == ["body", "invoice_series"]


# --- addresses in parts (CIUS-RO) ----------------------------------------------------------

CLUJ_PARTS = {
    "street": "Str. Memorandumului 28",
    "city": "Cluj-Napoca",
    "postal_code": "400114",
    "county": "RO-CJ",
}
LINE_ONLY = {key: value for key, value in CLIENT.items() if key not in CLUJ_PARTS}


async def test_a_client_given_only_parts_gets_its_printed_line_and_canonical_codes(
    stack: Stack,
) -> None:
    body = LINE_ONLY | {
        "address": "",
        "street": "Bd. Unirii 15",
        "city": "sector 3",
        "postal_code": "030167",
        "county": "b",
    }
    created = await stack.api.post("/api/v1/clients", json=body)
    assert created.status_code == 201, created.text
    fetched = (await stack.api.get(f"/api/v1/clients/{created.json()['id']}")).json()
    assert {key: fetched[key] for key in ("street", "city", "postal_code", "county")} == {
        "street": "Bd. Unirii 15",
        "city": "SECTOR3",
        "postal_code": "030167",
        "county": "RO-B",
    }
    assert fetched["address"] == "Bd. Unirii 15, 030167 București, Sector 3"
    assert fetched["address_needs_review"] is False

    typed = await stack.api.post(
        "/api/v1/clients", json=CLIENT | {"email": "b@exemplu.ro", "tax_id": ""}
    )
    assert typed.json()["address"] == CLIENT["address"], "a line given is the printed form"
    assert typed.json()["county"] == "RO-CJ" and typed.json()["address_needs_review"] is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("county", "RO-XX", "not a Romanian county"),
        ("county", "DE-BY", "not a Romanian county"),
        ("county", "", "a Romanian address names its county"),
        ("city", "Sector 9", "SECTOR1 … SECTOR6"),
        ("postal_code", "4001", "6 digits"),
        ("street", "S" * 151, "150"),
        ("city", "C" * 51, "50"),
    ],
)
async def test_a_bad_address_part_is_refused_naming_the_field(
    stack: Stack, field: str, value: str, message: str
) -> None:
    base = CLIENT | ({"county": "RO-B"} if value == "Sector 9" else {})
    response = await stack.api.post("/api/v1/clients", json=base | {field: value})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field] and message in error["msg"]
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0


async def test_a_client_known_only_by_its_line_is_flagged_until_its_parts_are_patched(
    stack: Stack,
) -> None:
    created = await stack.api.post("/api/v1/clients", json=LINE_ONLY)
    assert created.status_code == 201, created.text
    client = created.json()
    assert client["address_needs_review"] is True and client["street"] == ""
    path = f"/api/v1/clients/{client['id']}"

    bad = await stack.api.patch(path, json=CLUJ_PARTS | {"county": "Transilvania"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "county"]
    assert (await stack.api.get(path)).json()["address_needs_review"] is True

    patched = await stack.api.patch(path, json=CLUJ_PARTS | {"county": "Cluj"})
    assert patched.status_code == 200, patched.text
    answer = patched.json()
    assert answer["county"] == "RO-CJ" and answer["address_needs_review"] is False
    assert answer["address"] == "Str. Memorandumului 28, 400114 Cluj-Napoca, jud. Cluj"
    assert answer["name"] == CLIENT["name"] and answer["tax_id"] == CLIENT["tax_id"]

    typed = await stack.api.patch(path, json={"address": "Str. Memorandumului 28, Cluj"})
    assert typed.json()["address"] == "Str. Memorandumului 28, Cluj"
    assert typed.json()["city"] == "Cluj-Napoca", "a new line alone keeps the parts"
    assert (await stack.api.patch(path, json={"city": None})).status_code == 422
    missing = await stack.api.patch(
        "/api/v1/clients/3fa85f64-5717-4562-b3fc-2c963f66afa6", json={"city": "Cluj-Napoca"}
    )
    assert missing.status_code == 404


async def test_the_seller_has_a_complete_romanian_address_and_patches_its_parts(
    stack: Stack,
) -> None:
    company = (await stack.api.get("/api/v1/company")).json()
    assert {key: company[key] for key in ("street", "city", "postal_code", "county")} == {
        "street": "Str. Exemplu 1",
        "city": "SECTOR1",
        "postal_code": "010011",
        "county": "RO-B",
    }
    assert company["country"] == "RO" and company["address_needs_review"] is False

    bad = await stack.api.patch("/api/v1/company", json={"city": "București"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "city"]

    moved = await stack.api.patch(
        "/api/v1/company", json={"street": "Calea Victoriei 155", "city": "Sector 1"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["city"] == "SECTOR1"
    assert moved.json()["address"] == "Calea Victoriei 155, 010011 București, Sector 1"

    # Another country: the Romanian parts no longer apply; the printed line stays, flagged.
    russian = await stack.api.patch(
        "/api/v1/company",
        json={"country": "RU", "tax_id": "7707083893", "registration_number": "", "iban": ""},
    )
    assert russian.status_code == 200, russian.text
    assert russian.json()["county"] == "" and russian.json()["street"] == ""
    assert russian.json()["address"] == "Calea Victoriei 155, 010011 București, Sector 1"
    assert russian.json()["address_needs_review"] is True
    in_moscow = await stack.api.patch(
        "/api/v1/company",
        json={"street": "ул. Вавилова, 19", "city": "Москва", "county": "RU-MOW"},
    )
    assert in_moscow.status_code == 200, in_moscow.text
    assert in_moscow.json()["address"] == "ул. Вавилова, 19, Москва, MOW"
    wrong = await stack.api.patch("/api/v1/company", json={"county": "RO-CJ"})
    assert wrong.json()["detail"][0]["loc"] == ["body", "county"]


async def test_the_invoice_pdf_prints_the_line_made_from_the_parts(stack: Stack) -> None:
    invoice = await issued_invoice(
        stack, address="", street="Bd. Eroilor 3", city="Cluj-Napoca", postal_code="400129"
    )
    pdf = await stack.api.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200
    text = " ".join(pdf_text(pdf.content).split())
    assert "Bd. Eroilor 3, 400129 Cluj-Napoca, jud. Cluj" in text
    assert "Str. Exemplu 1, 010011 București, Sector 1" in text, "the seller's line"
