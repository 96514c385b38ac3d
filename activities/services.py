"""What the activities need, built once per worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from temporalio.exceptions import ApplicationError

from activities.documents import DocumentRenderer
from activities.efactura_access import EfacturaAccess
from activities.mail import Mailer
from db.store import NotFound
from domain.errors import InvalidInput
from domain.status import IllegalTransition


@dataclass
class Services:
    pool: asyncpg.Pool
    mailer: Mailer
    renderer: DocumentRenderer
    public_url: str
    invoice_link_days: int = 180
    # Settings.webhook_allow_hosts: internal webhook targets allowed on purpose.
    webhook_allow_hosts: tuple[str, ...] = ()
    # RO e-Factura: each company's ANAF client; None when submission is off
    # (Settings.efactura_url is None).
    efactura: EfacturaAccess | None = None


@asynccontextmanager
async def business_errors() -> AsyncIterator[None]:
    """Rule violations are final: retrying them would only fail again, so no retry."""
    try:
        yield
    except IllegalTransition as refused:
        raise ApplicationError(
            refused.reason, type="IllegalTransition", non_retryable=True
        ) from refused
    except InvalidInput as bad:
        raise ApplicationError(str(bad), type="InvalidInput", non_retryable=True) from bad
    except NotFound as missing:
        raise ApplicationError(str(missing), type="NotFound", non_retryable=True) from missing
