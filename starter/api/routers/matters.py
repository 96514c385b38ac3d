"""Matters (cases, дела): create one, find them, read one with its money, change one."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from db import client_card, clients, matters, reports, store
from db.rows import MatterRow
from domain.errors import Conflict, InvalidInput
from domain.status import OPEN_FOR_PAYMENT
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import money
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.schemas.matters import (
    MatterDetailOut,
    MatterIn,
    MatterList,
    MatterOut,
    MatterPatch,
)

router = APIRouter()

ZERO = Decimal(0)


def _instant(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def matter_out(row: MatterRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "client_id": str(row.client_id),
        "title": row.title,
        "reference": row.reference,
        "responsible": row.responsible,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "updated_at": row.updated_at.isoformat(),
        "updated_by": row.updated_by,
        "closed_at": _instant(row.closed_at),
        "closed_by": row.closed_by,
    }


@router.post(
    "/api/v1/matters",
    response_model=MatterOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["matters"],
)
async def create_matter(body: MatterIn, state: State, operator: CurrentOperator) -> dict[str, Any]:
    """A new matter of a client (not archived). Its reference is unique in the company
    (case-blind): a second one gets 409 naming the matter that has it."""
    async with state.pool.acquire() as conn:
        try:
            buyer = await clients.get(conn, body.client_id)
        except store.NotFound:
            raise InvalidInput("client_id: no such client") from None
        if buyer.archived_at is not None:  # an archived client gets no new documents
            raise Conflict(f"client {buyer.id} is archived: unarchive it first")
        async with conn.transaction():
            # Under the reference's lock: of two entered at once, the second sees the first.
            other = await matters.same_reference(conn, buyer.company_id, body.reference)
            if other is not None:
                raise Conflict(
                    f"reference: matter {other.id} ({other.title}) already has the "
                    f"reference {other.reference}"
                )
            matter_id = await matters.insert(
                conn,
                company_id=buyer.company_id,
                client_id=buyer.id,
                title=body.title,
                reference=body.reference,
                responsible=body.responsible,
                by=operator.actor,
            )
        return matter_out(await matters.get(conn, matter_id))


PAGER: Pager[MatterRow] = Pager("matters", matters.ORDER)


@router.get(
    "/api/v1/matters",
    response_model=MatterList,
    dependencies=API_KEY,
    tags=["matters"],
    description=paged(
        "Matters by reference (then id), of one client when given, whose title or reference "
        "contains `q` (any case)."
    ),
)
async def list_matters(
    state: State,
    client_id: UUID | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    text = (q or "").strip() or None
    filters = {"client_id": client_id, "q": text}
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        rows = await matters.search(
            conn, company_id, client_id=client_id, text=text, after=after, limit=limit + 1
        )
    return PAGER.page(rows, limit, filters, matter_out)


@router.get(
    "/api/v1/matters/{matter_id}",
    response_model=MatterDetailOut,
    dependencies=API_KEY,
    tags=["matters"],
)
async def get_matter(matter_id: UUID, state: State) -> dict[str, Any]:
    """The matter and, per currency, what its invoices came to: billed, collected, due and
    overdue (the client card's and the cash-flow report's sums, over this matter only)."""
    async with state.pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot: billed, collected and due agree with each other.
            row = await matters.get(conn, matter_id)
            billed_rows = await reports.invoiced_between(conn, date.min, date.max, row.id)
            collected_rows = await reports.collected_between(conn, date.min, date.max, row.id)
            balances = await client_card.balances_of(
                conn,
                row.client_id,
                [str(status) for status in OPEN_FOR_PAYMENT],
                matter_id=row.id,
            )
    billed: dict[str, Decimal] = defaultdict(Decimal)
    collected: dict[str, Decimal] = defaultdict(Decimal)
    for amount in billed_rows:
        billed[amount.currency.strip()] += amount.amount
    for amount in collected_rows:
        collected[amount.currency.strip()] += amount.amount
    due = {balance.currency: balance for balance in balances}
    return matter_out(row) | {
        "money": [
            {
                "currency": currency,
                "billed": money(billed.get(currency, ZERO), currency),
                "collected": money(collected.get(currency, ZERO), currency),
                "due": money(due[currency].due if currency in due else ZERO, currency),
                "overdue": money(due[currency].overdue if currency in due else ZERO, currency),
            }
            for currency in sorted(set(billed) | set(collected) | set(due))
        ]
    }


@router.patch(
    "/api/v1/matters/{matter_id}",
    response_model=MatterOut,
    dependencies=API_KEY,
    tags=["matters"],
)
async def patch_matter(
    matter_id: UUID, body: MatterPatch, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    """Change the title or the responsible person, close or reopen; recorded with the
    operator who did it."""
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(f"{name}: must not be null")
    async with state.pool.acquire() as conn:
        await matters.get(conn, matter_id)
        await matters.update(
            conn,
            matter_id,
            title=changes.get("title"),
            responsible=changes.get("responsible"),
            closed=changes.get("closed"),
            by=operator.actor,
        )
        return matter_out(await matters.get(conn, matter_id))
