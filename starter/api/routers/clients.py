"""Clients: create one, read one, change one, find them, archive them, and the card."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from db import client_card, clients, matters, store
from db.connection import Connection
from db.rows import ClientRow
from domain.errors import Conflict
from domain.status import OPEN_FOR_PAYMENT
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import client_json, money
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.routers.company import (
    CLIENT_COLUMNS,
    address_change,
    check_requisites,
    insert_client,
    refuse,
)
from starter.api.routers.matters import matter_out
from starter.api.schemas import ClientIn, ClientOut
from starter.api.schemas.clients import ClientCardOut, ClientList, ClientPatch

router = APIRouter()

ZERO = Decimal(0)

# The card's lists show this many of each, the most recent first.
CARD_LIMIT = 50


def client_out(row: ClientRow) -> dict[str, Any]:
    return client_json(row) | {
        "archived_at": None if row.archived_at is None else row.archived_at.isoformat(),
        "archived_by": row.archived_by,
        "unarchived_at": None if row.unarchived_at is None else row.unarchived_at.isoformat(),
        "unarchived_by": row.unarchived_by,
    }


async def refuse_same_tax_id(conn: Connection, row: ClientRow) -> None:
    """409 when another client of the company has the tax id `row` now has (compared
    normalised, as stored). Call inside the transaction that wrote `row`: it locks that tax
    id until the end, so a second client entered at the same time waits and then sees it."""
    if not row.tax_id.strip():
        return
    other = await clients.same_tax_id(conn, row.company_id, row.tax_id, other_than=row.id)
    if other is not None:
        raise Conflict(
            f"tax_id: client {other.id} ({other.name}) already has the tax id {other.tax_id}"
        )


@router.post(
    "/api/v1/clients",
    response_model=ClientOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["clients"],
)
async def create_client(body: ClientIn, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        async with conn.transaction():
            client_id = await insert_client(conn, company_id, body)
            await refuse_same_tax_id(conn, await clients.get(conn, client_id))
        return client_out(await clients.get(conn, client_id))


PAGER: Pager[ClientRow] = Pager("clients", clients.ORDER)


@router.get(
    "/api/v1/clients",
    response_model=ClientList,
    dependencies=API_KEY,
    tags=["clients"],
    description=paged(
        "Clients by name (then id) whose name, tax id or email contains `q` (any case); "
        "archived ones only with `archived=true`."
    ),
)
async def list_clients(
    state: State,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    archived: bool = False,
) -> dict[str, Any]:
    text = (q or "").strip() or None
    filters = {"q": text, "archived": archived}
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        rows = await clients.search(
            conn, company_id, text=text, archived=archived, after=after, limit=limit + 1
        )
    return PAGER.page(rows, limit, filters, client_out)


@router.get(
    "/api/v1/clients/{client_id}", response_model=ClientOut, dependencies=API_KEY, tags=["clients"]
)
async def get_client(client_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return client_out(await clients.get(conn, client_id))


@router.patch(
    "/api/v1/clients/{client_id}",
    response_model=ClientOut,
    dependencies=API_KEY,
    tags=["clients"],
)
async def patch_client(client_id: UUID, body: ClientPatch, state: State) -> dict[str, Any]:
    """Change a client's details (its address in parts, say, for one flagged
    `address_needs_review`); documents already issued keep what they printed."""
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise refuse(name, f"{name}: must not be null")
    async with state.pool.acquire() as conn:
        async with conn.transaction():
            row = await clients.get(conn, client_id, lock=True)
            merged = {column: getattr(row, column) for column in CLIENT_COLUMNS} | changes
            merged["country"] = merged["country"].strip()
            merged.update(check_requisites(merged["country"], merged))
            merged.update(address_change(row.country, merged, changes))
            await clients.set_details(
                conn,
                client_id,
                clients.NewClient(**{column: merged[column] for column in CLIENT_COLUMNS}),
            )
            await refuse_same_tax_id(conn, await clients.get(conn, client_id))
        return client_out(await clients.get(conn, client_id))


@router.post(
    "/api/v1/clients/{client_id}/archive",
    response_model=ClientOut,
    dependencies=API_KEY,
    tags=["clients"],
)
async def archive_client(
    client_id: UUID, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    """The client leaves the list and gets no new proposals, invoices or contracts (409);
    what it has goes on. Archiving again keeps the first time and operator."""
    async with state.pool.acquire() as conn:
        async with conn.transaction():
            row = await clients.get(conn, client_id, lock=True)
            if row.archived_at is None:
                await clients.archive(conn, client_id, operator.actor)
        return client_out(await clients.get(conn, client_id))


@router.post(
    "/api/v1/clients/{client_id}/unarchive",
    response_model=ClientOut,
    dependencies=API_KEY,
    tags=["clients"],
)
async def unarchive_client(
    client_id: UUID, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        async with conn.transaction():
            row = await clients.get(conn, client_id, lock=True)
            if row.archived_at is not None:
                await clients.unarchive(conn, client_id, operator.actor)
        return client_out(await clients.get(conn, client_id))


def _day(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


@router.get(
    "/api/v1/clients/{client_id}/card",
    response_model=ClientCardOut,
    dependencies=API_KEY,
    tags=["clients"],
)
async def client_card_route(client_id: UUID, state: State) -> dict[str, Any]:
    """The client, its contracts, proposals and invoices with their status (the most recent
    CARD_LIMIT of each), its open tasks, and per currency: the balance due, of it what is
    overdue, and its credit (every invoice counted, not only those listed)."""
    async with state.pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot: the lists and the sums agree with each other.
            row = await clients.get(conn, client_id)
            contracts = await client_card.contracts_of(conn, client_id, CARD_LIMIT)
            proposals = await client_card.proposals_of(conn, client_id, CARD_LIMIT)
            invoices = await client_card.invoices_of(conn, client_id, CARD_LIMIT)
            tasks = await client_card.open_tasks_of(conn, client_id, CARD_LIMIT)
            its_matters = await matters.of_client(conn, client_id, CARD_LIMIT)
            credit = await client_card.credit_by_currency(conn, client_id)
            balances = {
                balance.currency: balance
                for balance in await client_card.balances_of(
                    conn, client_id, [str(status) for status in OPEN_FOR_PAYMENT]
                )
            }
    money_rows = []
    for currency in sorted(set(credit) | set(balances)):
        balance = balances.get(currency)
        money_rows.append(
            {
                "currency": currency,
                "balance_due": money(balance.due if balance else ZERO, currency),
                "overdue": money(balance.overdue if balance else ZERO, currency),
                "credit": money(credit.get(currency, ZERO), currency),
            }
        )
    return {
        "client": client_out(row),
        "contracts": [
            {
                "id": str(c.id),
                "number": c.number,
                "contract_date": c.contract_date.isoformat(),
                "subject": c.subject,
                "currency": c.currency.strip(),
            }
            for c in contracts
        ],
        "proposals": [
            {
                "id": str(p.id),
                "number": p.number,
                "status": p.status,
                "currency": p.currency.strip(),
                "total": money(p.total, p.currency),
                "valid_until": p.valid_until.isoformat(),
                "invoice_id": None if p.invoice_id is None else str(p.invoice_id),
                "created_at": p.created_at.isoformat(),
            }
            for p in proposals
        ],
        "invoices": [
            {
                "id": str(i.id),
                "number": i.number,
                "status": i.status,
                "overdue": i.overdue,
                "currency": i.currency.strip(),
                "total": money(i.total, i.currency),
                "amount_paid": money(i.amount_paid, i.currency),
                "amount_due": money(
                    max(i.total - i.amount_paid, ZERO) if i.status in OPEN_FOR_PAYMENT else ZERO,
                    i.currency,
                ),
                "issue_date": _day(i.issue_date),
                "due_date": _day(i.due_date),
                "created_at": i.created_at.isoformat(),
            }
            for i in invoices
        ],
        "open_tasks": [
            {
                "id": str(t.id),
                "kind": t.kind,
                "title": t.title,
                "assignee": t.assignee,
                "due_date": _day(t.due_date),
                "invoice_id": None if t.invoice_id is None else str(t.invoice_id),
                "proposal_id": None if t.proposal_id is None else str(t.proposal_id),
                "created_at": t.created_at.isoformat(),
            }
            for t in tasks
        ],
        "money": money_rows,
        "limit": CARD_LIMIT,
        "matters": [matter_out(m) for m in its_matters],
    }
