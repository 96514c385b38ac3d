"""Clients: create one, read one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from db import clients, store
from starter.api.deps import API_KEY, State
from starter.api.operations import client_json
from starter.api.routers.company import insert_client
from starter.api.schemas import ClientIn, ClientOut

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
