"""The company's connection to ANAF's e-Factura (issue 14, point 6): start or complete the
OAuth2 authorization, store tokens obtained elsewhere, and say whether it works. The
admin's (domain.operators.ADMIN_ONLY), except ANAF's redirect back to the callback, which
a browser makes without a key: it is let in by the `state` an admin started (random,
stored hashed, single-use, short-lived)."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from activities.anaf_client import AnafError, AnafNotConnected, AnafRefused
from activities.efactura_access import STATE_VALID_FOR, Connection, EfacturaAccess, TokenGrant
from db import companies, operators, store
from domain.operators import operator_actor
from settings import EFACTURA_CALLBACK_PATH
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.errors import unprocessable
from starter.api.operations import iso
from starter.api.schemas.efactura import (
    EfacturaConnectIn,
    EfacturaConnectOut,
    EfacturaStatusOut,
)

router = APIRouter()


def access_of(state: State) -> EfacturaAccess:
    return EfacturaAccess(state.pool, state.settings)


def refused(error: AnafError) -> HTTPException | Exception:
    """ANAF's or q2c's refusal as an answer: a field's fault 422, not connected (or nothing
    to connect with: no key, no registered app) 409, ANAF unreachable 502."""
    if isinstance(error, AnafNotConnected):
        return HTTPException(409, str(error))
    if isinstance(error, AnafRefused):
        return unprocessable(str(error))
    return HTTPException(502, str(error))


def status_json(connection: Connection, check: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "enabled": connection.base_url is not None,
        "base_url": connection.base_url,
        "oauth_url": connection.oauth_url,
        "connected": connection.connected,
        "access_expires_at": iso(connection.access_expires_at),
        "connected_at": iso(connection.connected_at),
        "connected_by": connection.connected_by or None,
        "last_refresh_at": iso(connection.refreshed_at),
        "check": check,
    }


async def live_check(access: EfacturaAccess, company_id: Any, cif: str) -> dict[str, Any]:
    """The company's message list of the last day, read from ANAF with its tokens (refreshed
    on the way when due)."""
    try:
        anaf = await access.client_for(company_id)
        listed = await anaf.messages(cif, 1)
    except AnafError as failed:
        return {"ok": False, "message": str(failed), "messages": None}
    return {
        "ok": True,
        "message": f"ANAF answered for CIF {cif}: {len(listed)} message(s) in the last day",
        "messages": len(listed),
    }


async def company_status(state: State, *, check: bool) -> dict[str, Any]:
    access = access_of(state)
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        company = await companies.get(conn, company_id)
    connection = await access.connection(company_id)
    found = None
    if check and connection.connected and connection.base_url is not None:
        found = await live_check(access, company_id, company.tax_id)
    return status_json(connection, found)


@router.get(
    "/api/v1/efactura/status",
    response_model=EfacturaStatusOut,
    dependencies=API_KEY,
    tags=["efactura"],
)
async def efactura_status(state: State) -> dict[str, Any]:
    return await company_status(state, check=True)


@router.post(
    "/api/v1/efactura/connect",
    response_model=EfacturaConnectOut,
    tags=["efactura"],
)
async def efactura_connect(
    body: EfacturaConnectIn, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    access = access_of(state)
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
    url = None
    try:
        if body.code is not None:
            await access.connect_with_code(company_id, body.code, actor=operator.actor)
        elif body.access_token is not None:
            grant = TokenGrant(body.access_token, body.refresh_token or "", body.expires_in or 0)
            await access.connect_with_tokens(company_id, grant, actor=operator.actor)
        else:
            url = await access.start(company_id, operator.id)
    except AnafError as failed:
        raise refused(failed) from None
    return {
        "authorize_url": url,
        "authorize_expires_at": iso(datetime.now(UTC) + STATE_VALID_FOR) if url else None,
        "status": await company_status(state, check=url is None),
    }


def _page(title: str, message: str, status_code: int) -> HTMLResponse:
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'",
        },
    )


@router.get(EFACTURA_CALLBACK_PATH, response_class=HTMLResponse, include_in_schema=False)
async def efactura_callback(
    state: State,
    code: Annotated[str, Query(max_length=4096)] = "",
    oauth_state: Annotated[str, Query(alias="state", max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    error_description: Annotated[str, Query(max_length=500)] = "",
) -> HTMLResponse:
    """Where ANAF sends the browser back after the authorization: the state an admin
    started is used up, the code exchanged, the tokens stored."""
    access = access_of(state)
    try:
        started = await access.claim(oauth_state)
    except AnafError as failed:
        return _page("e-Factura: not connected", str(failed), 400)
    if error or not code:
        reason = " ".join(f"{error} {error_description}".split()) or "no authorization code"
        return _page("e-Factura: not connected", f"ANAF did not authorize q2c: {reason}", 400)
    async with state.pool.acquire() as conn:
        operator = await operators.get(conn, started.operator_id)
    if operator is None or operator.revoked_at is not None:
        return _page("e-Factura: not connected", "the operator who started this is gone", 400)
    try:
        await access.connect_with_code(
            started.company_id, code, actor=operator_actor(operator.name)
        )
    except AnafError as failed:
        return _page("e-Factura: not connected", str(failed), 502)
    return _page(
        "e-Factura: connected",
        "q2c is connected to ANAF's e-Factura; you can close this window "
        "(`q2c efactura status` checks the connection).",
        200,
    )


class HideCallbackQuery(logging.Filter):
    """The access log shows the OAuth callback without its query: ANAF's code and the state
    are single-use, but no log line should carry them."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2]
            if path.startswith(EFACTURA_CALLBACK_PATH) and "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?…", *args[3:])
        return True


def hide_callback_query_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(known, HideCallbackQuery) for known in access.filters):
        access.addFilter(HideCallbackQuery())
