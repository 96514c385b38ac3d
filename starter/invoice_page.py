"""The client's hosted invoice page, opened from the link in the invoice email."""

from __future__ import annotations

from fastapi import FastAPI


def add_invoice_page_routes(app: FastAPI) -> None:
    """Registers /i/{token}."""
