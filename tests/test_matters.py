"""Matters (issue 15, point 5): a client's cases (дела) that its contracts, proposals,
invoices and tasks are filed under; what a matter billed, collected and is still owed per
currency; the lists, exports and reports by matter; the Temporal search attribute; and
`q2c matters …`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from messages import search_attributes
from starter.cli.main import main
from starter.devstack.mailsink import MailSink
from tests import test_client_card
from tests.conftest import API_KEY, Stack, binary, release_time_skipping, stack_on
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    get_json,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)
from tests.test_contracts import create_contract, invoice_from
from tests.test_operators import add_operator, as_key
from tests.test_reminders import local, replay_and_record, skip_to
from tests.test_search_attributes import _ids

MISSING = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


async def create_matter(stack: Stack, client_id: str, reference: str, **extra: Any) -> str:
    body = {"client_id": client_id, "title": f"Dosar {reference}", "reference": reference}
    response = await stack.api.post("/api/v1/matters", json=body | extra)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _loc(response: Any) -> list[Any]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"][0]["loc"])


async def test_a_matter_is_created_found_changed_and_its_reference_is_unique(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    made = await stack.api.post(
        "/api/v1/matters",
        json={
            "client_id": client_id,
            "title": "Litigiu Alfa c. Beta",
            "reference": "2026/14",
            "responsible": "Av. Ioana Marin",
        },
    )
    assert made.status_code == 201, made.text
    matter = made.json()
    assert matter["client_id"] == client_id and matter["reference"] == "2026/14"
    assert matter["responsible"] == "Av. Ioana Marin"
    assert matter["created_by"] == "operator:admin" and matter["closed_at"] is None

    # The same reference again (another case, spaces around): 409 naming the matter.
    again = await stack.api.post(
        "/api/v1/matters",
        json={"client_id": client_id, "title": "Alt dosar", "reference": " 2026/14 "},
    )
    assert again.status_code == 409, again.text
    assert matter["id"] in again.json()["detail"] and "reference" in again.json()["detail"]

    # A client that does not exist, or is archived, gets no matter.
    assert _loc(
        await stack.api.post(
            "/api/v1/matters", json={"client_id": MISSING, "title": "X", "reference": "X-1"}
        )
    ) == ["body", "client_id"]
    archived = await create_client(stack, name="Arhivat SRL", email="arhiva@exemplu.ro")
    assert (await stack.api.post(f"/api/v1/clients/{archived}/archive")).status_code == 200
    refused = await stack.api.post(
        "/api/v1/matters", json={"client_id": archived, "title": "X", "reference": "X-2"}
    )
    assert refused.status_code == 409 and "archived" in refused.text
    # Bounded input.
    for body, field in [
        ({"title": "", "reference": "R-1"}, "title"),
        ({"title": "T", "reference": "R" * 65}, "reference"),
        ({"title": "T" * 201, "reference": "R-1"}, "title"),
        ({"title": "T", "reference": "R-1", "responsible": "x" * 201}, "responsible"),
    ]:
        answer = await stack.api.post("/api/v1/matters", json={"client_id": client_id} | body)
        assert _loc(answer) == ["body", field]

    other_client = await create_client(stack, name="Gama SA", email="office@gama.ro")
    await create_matter(stack, other_client, "2026/15")
    listed = await get_json(stack, f"/api/v1/matters?client_id={client_id}")
    assert [m["id"] for m in listed["items"]] == [matter["id"]]
    found = await get_json(stack, "/api/v1/matters?q=LITIGIU")
    assert [m["id"] for m in found["items"]] == [matter["id"]]
    everything = await get_json(stack, "/api/v1/matters?limit=1")
    assert [m["reference"] for m in everything["items"]] == ["2026/14"]
    rest = await get_json(stack, f"/api/v1/matters?limit=1&cursor={everything['next_cursor']}")
    assert [m["reference"] for m in rest["items"]] == ["2026/15"] and rest["next_cursor"] is None

    changed = await stack.api.patch(
        f"/api/v1/matters/{matter['id']}", json={"title": "Litigiu nou", "closed": True}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Litigiu nou"
    assert changed.json()["closed_by"] == "operator:admin" and changed.json()["closed_at"]
    assert changed.json()["responsible"] == "Av. Ioana Marin"
    assert _loc(await stack.api.patch(f"/api/v1/matters/{matter['id']}", json={"title": None})) == [
        "body",
        "title",
    ]
    missing = await stack.api.get(f"/api/v1/matters/{MISSING}")
    assert missing.status_code == 404


async def test_documents_name_only_an_open_matter_of_their_own_client(stack: Stack) -> None:
    client_id = await create_client(stack)
    other_client = await create_client(stack, name="Gama SA", email="office@gama.ro")
    foreign = await create_matter(stack, other_client, "G-1")
    closed = await create_matter(stack, client_id, "A-0")
    await stack.api.patch(f"/api/v1/matters/{closed}", json={"closed": True})
    today = (await stack.env.get_current_time()).date()
    proposal = {
        "client_id": client_id,
        "currency": "RON",
        "valid_until": (today + timedelta(days=30)).isoformat(),
        "lines": [{"description": "Ore", "quantity": "1", "unit_price": "100", "vat_rate": "21"}],
    }
    for matter_id in (foreign, closed, MISSING):
        answer = await stack.api.post("/api/v1/proposals", json=proposal | {"matter_id": matter_id})
        assert _loc(answer) == ["body", "matter_id"]
        answer = await stack.api.post(
            "/api/v1/contracts",
            json={
                "client_id": client_id,
                "number": f"C-{matter_id[:4]}",
                "contract_date": "2026-11-01",
                "currency": "RON",
                "matter_id": matter_id,
                "lines": [{"description": "Abonament", "unit_price": "100", "vat_rate": "21"}],
            },
        )
        assert _loc(answer) == ["body", "matter_id"]
        answer = await stack.api.post(
            "/api/v1/tasks",
            json={"title": "Sună clientul", "client_id": client_id, "matter_id": matter_id},
        )
        assert _loc(answer) == ["body", "matter_id"]
    assert await stack.db.fetchval("SELECT count(*) FROM proposals") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM contracts") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM tasks") == 0

    # A task naming only the matter is its client's.
    mine = await create_matter(stack, client_id, "A-1")
    task = await stack.api.post(
        "/api/v1/tasks", json={"title": "Depune cererea", "matter_id": mine}
    )
    assert task.status_code == 201, task.text
    assert task.json()["matter_id"] == mine and task.json()["client_id"] == client_id


async def test_an_invoice_from_a_contract_inherits_its_matter(stack: Stack) -> None:
    client_id = await create_client(stack)
    matter_id = await create_matter(stack, client_id, "2026/20")
    contract = await create_contract(stack, client_id, matter_id=matter_id)
    assert contract["matter_id"] == matter_id
    assert (await get_json(stack, f"/api/v1/contracts/{contract['id']}"))["matter_id"] == matter_id
    invoice = await invoice_from(stack, contract["id"], quantities=["1", "2"])
    assert invoice["matter_id"] == matter_id
    shown = await get_json(stack, f"/api/v1/invoices/{invoice['id']}")
    assert shown["matter_id"] == matter_id
    # A contract without a matter makes invoices without one.
    plain = await create_contract(stack, client_id, number="C-2026/08")
    assert plain["matter_id"] is None
    assert (await invoice_from(stack, plain["id"], quantities=["1", "0"]))["matter_id"] is None


async def _signed_invoice(
    stack: Stack, client_id: str, matter_id: str | None, skip: int, currency: str, terms: int
) -> dict[str, Any]:
    """A proposal under the matter, signed, its invoice approved and sent."""
    proposal = await create_proposal(
        stack, client_id, currency=currency, payment_terms_days=terms, matter_id=matter_id
    )
    assert proposal["matter_id"] == matter_id
    _, sign_path = await proposal_email(stack, skip=skip)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    invoice = await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert invoice["matter_id"] == matter_id  # inherited from the signed proposal
    if currency != "RON":  # a Romanian seller shows the VAT in lei at a rate it sets
        rated = await stack.api.patch(
            f"/api/v1/invoices/{invoice_id}", json={"exchange_rate": "4.9750"}
        )
        assert rated.status_code == 200, rated.text
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    return await wait_invoice_status(stack, invoice_id, "sent")


async def test_a_matter_shows_billed_collected_due_and_overdue_per_currency(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    matter_id = await create_matter(stack, client_id, "2026/30")
    # Each proposal: 10 h x 250.00 + 1000.00 less 10 % = 3400.00 net, 21 % VAT: 4114.00.
    eur = await _signed_invoice(stack, client_id, matter_id, 0, "EUR", 14)
    ron = await _signed_invoice(stack, client_id, matter_id, 1, "RON", 60)
    # The same client's invoice outside the matter counts on the client card only.
    outside = await _signed_invoice(stack, client_id, None, 2, "RON", 60)
    paid = await stack.api.post(
        f"/api/v1/invoices/{ron['id']}/payments",
        json={"amount": "1000.01", "paid_at": ron["issue_date"], "reference": "OP-1"},
    )
    assert paid.status_code == 201 and paid.json()["status"] == "partially_paid"
    paid = await stack.api.post(
        f"/api/v1/invoices/{outside['id']}/payments",
        json={"amount": "500.00", "paid_at": ron["issue_date"], "reference": "OP-2"},
    )
    assert paid.status_code == 201

    due = date.fromisoformat(eur["due_date"])
    await skip_to(stack, local(due + timedelta(days=1), 0, 30))
    await wait_invoice_status(stack, eur["id"], "overdue")
    await release_time_skipping(stack.env)
    # Its run (Q2CMatterId set, patch matter-search-attribute) replays on the current code;
    # kept in tests/histories/ with Q2C_RECORD_HISTORIES=1.
    await replay_and_record(stack.env.client, eur["workflow_id"], "matter")

    matter = await get_json(stack, f"/api/v1/matters/{matter_id}")
    assert matter["reference"] == "2026/30"
    assert matter["money"] == [
        {
            "currency": "EUR",
            "billed": "4114.00",
            "collected": "0.00",
            "due": "4114.00",
            "overdue": "4114.00",
        },
        {
            "currency": "RON",
            "billed": "4114.00",
            "collected": "1000.01",
            "due": "3113.99",
            "overdue": "0.00",
        },
    ]
    card = await get_json(stack, f"/api/v1/clients/{client_id}/card")
    ron_card = [m for m in card["money"] if m["currency"] == "RON"]
    assert ron_card[0]["balance_due"] == "6727.99"  # 3113.99 + 3614.00 outside the matter
    # The card lists the client's matters.
    assert [(m["id"], m["reference"]) for m in card["matters"]] == [(matter_id, "2026/30")]


async def _approved(stack: Stack, invoice_id: str) -> dict[str, Any]:
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert (await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")).status_code == 202
    return await wait_invoice_status(stack, invoice_id, "sent")


async def _pay(stack: Stack, invoice: dict[str, Any], amount: str, reference: str) -> None:
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": amount, "paid_at": invoice["issue_date"], "reference": reference},
    )
    assert paid.status_code == 201, paid.text


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_lists_reports_and_exports_filter_by_matter(stack: Stack) -> None:
    client_id = await create_client(stack)
    other_client = await create_client(stack, name="Gama SA", email="office@gama.ro")
    matter_id = await create_matter(stack, client_id, "2026/40")
    filed = await create_contract(stack, client_id, matter_id=matter_id)
    plain = await create_contract(stack, client_id, number="C-2026/08")
    # 2000.00 + 21 % VAT = 2420.00 each; the third (2600.00 net: 3146.00) is voided.
    mine = await _approved(
        stack, (await invoice_from(stack, filed["id"], quantities=["1", "0"]))["id"]
    )
    other = await _approved(
        stack, (await invoice_from(stack, plain["id"], quantities=["1", "0"]))["id"]
    )
    voided = await _approved(
        stack, (await invoice_from(stack, filed["id"], quantities=["1", "2"]))["id"]
    )
    await _pay(stack, mine, "420.00", "OP-MATTER")
    await _pay(stack, other, "100.00", "OP-OTHER")
    assert (
        await stack.api.post(f"/api/v1/invoices/{voided['id']}/void", json={"reason": "Greșit"})
    ).status_code == 202

    async def credit_note_id() -> str | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{voided['id']}")
        found: str | None = invoice["credit_note_id"]
        return found

    note_id = await eventually(credit_note_id, what="the credit note")
    task = await stack.api.post(
        "/api/v1/tasks", json={"title": "Termen de judecată", "matter_id": matter_id}
    )
    assert task.status_code == 201
    await stack.api.post("/api/v1/tasks", json={"title": "Altceva", "client_id": client_id})
    await release_time_skipping(stack.env)

    listed = await get_json(stack, f"/api/v1/invoices?matter_id={matter_id}")
    assert {i["id"] for i in listed["items"]} == {mine["id"], voided["id"]}
    notes = await get_json(stack, f"/api/v1/credit-notes?matter_id={matter_id}")
    assert [n["id"] for n in notes["items"]] == [note_id]
    assert notes["items"][0]["matter_id"] == matter_id
    assert (await get_json(stack, "/api/v1/credit-notes"))["items"][0]["id"] == note_id
    tasks = await get_json(stack, f"/api/v1/tasks?matter_id={matter_id}")
    assert [t["title"] for t in tasks["items"]] == ["Termen de judecată"]

    aging = await get_json(stack, f"/api/v1/reports/aging?matter_id={matter_id}")
    assert [(t["currency"], t["total"]) for t in aging["totals"]] == [("RON", "2000.00")]
    everyone = await get_json(stack, "/api/v1/reports/aging")
    assert [(t["currency"], t["total"]) for t in everyone["totals"]] == [("RON", "4320.00")]

    month = mine["issue_date"][:7]
    period = f"from={month}-01&to={mine['issue_date']}"
    flow = await get_json(stack, f"/api/v1/reports/cashflow?{period}&matter_id={matter_id}")
    assert [(m["month"], m["invoiced"], m["collected"]) for m in flow["months"]] == [
        (month, "2420.00", "420.00")
    ]
    assert [(d["receivables"], d["invoiced"]) for d in flow["dso"]] == [("2000.00", "2420.00")]
    flow = await get_json(stack, f"/api/v1/reports/cashflow?{period}")
    assert [(m["invoiced"], m["collected"]) for m in flow["months"]] == [("4840.00", "520.00")]

    exported = _csv(await stack.api.get(f"/api/v1/exports/invoices.csv?matter_id={matter_id}"))
    assert sorted(row["number"] for row in exported) == sorted([mine["number"], voided["number"]])
    paid = _csv(await stack.api.get(f"/api/v1/exports/payments.csv?matter_id={matter_id}"))
    assert [row["reference"] for row in paid] == ["OP-MATTER"]
    people = _csv(await stack.api.get(f"/api/v1/exports/clients.csv?matter_id={matter_id}"))
    assert [row["id"] for row in people] == [client_id]
    nobody = await stack.api.get(
        f"/api/v1/exports/clients.csv?matter_id={matter_id}&client_id={other_client}"
    )
    assert _csv(nobody) == []


@pytest.fixture
async def dev_stack(db: asyncpg.Pool, mail: MailSink, database_url: str) -> AsyncIterator[Stack]:
    """The stack on the dev server (as tests/test_search_attributes.py runs it)."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(search_attributes.ALL),
        dev_server_log_level="error",
    )
    async with environment, stack_on(environment, db, mail, database_url) as running:
        yield running


async def test_the_temporal_ui_lists_a_matters_invoices(dev_stack: Stack) -> None:
    """On the dev server, whose visibility store answers the UI's list queries."""
    stack = dev_stack
    client_id = await create_client(stack)
    matter_id = await create_matter(stack, client_id, "2026/50")
    filed = await create_contract(stack, client_id, matter_id=matter_id)
    plain = await create_contract(stack, client_id, number="C-2026/08")
    mine = await invoice_from(stack, filed["id"], quantities=["1", "0"])
    other = await invoice_from(stack, plain["id"], quantities=["1", "0"])
    await wait_invoice_status(stack, mine["id"], "awaiting_review")
    await wait_invoice_status(stack, other["id"], "awaiting_review")

    query = f"Q2CMatterId = '{matter_id}'"

    async def listed() -> bool:
        return await _ids(stack, query) == {mine["id"]}

    await eventually(listed, within=30, what=f"the list filter {query!r}")
    handle = stack.env.client.get_workflow_handle(mine["workflow_id"])
    described = await handle.describe()
    assert described.typed_search_attributes[search_attributes.MATTER_ID] == matter_id
    plain_described = await stack.env.client.get_workflow_handle(other["workflow_id"]).describe()
    assert plain_described.typed_search_attributes.get(search_attributes.MATTER_ID) is None


# The stack's app served over real HTTP, for the CLI (as tests/test_client_card.py does).
live_url = test_client_card.live_url


async def test_the_cli_creates_lists_shows_and_updates_matters(
    stack: Stack,
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("Q2C_API_URL", live_url)
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    client_id = await create_client(stack)

    argv = ["matters", "create", "--client", client_id, "--title", "Litigiu Alfa"]
    argv += ["--reference", "2026/60", "--responsible", "Av. Ioana Marin", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    matter_id = json.loads(capsys.readouterr().out)["id"]
    assert await asyncio.to_thread(main, argv) == 1  # the reference is taken
    assert matter_id in capsys.readouterr().err

    assert await asyncio.to_thread(main, ["matters", "list", "--client", client_id]) == 0
    printed = capsys.readouterr().out
    assert matter_id in printed and "2026/60" in printed and "Litigiu Alfa" in printed

    contract = await create_contract(stack, client_id, matter_id=matter_id)
    invoice = await _approved(stack, (await invoice_from(stack, contract["id"]))["id"])
    await _pay(stack, invoice, "100.00", "OP-CLI")
    await release_time_skipping(stack.env)
    assert await asyncio.to_thread(main, ["matters", "show", matter_id]) == 0
    shown = capsys.readouterr().out
    # Default quantities: 2000.00 + 300.00 = 2300.00 net, 2783.00 with VAT; 100.00 paid.
    assert "Av. Ioana Marin" in shown and "money:" in shown
    assert "2783.00" in shown and "100.00" in shown and "2683.00" in shown

    # The lists, reports and exports by matter (an invoice outside it is left out).
    await invoice_from(stack, (await create_contract(stack, client_id, number="C-9"))["id"])
    argv = ["invoices", "list", "--matter", matter_id, "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)["items"]] == [invoice["id"]]
    argv = ["tasks", "create", "Depune apelul", "--matter", matter_id, "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert json.loads(capsys.readouterr().out)["matter_id"] == matter_id
    assert await asyncio.to_thread(main, ["tasks", "list", "--matter", matter_id, "--json"]) == 0
    # Its own, and its invoices' automatic ones (time skips while the CLI runs: overdue).
    tasks = json.loads(capsys.readouterr().out)["items"]
    assert "Depune apelul" in [t["title"] for t in tasks]
    assert {t["invoice_id"] for t in tasks} <= {None, invoice["id"]}
    argv = ["report", "aging", "--matter", matter_id, "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    assert [t["total"] for t in json.loads(capsys.readouterr().out)["totals"]] == ["2683.00"]
    exported = tmp_path / "matter.csv"
    argv = ["export", "invoices", "--matter", matter_id, "-o", str(exported)]
    assert await asyncio.to_thread(main, argv) == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert [row["number"] for row in rows] == [invoice["number"]]

    argv = ["matters", "update", matter_id, "--title", "Litigiu Alfa (apel)", "--close"]
    assert await asyncio.to_thread(main, argv) == 0
    capsys.readouterr()
    matter = await get_json(stack, f"/api/v1/matters/{matter_id}")
    assert matter["title"] == "Litigiu Alfa (apel)" and matter["closed_by"] == "operator:admin"
    assert await asyncio.to_thread(main, ["matters", "update", matter_id, "--reopen"]) == 0
    capsys.readouterr()
    assert (await get_json(stack, f"/api/v1/matters/{matter_id}"))["closed_at"] is None


async def test_an_invoice_made_by_hand_names_a_matter_or_takes_its_contracts(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    other_client = await create_client(stack, name="Gama SA", email="office@gama.ro")
    matter_id = await create_matter(stack, client_id, "2026/70")
    foreign = await create_matter(stack, other_client, "G-70")
    lines = [{"description": "Consultanță", "quantity": "2", "unit_price": "100", "vat_rate": "21"}]
    body = {"client_id": client_id, "currency": "RON", "lines": lines}

    made = await stack.api.post("/api/v1/invoices", json=body | {"matter_id": matter_id})
    assert made.status_code == 201, made.text
    assert made.json()["matter_id"] == matter_id
    shown = await get_json(stack, f"/api/v1/invoices/{made.json()['id']}")
    assert shown["matter_id"] == matter_id
    refused = await stack.api.post("/api/v1/invoices", json=body | {"matter_id": foreign})
    assert _loc(refused) == ["body", "matter_id"]

    contract = await create_contract(stack, client_id, matter_id=matter_id)
    by_contract = await stack.api.post(
        "/api/v1/invoices", json=body | {"contract_id": contract["id"]}
    )
    assert by_contract.status_code == 201, by_contract.text
    assert by_contract.json()["matter_id"] == matter_id
    plain = await stack.api.post("/api/v1/invoices", json=body)
    assert plain.status_code == 201 and plain.json()["matter_id"] is None


async def test_one_reference_entered_twice_at_once_makes_one_matter(stack: Stack) -> None:
    client_id = await create_client(stack)
    body = {"client_id": client_id, "title": "Dosar", "reference": "2026/80"}
    answers = await asyncio.gather(
        *(stack.api.post("/api/v1/matters", json=body | {"title": f"Dosar {n}"}) for n in range(4))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]
    made = next(answer.json()["id"] for answer in answers if answer.status_code == 201)
    assert all(made in a.json()["detail"] for a in answers if a.status_code == 409)
    assert await stack.db.fetchval("SELECT count(*) FROM matters") == 1


async def test_a_proposal_converted_without_signature_gives_its_matter_to_the_invoice(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    matter_id = await create_matter(stack, client_id, "2026/90")
    proposal = await create_proposal(stack, client_id, matter_id=matter_id)
    await proposal_email(stack)
    converted = await stack.api.post(f"/api/v1/proposals/{proposal['id']}/invoice")
    assert converted.status_code == 201, converted.text
    invoice = await wait_invoice_status(stack, converted.json()["invoice_id"], "awaiting_review")
    assert invoice["matter_id"] == matter_id


async def test_operators_change_matters_in_their_own_name_and_viewers_only_read(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    olga = await add_operator(stack, "olga", "operator")
    viewer = await add_operator(stack, "vera", "viewer")
    body = {"client_id": client_id, "title": "Dosar", "reference": "2026/99"}
    async with as_key(stack, olga["key"]) as api:
        made = await api.post("/api/v1/matters", json=body)
        assert made.status_code == 201, made.text
        matter_id = made.json()["id"]
        closed = await api.patch(f"/api/v1/matters/{matter_id}", json={"closed": True})
    assert made.json()["created_by"] == "operator:olga"
    assert closed.json()["closed_by"] == "operator:olga"
    assert closed.json()["updated_by"] == "operator:olga"
    async with as_key(stack, viewer["key"]) as api:
        assert (await api.get(f"/api/v1/matters/{matter_id}")).status_code == 200
        refused = await api.post("/api/v1/matters", json=body | {"reference": "2026/98"})
        assert refused.status_code == 403
        refused = await api.patch(f"/api/v1/matters/{matter_id}", json={"closed": False})
        assert refused.status_code == 403
    assert (await get_json(stack, f"/api/v1/matters/{matter_id}"))["closed_by"] == "operator:olga"
