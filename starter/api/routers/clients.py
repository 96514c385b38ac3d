"""Clients: create one, read one, change one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from db import clients, store
from starter.api.deps import API_KEY, State
from starter.api.operations import client_json
from starter.api.routers.company import (
    CLIENT_COLUMNS,
    address_change,
    check_requisites,
    insert_client,
    refuse,
)
from starter.api.schemas import ClientIn, ClientOut
from starter.api.schemas.clients import ClientPatch

router = APIRouter()


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
        client_id = await insert_client(conn, company_id, body)
        return client_json(await clients.get(conn, client_id))


@router.get(
    "/api/v1/clients/{client_id}", response_model=ClientOut, dependencies=API_KEY, tags=["clients"]
)
async def get_client(client_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return client_json(await clients.get(conn, client_id))


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
        return client_json(await clients.get(conn, client_id))
