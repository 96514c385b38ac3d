"""Invoices made by hand (issue 15 point 3): POST /api/v1/invoices makes a draft for a
client that waits at review in its own `invoice-<id>` workflow, exactly as one from a
contract; approved, it is numbered and emailed with the totals it was made with (net or
gross prices, a document discount, a foreign currency at an exchange rate). A retried
request makes one invoice; a refused one keeps nothing; `q2c invoices create` drives it."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from db import invoices
from messages.models import invoice_workflow_id
from starter.cli.main import main
from tests.conftest import Stack
from tests.helpers import attachment, create_client, get_json, pdf_text, wait_invoice_status
from tests.test_contracts import create_contract
from tests.test_operators import add_operator, as_key
from tests.test_vat_in_documents import GROSS_LINES
from workflows.invoice import InvoiceWorkflow

LINES: list[dict[str, Any]] = [
    {
        "description": "Consultanță juridică",
        "quantity": "10",
        "unit": "h",
        "unit_price": "250.00",
        "vat_rate": "21",
    },
    {
        "description": "Redactare contract",
        "quantity": "1",
        "unit_price": "1000.00",
        "vat_rate": "21",
        "discount_percent": "10",
    },
]


async def at_review(stack: Stack, invoice_id: str) -> dict[str, Any]:
    """The invoice once its workflow waits for review, and what the workflow itself says."""
    invoice = await wait_invoice_status(stack, invoice_id, "awaiting_review")
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    snapshot = await handle.query(InvoiceWorkflow.status)
    assert (snapshot.status, snapshot.invoice_id) == ("awaiting_review", invoice_id)
    assert snapshot.total == invoice["total"]
    return invoice


async def approved_pdf(stack: Stack, invoice_id: str) -> tuple[dict[str, Any], str]:
    """Approve through the API; the sent invoice and the text of the PDF its email carries."""
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    sent = await wait_invoice_status(stack, invoice_id, "sent")
    message = await stack.mail.wait_for(lambda m: sent["number"] in str(m["Subject"]))
    assert message["To"] == "plati@exemplu.ro"
    _, pdf = attachment(message)
    return sent, pdf_text(pdf)


async def test_a_manual_invoice_waits_at_review_and_is_emailed_with_its_totals(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    contract = await create_contract(stack, client_id)
    olga = await add_operator(stack, "olga", "operator")
    body = {
        "client_id": client_id,
        "currency": "RON",
        "lines": LINES,
        "payment_terms_days": 10,
        "contract_id": contract["id"],
        "notes": "Conform discuției din 2 decembrie",
    }
    async with as_key(stack, olga["key"]) as api:
        created = await api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "k-1"})
        assert created.status_code == 201, created.text
        invoice = created.json()
        # A retried request (same key) answers the first one's invoice and makes none.
        again = await api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == invoice["id"]
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1
    assert invoice["workflow_id"] == f"invoice-{invoice['id']}"
    assert (invoice["contract_id"], invoice["proposal_id"], invoice["number"]) == (
        contract["id"],
        None,
        None,
    )
    # 2500.00 + 900.00 (1000.00 less 10 %) = 3400.00 net; 21 % = 714.00.
    assert (invoice["subtotal"], invoice["vat_total"], invoice["total"]) == (
        "3400.00",
        "714.00",
        "4114.00",
    )

    reviewed = await at_review(stack, invoice["id"])
    assert [(line["description"], line["net_amount"]) for line in reviewed["lines"]] == [
        ("Consultanță juridică", "2500.00"),
        ("Redactare contract", "900.00"),
    ]
    audit = await stack.db.fetch(
        "SELECT kind, actor, data FROM audit_events WHERE invoice_id = $1 ORDER BY id",
        invoice["id"],
    )
    assert [(row["kind"], row["actor"]) for row in audit] == [("created_by_hand", "operator:olga")]
    assert json.loads(audit[0]["data"])["client_id"] == client_id

    sent, text = await approved_pdf(stack, invoice["id"])
    assert date.fromisoformat(sent["due_date"]) == date.fromisoformat(
        sent["issue_date"]
    ) + timedelta(days=10)
    for printed in (
        sent["number"],
        "Contract nr. C-2026/07 din 1 noiembrie 2026",
        "Cota 21% 3.400,00 RON 714,00 RON",
        "Total de plată 4.114,00 RON",
        "Conform discuției din 2 decembrie",
    ):
        assert printed in text, printed


async def test_gross_prices_a_discount_and_a_foreign_currency(stack: Stack) -> None:
    client_id = await create_client(stack)
    gross = await stack.api.post(
        "/api/v1/invoices",
        json={
            "client_id": client_id,
            "currency": "RON",
            "lines": GROSS_LINES,
            "prices_include_vat": True,
            "discount_percent": "5",
        },
    )
    assert gross.status_code == 201, gross.text
    # The same gross lines and 5 % as tests/test_vat_in_documents.py works out to the cent.
    assert (gross.json()["subtotal"], gross.json()["vat_total"], gross.json()["total"]) == (
        "195.95",
        "37.25",
        "233.20",
    )
    assert (gross.json()["prices_include_vat"], gross.json()["discount_percent"]) == (True, "5")
    await at_review(stack, gross.json()["id"])
    _, text = await approved_pdf(stack, gross.json()["id"])
    for printed in (
        "Total linii 206,26 RON",
        "Reducere 5% -10,31 RON",
        "Total de plată 233,20 RON",
    ):
        assert printed in text, printed

    eur = await stack.api.post(
        "/api/v1/invoices",
        json={
            "client_id": client_id,
            "currency": "EUR",
            "exchange_rate": "4.9750",
            "lines": [
                {
                    "description": "Consultanță",
                    "quantity": "10",
                    "unit_price": "100.00",
                    "vat_rate": "21",
                }
            ],
        },
    )
    assert eur.status_code == 201, eur.text
    assert (eur.json()["currency"], eur.json()["exchange_rate"]) == ("EUR", "4.975")
    await at_review(stack, eur.json()["id"])
    # Approved straight away: the rate given at creation is the one its VAT is shown at.
    _, text = await approved_pdf(stack, eur.json()["id"])
    # 1000.00 EUR at 21 % = 210.00 EUR VAT; x 4.9750 = 1044.75 lei.
    for printed in (
        "TVA în lei · Curs de schimb: 1 EUR = 4,9750 lei",
        "TVA 21% (210,00 EUR) 1.044,75 RON",
        "Total de plată 1.210,00 EUR",
    ):
        assert printed in text, printed


async def test_refused_requests_keep_nothing_and_name_the_field(stack: Stack) -> None:
    client_id = await create_client(stack)
    other_id = await create_client(stack, email="alt@exemplu.ro")
    others_contract = await create_contract(stack, other_id)
    body: dict[str, Any] = {"client_id": client_id, "currency": "RON", "lines": LINES[:1]}

    async def refused(status: int, change: dict[str, Any], **headers: str) -> Any:
        response = await stack.api.post("/api/v1/invoices", json=body | change, headers=headers)
        assert response.status_code == status, response.text
        return response.json()["detail"]

    detail = await refused(422, {"contract_id": others_contract["id"]})
    assert detail[0]["loc"] == ["body", "contract_id"]
    assert "another client" in detail[0]["msg"]
    unknown = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert await refused(404, {"contract_id": unknown}) == "contract not found"
    assert await refused(404, {"client_id": unknown}) == "client not found"
    bad_quantity = [LINES[0] | {"quantity": "0"}]
    detail = await refused(422, {"lines": bad_quantity})
    assert detail[0]["loc"] == ["body", "lines", 0, "quantity"]
    # A VAT rate no longer in force on the seller's day, named by its line.
    old_rate = [LINES[0], LINES[1] | {"vat_rate": "19"}]
    detail = await refused(422, {"lines": old_rate})
    assert detail[0]["loc"] == ["body", "lines", 1, "vat_rate"]
    assert detail[0]["msg"].startswith("19 % is not a RO VAT rate on ")
    detail = await refused(422, {"lines": []})
    assert detail[0]["loc"] == ["body", "lines"]
    detail = await refused(422, {"lines": [LINES[0] | {"unit_price": 250.0}]})
    assert detail[0]["loc"] == ["body", "lines", 0, "unit_price"]
    detail = await refused(422, {"exchange_rate": "4.97"})
    assert detail[0]["loc"] == ["body", "exchange_rate"]
    detail = await refused(422, {"currency": "eur"})
    assert detail[0]["loc"] == ["body", "currency"]
    detail = await refused(422, {"surprise": True})
    assert detail[0]["loc"] == ["body", "surprise"]
    # The Idempotency-Key is bounded as the resend route's.
    detail = await refused(422, {}, **{"Idempotency-Key": "x" * 101})
    assert detail[0]["loc"] == ["header", "Idempotency-Key"]
    detail = await refused(422, {}, **{"Idempotency-Key": "has space"})
    assert detail[0]["loc"] == ["header", "Idempotency-Key"]

    viewer = await add_operator(stack, "victor", "viewer")
    async with as_key(stack, viewer["key"]) as api:
        forbidden = await api.post("/api/v1/invoices", json=body)
    assert forbidden.status_code == 403
    assert (
        forbidden.json()["detail"] == "this needs the operator role; your key has the viewer role"
    )
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 0

    # Requests with one key at the same time make one invoice and all answer it.
    racing = await asyncio.gather(
        *(
            stack.api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "k"})
            for _ in range(3)
        )
    )
    assert sorted(response.status_code for response in racing) == [200, 200, 201]
    assert len({response.json()["id"] for response in racing}) == 1
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1
    # A key names one request: used for another client's invoice, it is refused.
    detail = await refused(409, {"client_id": other_id}, **{"Idempotency-Key": "k"})
    assert "another client" in detail

    # No currency or terms given: the company's default currency and payment terms.
    least = await stack.api.post("/api/v1/invoices", json={"client_id": client_id, "lines": LINES})
    assert least.status_code == 201, least.text
    company = await get_json(stack, "/api/v1/company")
    assert least.json()["currency"] == company["default_currency"] == "RON"
    terms = await stack.db.fetch(
        "SELECT i.payment_terms_days FROM invoices i JOIN companies c ON c.id = i.company_id"
        " WHERE i.id = $1 AND i.payment_terms_days = c.payment_terms_days",
        least.json()["id"],
    )
    assert len(terms) == 1

    archived = await stack.api.post(f"/api/v1/clients/{other_id}/archive")
    assert archived.status_code == 200, archived.text
    detail = await refused(409, {"client_id": other_id})
    assert detail == f"client {other_id} is archived: unarchive it first"
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 2


async def test_a_request_whose_key_commits_meanwhile_answers_that_invoice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await create_client(stack)
    body = {"client_id": client_id, "currency": "RON", "lines": LINES}
    first = await stack.api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "r"})
    assert first.status_code == 201, first.text
    # The second request looked its key up before the first one committed: its insert finds
    # the key taken, and it answers the first one's invoice instead of making another.
    looked_up = invoices.by_request_key
    calls: list[str] = []

    async def not_yet_committed(conn: Any, company_id: Any, key: str) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else await looked_up(conn, company_id, key)

    monkeypatch.setattr(invoices, "by_request_key", not_yet_committed)
    second = await stack.api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "r"})
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert len(calls) == 2
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1
    assert await stack.db.fetchval("SELECT count(*) FROM audit_events") == 1


async def test_nothing_is_kept_when_the_workflow_cannot_start(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await create_client(stack)

    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Temporal is down")

    monkeypatch.setattr(stack.app.state.q2c.temporal, "start_workflow", unavailable)
    response = await stack.api.post(
        "/api/v1/invoices", json={"client_id": client_id, "currency": "RON", "lines": LINES}
    )
    assert response.status_code == 503, response.text
    assert response.json()["detail"] == "the workflow service is unavailable; nothing was saved"
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM invoice_lines") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_a_retry_starts_the_workflow_a_dead_request_never_started(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await create_client(stack)
    body = {"client_id": client_id, "currency": "RON", "lines": LINES}
    temporal = stack.app.state.q2c.temporal

    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the API process dies here")

    async def died_first(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("...before it could take the draft back")

    # The first request saved its draft and died before the workflow started.
    with monkeypatch.context() as dying:
        dying.setattr(temporal, "start_workflow", unavailable)
        dying.setattr(invoices, "delete_draft_with_lines", died_first)
        with pytest.raises(RuntimeError, match="take the draft back"):
            await stack.api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "d"})
    (invoice_id,) = [row["id"] for row in await stack.db.fetch("SELECT id FROM invoices")]
    assert (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["status"] == "draft"

    retried = await stack.api.post("/api/v1/invoices", json=body, headers={"Idempotency-Key": "d"})
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == str(invoice_id)
    await at_review(stack, str(invoice_id))
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1


def test_cli_creates_an_invoice_from_lines_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", "cli-test-key")
    monkeypatch.setenv("Q2C_API_URL", "http://q2c-cli.test")
    client_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    contract_id = "4fa85f64-5717-4562-b3fc-2c963f66afa6"
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            201, json={"id": "inv-1", "total": "4114.00", "currency": "EUR", "status": "draft"}
        )

    transport = httpx.MockTransport(answer)
    code = main(
        [
            "invoices",
            "create",
            "--client",
            client_id,
            "--line",
            "Consultanță juridică;10;250.00;21",
            "--line",
            "Redactare contract; 1 ;1000;21",
            "--currency",
            "eur",
            "--contract",
            contract_id,
            "--gross",
            "--discount",
            "5",
            "--due-days",
            "10",
            "--exchange-rate",
            "4.975",
            "--notes",
            "de mână",
            "--key",
            "cli-1",
        ],
        transport=transport,
    )
    assert code == 0
    assert sent[-1].method == "POST" and sent[-1].url.path == "/api/v1/invoices"
    assert sent[-1].headers["Idempotency-Key"] == "cli-1"
    assert json.loads(sent[-1].content) == {
        "client_id": client_id,
        "lines": [
            {
                "description": "Consultanță juridică",
                "quantity": "10",
                "unit_price": "250.00",
                "vat_rate": "21",
            },
            {
                "description": "Redactare contract",
                "quantity": "1",
                "unit_price": "1000",
                "vat_rate": "21",
            },
        ],
        "currency": "EUR",
        "contract_id": contract_id,
        "prices_include_vat": True,
        "discount_percent": "5",
        "payment_terms_days": 10,
        "exchange_rate": "4.975",
        "notes": "de mână",
    }
    assert "invoice inv-1 made: 4114.00 EUR; it awaits review" in capsys.readouterr().out

    # The least request: the company's currency and terms, a fresh key each run.
    assert (
        main(
            ["invoices", "create", "--client", client_id, "--line", "a;1;1;0"], transport=transport
        )
        == 0
    )
    assert json.loads(sent[-1].content) == {
        "client_id": client_id,
        "lines": [{"description": "a", "quantity": "1", "unit_price": "1", "vat_rate": "0"}],
    }
    assert sent[-1].headers["Idempotency-Key"]
    for bad in ("a;1;1", "a;x;1;21", ";1;1;21", "a;1;-1;21"):
        with pytest.raises(SystemExit):
            main(["invoices", "create", "--client", client_id, "--line", bad], transport=transport)
    with pytest.raises(SystemExit):
        main(["invoices", "create", "--client", client_id], transport=transport)
