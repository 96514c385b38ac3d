"""Inbound webhooks: authenticated, stored before they are acted on, idempotent by event id."""

from __future__ import annotations

from fastapi import FastAPI


def add_webhook_routes(app: FastAPI) -> None:
    """Registers /webhooks/*."""
