"""Operator tasks linked to an invoice or a client: made by hand or by the invoice's life."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from activities.events import emit_task_created
from db import clients, invoices, store
from db import tasks as task_store
from db.rows import TaskRow
from domain.errors import Unacceptable
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import check_matter_of, iso
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.schemas import Body, TaskList, TaskOut


class TaskIn(Body):
    title: str = Field(min_length=1, max_length=500)
    assignee: str = Field(default="", max_length=200)
    due_date: date | None = None
    invoice_id: UUID | None = None
    client_id: UUID | None = None
    # A matter (case) of the task's client (the client's, or the invoice's client's).
    matter_id: UUID | None = None


def task_json(row: TaskRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "assignee": row.assignee,
        "due_date": iso(row.due_date),
        "done": row.done_at is not None,
        "done_at": iso(row.done_at),
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
        "client_id": str(row.client_id) if row.client_id else None,
        "created_at": iso(row.created_at),
        "opened_by": row.opened_by,
        "closed_by": row.closed_by,
        "matter_id": str(row.matter_id) if row.matter_id else None,
    }


router = APIRouter()


PAGER: Pager[TaskRow] = Pager("tasks", task_store.ORDER)


@router.get(
    "/api/v1/tasks",
    response_model=TaskList,
    dependencies=API_KEY,
    tags=["tasks"],
    description=paged(
        "Tasks matching every filter given (`done=false`, the default: open ones; "
        "`done=true`: done ones), soonest due first, those without a due date last, then "
        "oldest first and by id."
    ),
)
async def list_tasks(
    state: State,
    done: bool | None = False,
    invoice_id: UUID | None = None,
    client_id: UUID | None = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    matter_id: Annotated[
        UUID | None, Query(description="only those filed under this matter")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    filters = {
        "matter_id": matter_id,
        "done": done,
        "invoice_id": invoice_id,
        "client_id": client_id,
        "assignee": assignee,
    }
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        rows = await task_store.list_filtered(
            conn,
            done=done,
            invoice_id=invoice_id,
            client_id=client_id,
            assignee=assignee,
            after=after,
            limit=limit + 1,
            matter_id=matter_id,
        )
    return PAGER.page(rows, limit, filters, task_json)


@router.post(
    "/api/v1/tasks", response_model=TaskOut, status_code=201, dependencies=API_KEY, tags=["tasks"]
)
async def create_task(body: TaskIn, state: State, operator: CurrentOperator) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        client_id = body.client_id
        if body.invoice_id is not None:
            invoice = await invoices.get(conn, body.invoice_id)
            if client_id is not None and client_id != invoice.client_id:
                raise Unacceptable("client_id: the invoice belongs to another client")
            client_id = invoice.client_id
        elif client_id is not None:
            await clients.get(conn, client_id)
        if body.matter_id is not None:
            # A task with no client takes the matter's; one with a client needs its matter.
            client_id = await check_matter_of(conn, body.matter_id, client_id)
        company_id = await store.default_company_id(conn)
        async with conn.transaction():
            row = await task_store.insert_manual(
                conn,
                company_id=company_id,
                invoice_id=body.invoice_id,
                client_id=client_id,
                title=body.title,
                assignee=body.assignee,
                due_date=body.due_date,
                opened_by=operator.actor,
                matter_id=body.matter_id,
            )
            await emit_task_created(conn, row.id)
        return task_json(row)


@router.post(
    "/api/v1/tasks/{task_id}/done", response_model=TaskOut, dependencies=API_KEY, tags=["tasks"]
)
async def complete_task(task_id: UUID, state: State, operator: CurrentOperator) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        row = await task_store.mark_done(conn, task_id, operator.actor)
    if row is None:
        raise HTTPException(404, "task not found")
    return task_json(row)
