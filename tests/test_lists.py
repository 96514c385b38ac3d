"""Lists that scale (issue 15, point 7): proposals, invoices, credit notes, tasks, events and
clients page by one opaque keyset cursor (starter/api/pagination.py) in the same
`{"items", "next_cursor"}` shape. Rows are seeded through the db/ functions the app uses,
many in one transaction so they share a timestamp (now() is the transaction's start), and
every list is walked in small pages: each row exactly once, in the stated order."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from db import credit_notes, invoices, matters, proposals, store, tasks
from starter.cli.main import main
from tests.conftest import API_KEY, Stack
from tests.helpers import create_client

MAX_LIMIT = 500
ZERO = Decimal(0)


async def _walk(
    stack: Stack, path: str, limit: int, **filters: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every page of a list, `limit` a page: its items in order and the cursors given."""
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    params = {"limit": limit} | {name: value for name, value in filters.items() if value}
    while True:
        response = await stack.api.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items, cursors
        assert len(page["items"]) == limit
        cursors.append(page["next_cursor"])
        params["cursor"] = page["next_cursor"]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def _refused(stack: Stack, path: str, params: dict[str, Any], field: str) -> str:
    response = await stack.api.get(path, params=params)
    assert response.status_code == 422, (path, params, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail[0]["loc"] == ["query", field], detail
    return str(detail[0]["msg"])


def _tampered(cursor: str) -> list[str]:
    """The cursor with one character changed at a few places, and cut short."""
    changed = []
    for at in (0, len(cursor) // 2, len(cursor) - 1):
        swap = "A" if cursor[at] != "A" else "B"
        changed.append(cursor[:at] + swap + cursor[at + 1 :])
    return [*changed, cursor[:-3], "not-a-cursor", cursor.replace(".", "")]


async def _company(stack: Stack) -> Any:
    async with stack.db.acquire() as conn:
        return await store.default_company_id(conn)


async def _seed_invoices(stack: Stack, client_ids: list[str], count: int) -> list[Any]:
    """`count` draft invoices, ten a transaction (ten share a created_at), the clients in
    turn; their rows as stored."""
    company_id = await _company(stack)
    made: list[UUID] = []
    async with stack.db.acquire() as conn:
        for start in range(0, count, 10):
            async with conn.transaction():
                for index in range(start, min(start + 10, count)):
                    invoice_id = await invoices.insert_from_contract(
                        conn,
                        invoices.NewContractInvoice(
                            company_id=company_id,
                            client_id=client_ids[index % len(client_ids)],
                            contract_id=None,
                            series="INV",
                            currency="RON",
                            payment_terms_days=14,
                            notes="",
                            subtotal=Decimal(index),
                            vat_total=ZERO,
                            total=Decimal(index),
                            prices_include_vat=False,
                            discount_percent=ZERO,
                            exchange_rate=None,
                            request_key=None,
                        ),
                    )
                    assert invoice_id is not None
                    made.append(invoice_id)
        return [await invoices.get(conn, invoice_id) for invoice_id in made]


def _newest_first(rows: list[Any], stamp: str = "created_at") -> list[str]:
    return [str(row.id) for row in sorted(rows, key=lambda r: (getattr(r, stamp), r.id))][::-1]


def _shared_stamps(rows: list[Any], stamp: str = "created_at") -> int:
    return len(rows) - len({getattr(row, stamp) for row in rows})


async def test_invoices_page_newest_first_each_once_with_filters_and_bounds(
    stack: Stack,
) -> None:
    alfa = await create_client(stack, name="Alfa SRL", tax_id="")
    beta = await create_client(stack, name="Beta SRL", tax_id="")
    rows = await _seed_invoices(stack, [alfa, beta], 63)
    assert _shared_stamps(rows) >= 50  # most rows share their created_at with others

    items, cursors = await _walk(stack, "/api/v1/invoices", 7)
    assert _ids(items) == _newest_first(rows)
    # 63 rows, 7 a page: nine pages, the ninth full yet the last (no empty tenth).
    assert len(cursors) == 8
    # The default page is 50, and the whole list fits in one page of the maximum.
    default = (await stack.api.get("/api/v1/invoices")).json()
    assert len(default["items"]) == 50 and default["next_cursor"] is not None
    whole = (await stack.api.get("/api/v1/invoices", params={"limit": MAX_LIMIT})).json()
    assert _ids(whole["items"]) == _ids(items) and whole["next_cursor"] is None

    # A filter holds on every page.
    of_beta, beta_cursors = await _walk(stack, "/api/v1/invoices", 4, client_id=beta)
    assert _ids(of_beta) == _newest_first([row for row in rows if str(row.client_id) == beta])
    assert len(beta_cursors) >= 7
    drafts, _ = await _walk(stack, "/api/v1/invoices", 9, status="draft", client_id=alfa)
    assert _ids(drafts) == _newest_first([row for row in rows if str(row.client_id) == alfa])
    assert (await stack.api.get("/api/v1/invoices?status=paid")).json() == {
        "items": [],
        "next_cursor": None,
    }

    # A cursor is refused with other filters and by another list; edited, it is refused.
    message = await _refused(
        stack, "/api/v1/invoices", {"client_id": alfa, "cursor": beta_cursors[0]}, "cursor"
    )
    assert "other filters" in message
    await _refused(stack, "/api/v1/invoices", {"cursor": beta_cursors[0]}, "cursor")
    assert "another list" in await _refused(
        stack, "/api/v1/proposals", {"cursor": cursors[0]}, "cursor"
    )
    for bad in _tampered(cursors[3]):
        await _refused(stack, "/api/v1/invoices", {"cursor": bad}, "cursor")
    for limit in (0, MAX_LIMIT + 1, -1):
        await _refused(stack, "/api/v1/invoices", {"limit": limit}, "limit")
    await _refused(stack, "/api/v1/invoices", {"cursor": "x" * 1001}, "cursor")


async def test_invoices_are_found_by_number(stack: Stack) -> None:
    client_id = await create_client(stack, tax_id="")
    first, second, third = await _seed_invoices(stack, [client_id], 3)
    today = date(2026, 12, 3)
    async with stack.db.acquire() as conn:
        for row, number in ((first, "INV-2026-00012"), (second, "F/2026/7")):
            await invoices.set_number(
                conn,
                row.id,
                number=number,
                issue_date=today,
                due_date=today + timedelta(days=14),
                approved_at=datetime.now(UTC),
            )

    hit = await stack.api.get("/api/v1/invoices/by-number/INV-2026-00012")
    assert hit.status_code == 200, hit.text
    assert hit.json()["id"] == str(first.id) and hit.json()["number"] == "INV-2026-00012"
    # A number may hold '/', given plain or quoted.
    for path in ("/api/v1/invoices/by-number/F/2026/7", "/api/v1/invoices/by-number/F%2F2026%2F7"):
        slashed = await stack.api.get(path)
        assert slashed.status_code == 200 and slashed.json()["id"] == str(second.id), path
    miss = await stack.api.get("/api/v1/invoices/by-number/INV-2026-00013")
    assert miss.status_code == 404 and "INV-2026-00013" in miss.json()["detail"]
    # Exact, not a part of a number.
    assert (await stack.api.get("/api/v1/invoices/by-number/INV-2026")).status_code == 404

    listed = (await stack.api.get("/api/v1/invoices", params={"number": "F/2026/7"})).json()
    assert _ids(listed["items"]) == [str(second.id)] and listed["next_cursor"] is None
    none = (await stack.api.get("/api/v1/invoices", params={"number": "INV-2026"})).json()
    assert none["items"] == []
    await _refused(stack, "/api/v1/invoices", {"number": "x" * 101}, "number")
    await _refused(stack, "/api/v1/invoices", {"number": ""}, "number")
    # A draft has no number yet: it is in the list, found by no number.
    assert str(third.id) in _ids((await stack.api.get("/api/v1/invoices")).json()["items"])


async def _seed_proposals(stack: Stack, client_ids: list[str], count: int) -> list[Any]:
    """`count` proposals, eleven a transaction (eleven share a created_at), the clients in
    turn, one in three a draft, the others sent; their rows as stored."""
    company_id = await _company(stack)
    made: list[UUID] = []
    async with stack.db.acquire() as conn:
        for start in range(0, count, 11):
            async with conn.transaction():
                for index in range(start, min(start + 11, count)):
                    proposal_id = await proposals.insert_unless_known(
                        conn,
                        proposals.NewProposal(
                            company_id=company_id,
                            client_id=client_ids[index % len(client_ids)],
                            external_id=None,
                            currency="RON",
                            valid_until=date(2027, 1, 31),
                            payment_terms_days=14,
                            notes="",
                            subtotal=ZERO,
                            vat_total=ZERO,
                            total=ZERO,
                            status=("draft", "sent", "sent")[index % 3],
                            contract_id=None,
                            prices_include_vat=False,
                            discount_percent=ZERO,
                        ),
                    )
                    assert proposal_id is not None
                    made.append(proposal_id)
        return [await proposals.get(conn, proposal_id) for proposal_id in made]


async def test_proposals_page_newest_first_with_status_and_client(stack: Stack) -> None:
    alfa = await create_client(stack, name="Alfa SRL", tax_id="")
    beta = await create_client(stack, name="Beta SRL", tax_id="")
    rows = await _seed_proposals(stack, [alfa, beta], 44)
    assert _shared_stamps(rows) >= 40

    items, _ = await _walk(stack, "/api/v1/proposals", 6)
    assert _ids(items) == _newest_first(rows)
    assert items[0]["workflow_id"] == f"proposal-{items[0]['id']}"
    sent_of_alfa, cursors = await _walk(
        stack, "/api/v1/proposals", 3, status="sent", client_id=alfa
    )
    assert _ids(sent_of_alfa) == _newest_first(
        [row for row in rows if row.status == "sent" and str(row.client_id) == alfa]
    )
    assert cursors
    await _refused(stack, "/api/v1/proposals", {"status": "draft", "cursor": cursors[0]}, "cursor")
    await _refused(stack, "/api/v1/proposals", {"status": "lost"}, "status")
    for limit in (0, MAX_LIMIT + 1):
        await _refused(stack, "/api/v1/proposals", {"limit": limit}, "limit")
    for bad in _tampered(cursors[0]):
        await _refused(
            stack,
            "/api/v1/proposals",
            {"status": "sent", "client_id": alfa, "cursor": bad},
            "cursor",
        )


async def test_credit_notes_page_newest_issued_first(stack: Stack) -> None:
    alfa = await create_client(stack, name="Alfa SRL", tax_id="")
    beta = await create_client(stack, name="Beta SRL", tax_id="")
    originals = await _seed_invoices(stack, [alfa, beta], 26)
    company_id = await _company(stack)
    issued = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    notes = []
    async with stack.db.acquire() as conn, conn.transaction():
        for index, original in enumerate(originals):
            notes.append(
                await credit_notes.insert(
                    conn,
                    credit_notes.NewCreditNote(
                        company_id=company_id,
                        client_id=original.client_id,
                        invoice_id=original.id,
                        series="CN",
                        number=f"CN-2026-{index:05d}",
                        issue_date=issued.date(),
                        currency="RON",
                        subtotal=ZERO,
                        vat_total=ZERO,
                        total=ZERO,
                        vat_groups=[],
                        original_number=f"INV-2026-{index:05d}",
                        original_issue_date=issued.date(),
                        reason="",
                        amount_received=ZERO,
                        # Four issued in the same microsecond each: the id orders them.
                        issued_at=issued + timedelta(minutes=index // 4),
                    ),
                )
            )
    assert _shared_stamps(notes, "issued_at") >= 19

    items, cursors = await _walk(stack, "/api/v1/credit-notes", 5)
    assert _ids(items) == _newest_first(notes, "issued_at") and len(cursors) == 5
    of_beta, beta_cursors = await _walk(stack, "/api/v1/credit-notes", 3, client_id=beta)
    assert _ids(of_beta) == _newest_first(
        [note for note in notes if str(note.client_id) == beta], "issued_at"
    )
    one, _ = await _walk(stack, "/api/v1/credit-notes", 3, invoice_id=str(originals[4].id))
    assert _ids(one) == [str(notes[4].id)]
    await _refused(stack, "/api/v1/credit-notes", {"cursor": beta_cursors[0]}, "cursor")
    for limit in (0, MAX_LIMIT + 1):
        await _refused(stack, "/api/v1/credit-notes", {"limit": limit}, "limit")
    for bad in _tampered(cursors[1]):
        await _refused(stack, "/api/v1/credit-notes", {"cursor": bad}, "cursor")


async def test_tasks_page_soonest_due_first_undated_last(stack: Stack) -> None:
    client_id = await create_client(stack, tax_id="")
    company_id = await _company(stack)
    days = [date(2026, 12, 10), date(2026, 12, 5), None, date(2026, 12, 20)]
    made = []
    async with stack.db.acquire() as conn:
        for batch in range(3):
            async with conn.transaction():
                for index in range(16):
                    made.append(
                        await tasks.insert_manual(
                            conn,
                            company_id=company_id,
                            invoice_id=None,
                            client_id=UUID(client_id) if index % 2 else None,
                            title=f"Task {batch}-{index}",
                            assignee=("ana", "dan")[index % 2],
                            due_date=days[index % 4],
                        )
                    )
    for_dan = [row for row in made if row.assignee == "dan"]
    # Done tasks leave the default (open) list and make the `done=true` one.
    done = made[::5]
    for row in done:
        assert (await stack.api.post(f"/api/v1/tasks/{row.id}/done")).status_code == 200
    done_ids = {row.id for row in done}

    def order(rows: list[Any]) -> list[str]:
        return [
            str(row.id)
            for row in sorted(rows, key=lambda r: (r.due_date or date.max, r.created_at, r.id))
        ]

    open_tasks, cursors = await _walk(stack, "/api/v1/tasks", 7)
    assert _ids(open_tasks) == order([row for row in made if row.id not in done_ids])
    assert open_tasks[-1]["due_date"] is None and open_tasks[0]["due_date"] == "2026-12-05"
    finished, _ = await _walk(stack, "/api/v1/tasks", 4, done="true")
    assert _ids(finished) == order(done)
    dans, dan_cursors = await _walk(stack, "/api/v1/tasks", 5, assignee="dan", client_id=client_id)
    assert _ids(dans) == order([row for row in for_dan if row.id not in done_ids])
    # The undated tail spans pages: cursors whose due date is null continue it too.
    assert sum(task["due_date"] is None for task in open_tasks) > 7
    await _refused(stack, "/api/v1/tasks", {"assignee": "ana", "cursor": dan_cursors[0]}, "cursor")
    await _refused(stack, "/api/v1/tasks", {"assignee": "x" * 201}, "assignee")
    for limit in (0, MAX_LIMIT + 1):
        await _refused(stack, "/api/v1/tasks", {"limit": limit}, "limit")
    for bad in _tampered(cursors[-1]):
        await _refused(stack, "/api/v1/tasks", {"cursor": bad}, "cursor")


async def test_events_page_by_cursor_and_still_by_after(stack: Stack) -> None:
    client_id = await create_client(stack, tax_id="")
    (invoice,) = await _seed_invoices(stack, [client_id], 1)
    at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    async with stack.db.acquire() as conn, conn.transaction():
        for index in range(40):
            await store.emit_event(
                conn,
                ("invoice.sent", "payment.recorded")[index % 2],
                {"index": index},
                invoice_id=invoice.id if index % 4 == 0 else None,
                key=f"lists-test-{index}",
                at=at,
            )
    every = (await stack.api.get("/api/v1/events", params={"limit": MAX_LIMIT})).json()
    assert every["next_cursor"] is None
    sequences = [item["sequence"] for item in every["items"]]
    assert sequences == sorted(sequences) and len(sequences) >= 40

    items, cursors = await _walk(stack, "/api/v1/events", 6)
    assert [item["sequence"] for item in items] == sequences
    paid, paid_cursors = await _walk(stack, "/api/v1/events", 3, type="payment.recorded")
    assert [item["sequence"] for item in paid] == [
        item["sequence"] for item in every["items"] if item["type"] == "payment.recorded"
    ]
    of_invoice, _ = await _walk(stack, "/api/v1/events", 2, invoice_id=str(invoice.id))
    assert len(of_invoice) == 10

    # `after` and `next_after` work as before: the last sequence seen, also at the end.
    page = (
        await stack.api.get("/api/v1/events", params={"after": sequences[3], "limit": 2})
    ).json()
    assert [item["sequence"] for item in page["items"]] == sequences[4:6]
    assert page["next_after"] == sequences[5] and page["next_cursor"] is not None
    end = (await stack.api.get("/api/v1/events", params={"after": sequences[-1]})).json()
    assert end == {"items": [], "next_after": sequences[-1], "next_cursor": None}
    await _refused(stack, "/api/v1/events", {"after": 1, "cursor": cursors[0]}, "cursor")
    await _refused(stack, "/api/v1/events", {"cursor": paid_cursors[0]}, "cursor")
    for limit in (0, MAX_LIMIT + 1):
        await _refused(stack, "/api/v1/events", {"limit": limit}, "limit")
    for bad in _tampered(cursors[0]):
        await _refused(stack, "/api/v1/events", {"cursor": bad}, "cursor")


async def test_clients_use_the_shared_cursor(stack: Stack) -> None:
    for index in range(9):
        await create_client(stack, name=f"Client {index % 3}", email=f"c{index}@x.ro", tax_id="")
    items, cursors = await _walk(stack, "/api/v1/clients", 2)
    keys = [(item["name"], item["id"]) for item in items]
    assert len(keys) == 9 and keys == sorted(keys)
    await _refused(stack, "/api/v1/clients", {"q": "Client 1", "cursor": cursors[0]}, "cursor")
    await _refused(stack, "/api/v1/invoices", {"cursor": cursors[0]}, "cursor")
    for limit in (0, MAX_LIMIT + 1):
        await _refused(stack, "/api/v1/clients", {"limit": limit}, "limit")


async def test_lists_filter_by_matter_across_pages(stack: Stack) -> None:
    client_id = await create_client(stack, tax_id="")
    company_id = await _company(stack)
    bills = await _seed_invoices(stack, [client_id], 20)
    offers = await _seed_proposals(stack, [client_id], 20)
    async with stack.db.acquire() as conn:
        matter_id = await matters.insert(
            conn,
            company_id=company_id,
            client_id=client_id,
            title="Litigiu Alfa",
            reference="2026/14",
            responsible="",
            by="operator:admin",
        )
        todo = []
        for index in range(20):
            todo.append(
                await tasks.insert_manual(
                    conn,
                    company_id=company_id,
                    invoice_id=None,
                    client_id=None,
                    title=f"Task {index}",
                    assignee="",
                    due_date=None,
                )
            )
        # Filing documents under a matter is the matters branch's (not in these db/ lists):
        # the seed sets the column itself, on every other row.
        for table, rows in (("invoices", bills), ("proposals", offers), ("tasks", todo)):
            await conn.execute(
                f"UPDATE {table} SET matter_id = $1 WHERE id = ANY($2::uuid[])",
                matter_id,
                [row.id for row in rows[::2]],
            )
    for path, rows, order in (
        ("/api/v1/invoices", bills, _newest_first),
        ("/api/v1/proposals", offers, _newest_first),
        (
            "/api/v1/tasks",
            todo,
            lambda filed: [
                str(row.id) for row in sorted(filed, key=lambda r: (r.created_at, r.id))
            ],
        ),
    ):
        filed, cursors = await _walk(stack, path, 3, matter_id=str(matter_id))
        assert _ids(filed) == order(rows[::2]), path
        await _refused(stack, path, {"cursor": cursors[0]}, "cursor")
    empty = await stack.api.get("/api/v1/credit-notes", params={"matter_id": str(matter_id)})
    assert empty.json() == {"items": [], "next_cursor": None}
    await _refused(stack, "/api/v1/invoices", {"matter_id": "not-a-uuid"}, "matter_id")


async def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert await asyncio.to_thread(main, argv) == 0
    return capsys.readouterr().out


async def test_cli_follows_every_page_and_finds_by_number(
    stack: Stack,
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("Q2C_API_URL", live_url)
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    client_id = await create_client(stack, tax_id="")
    rows = await _seed_invoices(stack, [client_id], 23)
    async with stack.db.acquire() as conn:
        await invoices.set_number(
            conn,
            rows[5].id,
            number="INV-2026-00077",
            issue_date=date(2026, 12, 3),
            due_date=date(2026, 12, 17),
            approved_at=datetime.now(UTC),
        )
        company_id = await store.default_company_id(conn)
        async with conn.transaction():
            for index in range(12):
                await tasks.insert_manual(
                    conn,
                    company_id=company_id,
                    invoice_id=None,
                    client_id=None,
                    title=f"Call {index}",
                    assignee="",
                    due_date=None,
                )

    everything = json.loads(
        await _cli(["invoices", "list", "--all", "--limit", "4", "--json"], capsys)
    )
    assert _ids(everything["items"]) == _newest_first(rows) and everything["next_cursor"] is None
    # Without --all: one page and the cursor of the next, which --cursor continues from.
    first = await _cli(["invoices", "list", "--limit", "20"], capsys)
    cursor = first.rsplit("next cursor: ", 1)[1].split()[0]
    rest = json.loads(await _cli(["invoices", "list", "--cursor", cursor, "--json"], capsys))
    assert _ids(rest["items"]) == _newest_first(rows)[20:]
    every_task = json.loads(
        await _cli(["tasks", "list", "--all", "--limit", "5", "--json"], capsys)
    )
    assert sorted(task["title"] for task in every_task["items"]) == sorted(
        f"Call {index}" for index in range(12)
    )
    offers = await _seed_proposals(stack, [client_id], 13)
    sent = json.loads(
        await _cli(
            ["proposals", "list", "--status", "sent", "--all", "--limit", "3", "--json"], capsys
        )
    )
    assert _ids(sent["items"]) == _newest_first([row for row in offers if row.status == "sent"])
    found = await _cli(["invoices", "find", "INV-2026-00077"], capsys)
    assert str(rows[5].id) in found and "INV-2026-00077" in found
    assert await asyncio.to_thread(main, ["invoices", "find", "INV-2026-99999"]) != 0
    assert "INV-2026-99999" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["invoices", "list", "--limit", "501"])
