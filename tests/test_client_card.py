"""The client card (issue 15, point 2): finding clients, paging them, archiving instead of
deleting, one tax id per company, editing without changing what was issued, the card's
figures, and `q2c clients list | show` against the running API."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import uvicorn

from starter.cli.main import main
from tests.conftest import API_KEY, Stack, release_time_skipping
from tests.helpers import (
    CLIENT,
    create_client,
    create_proposal,
    eventually,
    get_json,
    pdf_text,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_reminders import local, skip_to


async def _list(stack: Stack, **params: Any) -> dict[str, Any]:
    response = await stack.api.get("/api/v1/clients", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


async def test_search_finds_by_name_tax_id_and_email_in_any_case(stack: Stack) -> None:
    await create_client(stack, name="Alfa Consulting SRL", email="office@alfa.ro", tax_id="")
    await create_client(stack, name="Beta SRL", email="plati@beta.ro", tax_id="RO18547290")
    await create_client(stack, name="Gama SA", email="contabil@grup-gama.ro", tax_id="")

    assert _names(await _list(stack, q="consulting")) == ["Alfa Consulting SRL"]
    assert _names(await _list(stack, q="ro1854")) == ["Beta SRL"]
    assert _names(await _list(stack, q="GRUP-GAMA")) == ["Gama SA"]
    everyone = await _list(stack)
    assert _names(everyone) == ["Alfa Consulting SRL", "Beta SRL", "Gama SA"]
    assert everyone["next_cursor"] is None
    # LIKE's own characters are taken literally, not as wildcards.
    assert _names(await _list(stack, q="%")) == []
    assert _names(await _list(stack, q="_")) == []

    bad_params: list[tuple[dict[str, str | int], str]] = [
        ({"q": "x" * 101}, "q"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]
    for params, field in bad_params:
        refused = await stack.api.get("/api/v1/clients", params=params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["query", field]


async def test_paging_with_the_cursor_covers_120_clients_once_each(stack: Stack) -> None:
    made = set()
    for index in range(120):
        # Names that sort apart from their creation order, some equal (the id breaks ties).
        name = f"Client {(index * 37) % 60:03d}"
        made.add(await create_client(stack, name=name, email=f"c{index}@example.ro", tax_id=""))
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = await _list(stack, limit=50, **({"cursor": cursor} if cursor else {}))
        pages += 1
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and [len(seen[:50]), len(seen[50:100]), len(seen[100:])] == [50, 50, 20]
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)) == 120 and set(ids) == made
    keys = [(item["name"], item["id"]) for item in seen]
    assert keys == sorted(keys)
    # The default limit is 50; a page of exactly the rest says there is no more.
    assert len((await _list(stack))["items"]) == 50
    assert (await _list(stack, limit=200))["next_cursor"] is None


async def test_archived_clients_leave_the_list_and_get_no_new_documents(stack: Stack) -> None:
    client_id = await create_client(stack)
    # A proposal sent before the archive goes on: it can still be signed into an invoice.
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)

    archived = await stack.api.post(f"/api/v1/clients/{client_id}/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived_by"] == "operator:admin"
    assert archived.json()["archived_at"] is not None
    assert (await _list(stack))["items"] == []
    assert _names(await _list(stack, archived="true")) == [CLIENT["name"]]
    # Still readable by id.
    assert (await get_json(stack, f"/api/v1/clients/{client_id}"))["archived_at"] is not None

    today = (await stack.env.get_current_time()).date()
    refused = await stack.api.post(
        "/api/v1/proposals",
        json={
            "client_id": client_id,
            "currency": "RON",
            "valid_until": (today + timedelta(days=30)).isoformat(),
            "lines": [{"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "21"}],
        },
    )
    assert refused.status_code == 409 and "archived" in refused.json()["detail"]
    contract = await stack.api.post(
        "/api/v1/contracts",
        json={
            "client_id": client_id,
            "number": "C-1",
            "contract_date": today.isoformat(),
            "currency": "RON",
            "payment_terms_days": 14,
            "lines": [{"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "21"}],
        },
    )
    assert contract.status_code == 409 and "archived" in contract.json()["detail"], contract.text

    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")

    back = await stack.api.post(f"/api/v1/clients/{client_id}/unarchive")
    assert back.status_code == 200 and back.json()["archived_at"] is None
    assert back.json()["unarchived_by"] == "operator:admin"
    assert _names(await _list(stack)) == [CLIENT["name"]]
    await create_proposal(stack, client_id)


async def test_the_same_tax_id_twice_is_refused_naming_the_client_that_has_it(
    stack: Stack,
) -> None:
    first = await create_client(stack, name="Exemplu SRL", tax_id="RO18547290")
    # Written another way, the same tax id once normalised as stored.
    again = await stack.api.post(
        "/api/v1/clients", json=CLIENT | {"name": "Exemplu Bis SRL", "tax_id": "ro 18547290"}
    )
    assert again.status_code == 409, again.text
    assert first in again.json()["detail"] and "Exemplu SRL" in again.json()["detail"]
    # Nothing was half-written.
    assert _names(await _list(stack)) == ["Exemplu SRL"]

    # Emails may repeat (a group's companies share an accountant); tax ids may be blank.
    other = await create_client(stack, name="Alt SRL", tax_id="RO12345674")
    await create_client(stack, name="Fără CUI", tax_id="")
    await create_client(stack, name="Nici el", tax_id="")
    moved = await stack.api.patch(f"/api/v1/clients/{other}", json={"tax_id": "RO18547290"})
    assert moved.status_code == 409 and first in moved.json()["detail"]
    assert (await get_json(stack, f"/api/v1/clients/{other}"))["tax_id"] == "RO12345674"
    # A client keeps its own tax id when other fields change.
    renamed = await stack.api.patch(f"/api/v1/clients/{first}", json={"name": "Exemplu SA"})
    assert renamed.status_code == 200, renamed.text
    # PATCH validates like create.
    bad = await stack.api.patch(f"/api/v1/clients/{first}", json={"email": "not-an-email"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "email"]
    long_name = await stack.api.patch(f"/api/v1/clients/{first}", json={"name": "x" * 301})
    assert long_name.status_code == 422


async def test_editing_a_client_leaves_an_issued_invoice_as_issued(stack: Stack) -> None:
    client_id = await create_client(stack)
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    await wait_invoice_status(stack, invoice_id, "sent")
    before = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert before.status_code == 200 and "Exemplu SRL" in pdf_text(before.content)

    edited = await stack.api.patch(
        f"/api/v1/clients/{client_id}",
        json={"name": "Nume Nou SRL", "street": "Str. Nouă 1", "city": "Cluj-Napoca"},
    )
    assert edited.status_code == 200, edited.text
    after = await stack.api.get(f"/api/v1/invoices/{invoice_id}/pdf")
    assert after.content == before.content
    assert "Nume Nou SRL" not in pdf_text(after.content)


async def _issued(
    stack: Stack, client_id: str, skip: int, currency: str, terms: int
) -> dict[str, Any]:
    await create_proposal(stack, client_id, currency=currency, payment_terms_days=terms)
    _, sign_path = await proposal_email(stack, skip=skip)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    if currency != "RON":  # a Romanian seller shows the VAT in lei at a rate it sets
        rated = await stack.api.patch(
            f"/api/v1/invoices/{invoice_id}", json={"exchange_rate": "4.9750"}
        )
        assert rated.status_code == 200, rated.text
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    return await wait_invoice_status(stack, invoice_id, "sent")


async def test_the_card_sums_due_overdue_and_credit_per_currency(stack: Stack) -> None:
    client_id = await create_client(stack)
    # Each proposal: 10 h x 250.00 + 1000.00 less 10 % = 3400.00 net, 21 % VAT: 4114.00.
    eur = await _issued(stack, client_id, 0, "EUR", 14)
    ron = await _issued(stack, client_id, 1, "RON", 60)
    partial = await stack.api.post(
        f"/api/v1/invoices/{ron['id']}/payments",
        json={"amount": "1000.01", "paid_at": eur["issue_date"], "reference": "OP-1"},
    )
    assert partial.status_code == 201 and partial.json()["status"] == "partially_paid"

    due = date.fromisoformat(eur["due_date"])
    await skip_to(stack, local(due + timedelta(days=1), 0, 30))
    await wait_invoice_status(stack, eur["id"], "overdue")

    # A third invoice overpaid: its 85.99 over becomes the client's credit in RON.
    third = await _issued(stack, client_id, 2, "RON", 60)
    paid = await stack.api.post(
        f"/api/v1/invoices/{third['id']}/payments",
        json={"amount": "4199.99", "paid_at": eur["due_date"], "reference": "OP-2"},
    )
    assert paid.status_code == 201 and paid.json()["status"] == "paid", paid.text
    await release_time_skipping(stack.env)

    card = await get_json(stack, f"/api/v1/clients/{client_id}/card")
    assert card["client"]["id"] == client_id
    assert card["money"] == [
        {"currency": "EUR", "balance_due": "4114.00", "overdue": "4114.00", "credit": "0.00"},
        {"currency": "RON", "balance_due": "3113.99", "overdue": "0.00", "credit": "85.99"},
    ]
    # Most recent first, each with its status and what it still asks.
    assert [(i["id"], i["status"], i["amount_due"]) for i in card["invoices"]] == [
        (third["id"], "paid", "0.00"),
        (ron["id"], "partially_paid", "3113.99"),
        (eur["id"], "overdue", "4114.00"),
    ]
    assert [p["status"] for p in card["proposals"]] == ["signed", "signed", "signed"]
    assert [p["invoice_id"] for p in card["proposals"]] == [third["id"], ron["id"], eur["id"]]
    # The overdue invoice opened a task for the operator.
    assert [t["invoice_id"] for t in card["open_tasks"]] == [eur["id"]]
    assert card["contracts"] == [] and card["limit"] == 50


@pytest.fixture
async def live_url(stack: Stack) -> AsyncIterator[str]:
    """The stack's app served over real HTTP, for the CLI (a separate process's view)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(stack.app, lifespan="off", log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(lambda: asyncio.sleep(0.01, server.started), within=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        listener.close()


async def test_the_cli_lists_and_shows_the_card(
    stack: Stack,
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("Q2C_API_URL", live_url)
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    first = await create_client(stack, name="Alfa SRL", tax_id="")
    await create_client(stack, name="Beta SRL", tax_id="")
    await create_proposal(stack, first)
    await proposal_email(stack)

    assert await asyncio.to_thread(main, ["clients", "list", "--q", "alfa"]) == 0
    printed = capsys.readouterr().out
    assert first in printed and "Alfa SRL" in printed and "Beta SRL" not in printed

    assert await asyncio.to_thread(main, ["clients", "list", "--limit", "1", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert _names(page) == ["Alfa SRL"] and page["next_cursor"]
    argv = ["clients", "list", "--limit", "1", "--cursor", page["next_cursor"], "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert _names(json.loads(capsys.readouterr().out)) == ["Beta SRL"]

    assert await asyncio.to_thread(main, ["clients", "show", first]) == 0
    card = capsys.readouterr().out
    assert "Alfa SRL" in card and "proposals:" in card and "sent" in card
    assert "4114.00" in card

    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"name": "Alfa Nou SRL"}), encoding="utf-8")
    assert await asyncio.to_thread(main, ["clients", "edit", first, str(edit)]) == 0
    capsys.readouterr()
    assert (await get_json(stack, f"/api/v1/clients/{first}"))["name"] == "Alfa Nou SRL"


async def test_a_crm_client_with_a_known_tax_id_is_that_client(stack: Stack) -> None:
    """The CRM webhook makes clients too: another email with a tax id we have is not a
    second client with that tax id, it is the one we have."""
    from tests.test_webhooks import CRM, crm_event, send

    known = await create_client(stack)
    event = await crm_event(stack, "deal-tax", client=CLIENT | {"email": "alt@exemplu.ro"})
    answer = await send(stack, CRM, "crm", event)
    assert answer.status_code == 201, answer.text
    assert answer.json()["proposal"]["client_id"] == known
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 1
