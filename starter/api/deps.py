"""What routes depend on: the app's shared state and the operators' API-key check (who is
calling, with which role; domain.operators says which role each route needs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends, HTTPException, Request
from temporalio.client import Client

from activities.documents import template_environment
from db import codec_sessions, operators
from domain.client_ip import client_address, trusted_networks
from domain.operators import (
    Role,
    allows,
    operator_actor,
    refusal,
    required_role,
    should_record_use,
)
from settings import Settings


class Q2CState:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, temporal: Client) -> None:
        self.settings = settings
        self.pool = pool
        self.temporal = temporal
        self.pages = template_environment()


def get_state(request: Request) -> Q2CState:
    state: Q2CState = request.app.state.q2c
    return state


State = Annotated[Q2CState, Depends(get_state)]


def client_ip(request: Request) -> str:
    """The client's IP, for every place that records or limits by one: X-Forwarded-For
    counts only when the peer is a configured trusted proxy (domain.client_ip)."""
    peer = request.client.host if request.client else ""
    networks = trusted_networks(get_state(request).settings.trusted_proxies)
    return client_address(peer, request.headers.getlist("x-forwarded-for"), networks)


@dataclass(frozen=True)
class Operator:
    """The operator whose key made this request."""

    id: UUID
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How their actions are recorded."""
        return operator_actor(self.name)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


# The codec login page's cookie (routers/codec.py): the Temporal UI sends cookies, not keys.
CODEC_SESSION_COOKIE = "q2c_codec_session"


async def require_api_key(request: Request) -> Operator:
    """The caller's operator, from the bearer key's hash (or, on /codec routes only, the
    codec login's session cookie): 401 for no, unknown or revoked key or session, 403 when
    the route needs a higher role than theirs."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    bearer = scheme.lower() == "bearer" and bool(key) and len(key) <= 200
    route_path = getattr(request.scope.get("route"), "path", request.url.path)
    session = (
        request.cookies.get(CODEC_SESSION_COOKIE, "") if route_path.startswith("/codec/") else ""
    )
    if not bearer and not (session and len(session) <= 200):
        raise _unauthorized("a valid API key is required")
    async with get_state(request).pool.acquire() as conn:
        now = datetime.now(UTC)
        if not bearer:
            # The cookie rides along with any same-site request: only the UI's origins use it.
            if (
                request.headers.get("origin", "")
                not in get_state(request).settings.codec_cors_origins
            ):
                raise _unauthorized("the codec session cookie is for the Temporal UI's origins")
            row = await codec_sessions.operator_of(conn, session, now)
            if row is None:
                raise _unauthorized("the codec session has ended: log in again at /codec/session")
        else:
            row = await operators.by_key(conn, key)
        if row is None:
            raise _unauthorized("a valid API key is required")
        if row.revoked_at is not None:
            raise _unauthorized("this API key has been revoked")
        if should_record_use(row.last_used_at, now):
            await operators.record_use(conn, row.id, now)
    role = Role(row.role)
    # The matched route's path template, so a rule names routes, not concrete URLs.
    needed = required_role(request.method, route_path)
    if not allows(role, needed):
        raise HTTPException(403, refusal(role, needed))
    return Operator(row.id, row.name, role)


# Every operator route carries it.
API_KEY = [Depends(require_api_key)]
# A route that records who acted takes it as a parameter (the check runs once per request).
CurrentOperator = Annotated[Operator, Depends(require_api_key)]
