"""Send again (issue 15): the optional body and the answer of
POST /api/v1/invoices/{id}/resend and POST /api/v1/proposals/{id}/resend."""

from __future__ import annotations

from typing import Any

from fastapi import Header
from pydantic import EmailStr, Field

from starter.api.schemas.common import Answer, Body

# The Idempotency-Key header: what a client may name a resend by (it ends up in an outbox
# key and a workflow id, so plain and short).
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
IDEMPOTENCY_KEY_MAX = 100


def idempotency_key_header(description: str) -> Any:
    """The `Idempotency-Key` header of a route that must act once per key (a resend, a
    manual invoice), bounded as above, for `Annotated[str | None, ...]`; `description`
    says what the key names."""
    return Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=description,
    )


class ResendIn(Body):
    to: EmailStr | None = Field(
        default=None, max_length=254, description="another address; default: the client's"
    )


class ResendOut(Answer):
    resent_to: str
    outbox_key: str = Field(description="`<kind>:<id>:resend:<Idempotency-Key>`")
    sent: bool = Field(description="delivered to the mail server (false: still queued, 202)")
