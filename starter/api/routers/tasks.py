"""Operator tasks linked to an invoice or a client: made by hand or by the invoice's life."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, HTTPException
from pydantic import Field

from activities.events import emit_task_created
from db import store
from starter.api.deps import API_KEY, State
from starter.api.operations import iso
from starter.api.schemas import Body, TaskList, TaskOut


class TaskIn(Body):
    title: str = Field(min_length=1, max_length=500)
    assignee: str = Field(default="", max_length=200)
    due_date: date | None = None
    invoice_id: UUID | None = None
    client_id: UUID | None = None


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "title": row["title"],
        "assignee": row["assignee"],
        "due_date": iso(row["due_date"]),
        "done": row["done_at"] is not None,
        "done_at": iso(row["done_at"]),
        "invoice_id": str(row["invoice_id"]) if row["invoice_id"] else None,
        "client_id": str(row["client_id"]) if row["client_id"] else None,
        "created_at": iso(row["created_at"]),
    }


router = APIRouter()


@router.get("/api/v1/tasks", response_model=TaskList, dependencies=API_KEY, tags=["tasks"])
async def list_tasks(
    state: State,
    done: bool | None = False,
    invoice_id: UUID | None = None,
    client_id: UUID | None = None,
    assignee: str | None = None,
) -> dict[str, Any]:
    rows = await state.pool.fetch(
        """SELECT * FROM tasks
           WHERE ($1::boolean IS NULL OR (done_at IS NOT NULL) = $1)
             AND ($2::uuid IS NULL OR invoice_id = $2)
             AND ($3::uuid IS NULL OR client_id = $3)
             AND ($4::text IS NULL OR assignee = $4)
           ORDER BY due_date NULLS LAST, created_at""",
        done,
        invoice_id,
        client_id,
        assignee,
    )
    return {"items": [task_json(row) for row in rows]}


@router.post(
    "/api/v1/tasks", response_model=TaskOut, status_code=201, dependencies=API_KEY, tags=["tasks"]
)
async def create_task(body: TaskIn, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        client_id = body.client_id
        if body.invoice_id is not None:
            invoice = await store.invoice(conn, body.invoice_id)
            if client_id is not None and client_id != invoice["client_id"]:
                raise HTTPException(422, "client_id: the invoice belongs to another client")
            client_id = invoice["client_id"]
        elif client_id is not None:
            await store.client(conn, client_id)
        company_id = await store.default_company_id(conn)
        async with conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title,
                       assignee, due_date)
                   VALUES ($1, $2, $3, 'manual', $4, $5, $6) RETURNING *""",
                company_id,
                body.invoice_id,
                client_id,
                body.title,
                body.assignee,
                body.due_date,
            )
            assert row is not None
            await emit_task_created(conn, row["id"])
        return task_json(row)


@router.post(
    "/api/v1/tasks/{task_id}/done", response_model=TaskOut, dependencies=API_KEY, tags=["tasks"]
)
async def complete_task(task_id: UUID, state: State) -> dict[str, Any]:
    row = await state.pool.fetchrow(
        """UPDATE tasks SET done_at = coalesce(done_at, now()) WHERE id = $1 RETURNING *""",
        task_id,
    )
    if row is None:
        raise HTTPException(404, "task not found")
    return task_json(row)
