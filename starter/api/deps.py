"""What routes depend on: the app's shared state and the operators' API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request
from temporalio.client import Client

from activities.documents import template_environment
from domain.client_ip import client_address, trusted_networks
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


def require_api_key(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    expected = get_state(request).settings.api_key
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.encode(), expected.encode()):
        raise HTTPException(
            401, "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
        )


# Every operator route carries it.
API_KEY = [Depends(require_api_key)]
