"""Operators: add one (its key is answered once), list them (never a key or its hash),
revoke or rotate a key. Admins only (domain.operators.ADMIN_ONLY)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from db import operators
from db.rows import OperatorRow
from domain.errors import Missing
from domain.operators import check_name, check_role
from starter.api.deps import API_KEY, State
from starter.api.operations import iso
from starter.api.schemas import Answer, Body, IsoInstant


class OperatorIn(Body):
    name: str = Field(min_length=1, max_length=64, examples=["alice"])
    role: str = Field(pattern=r"^(viewer|operator|admin)$", examples=["operator"])


class OperatorOut(Answer):
    id: str
    name: str
    role: str
    active: bool
    created_at: IsoInstant
    rotated_at: IsoInstant | None
    revoked_at: IsoInstant | None
    last_used_at: IsoInstant | None


class OperatorKeyOut(OperatorOut):
    key: str = Field(description="the operator's API key: shown this once, stored only hashed")


class OperatorList(Answer):
    items: list[OperatorOut]


def operator_json(row: OperatorRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "role": row.role,
        "active": row.revoked_at is None,
        "created_at": iso(row.created_at),
        "rotated_at": iso(row.rotated_at),
        "revoked_at": iso(row.revoked_at),
        "last_used_at": iso(row.last_used_at),
    }


router = APIRouter()


@router.post(
    "/api/v1/operators",
    response_model=OperatorKeyOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["operators"],
)
async def add_operator(body: OperatorIn, state: State) -> dict[str, Any]:
    name, role = check_name(body.name), check_role(body.role)
    async with state.pool.acquire() as conn:
        row, key = await operators.add(conn, name, role)
    return operator_json(row) | {"key": key}


@router.get(
    "/api/v1/operators", response_model=OperatorList, dependencies=API_KEY, tags=["operators"]
)
async def list_operators(state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rows = await operators.list_all(conn)
    return {"items": [operator_json(row) for row in rows]}


@router.post(
    "/api/v1/operators/{operator_id}/revoke",
    response_model=OperatorOut,
    dependencies=API_KEY,
    tags=["operators"],
)
async def revoke_operator(operator_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        row = await operators.revoke(conn, operator_id)
    if row is None:
        raise Missing("operator not found")
    return operator_json(row)


@router.post(
    "/api/v1/operators/{operator_id}/rotate",
    response_model=OperatorKeyOut,
    dependencies=API_KEY,
    tags=["operators"],
)
async def rotate_operator_key(operator_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        rotated = await operators.rotate(conn, operator_id)
    if rotated is None:
        raise Missing("no active operator with this id")
    row, key = rotated
    return operator_json(row) | {"key": key}
