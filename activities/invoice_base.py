"""What the invoice activities share: the services they run with, the hosted-invoice link
of their emails, and reading a date an operator entered."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from activities.services import Services
from db import store
from domain.errors import InvalidInput


class InvoiceActivityBase:
    def __init__(self, services: Services) -> None:
        self._s = services

    async def _hosted_link(
        self, conn: store.Connection, invoice_id: object, issued_at: datetime
    ) -> str:
        """A fresh link to the hosted invoice page for one email; only its hash is kept."""
        token = await store.new_access_token(
            conn,
            "invoice",
            issued_at + timedelta(days=self._s.invoice_link_days),
            invoice_id=invoice_id,
        )
        return f"{self._s.public_url}/i/{token}"


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as bad:
        raise InvalidInput(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from bad
