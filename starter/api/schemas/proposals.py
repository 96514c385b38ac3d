"""Proposals: a new one, and one as answered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import Field, StrictInt, field_validator

from domain.followups import (
    MAX_FOLLOWUPS,
    FollowupError,
    check_days_after_sent,
    check_days_before_expiry,
)
from starter.api.schemas.common import (
    Amount,
    Answer,
    Body,
    DecimalText,
    IsoDate,
    IsoInstant,
    LineIn,
    _known_currency,
)


class ProposalIn(Body):
    client_id: UUID
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    valid_until: date
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    notes: str = Field(default="", max_length=5000)
    external_id: str | None = Field(default=None, max_length=200)
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    # False keeps it as a draft: nothing is emailed until POST /api/v1/proposals/{id}/send.
    send: bool = True
    # A contract of the same client, printed on the proposal and inherited by its invoice.
    contract_id: UUID | None = None
    # A matter (case) of the same client; its invoice inherits it.
    matter_id: UUID | None = None
    # Unit prices entered with VAT (gross); a discount on the whole document, before VAT.
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)

    # Its own follow-up schedule; left out (null), the company's applies; [] sends none.
    followup_days_after_sent: list[StrictInt] | None = Field(
        default=None,
        max_length=MAX_FOLLOWUPS,
        description="days after it is sent, e.g. [3, 7]; default: the company's",
    )
    followup_days_before_expiry: list[StrictInt] | None = Field(
        default=None,
        max_length=MAX_FOLLOWUPS,
        description="days before valid_until, e.g. [2]; default: the company's",
    )

    _currency = field_validator("currency")(_known_currency)

    @field_validator("followup_days_after_sent")
    @classmethod
    def _after_sent(cls, value: list[int] | None) -> list[int] | None:
        return followup_days(check_days_after_sent, "followup_days_after_sent", value)

    @field_validator("followup_days_before_expiry")
    @classmethod
    def _before_expiry(cls, value: list[int] | None) -> list[int] | None:
        return followup_days(check_days_before_expiry, "followup_days_before_expiry", value)


def followup_days(
    check: Callable[[str, list[int] | None], tuple[int, ...] | None],
    field: str,
    value: list[int] | None,
) -> list[int] | None:
    """The days checked (domain.followups), sorted without repeats; a bad one is a 422
    naming the field and index."""
    try:
        checked = check(field, value)
    except FollowupError as bad:
        raise ValueError(str(bad)) from bad
    return list(checked) if checked is not None else None


class ProposalInvoiceOut(Answer):
    """The draft invoice an unsigned proposal was made into."""

    proposal_id: str
    proposal_status: str
    invoice_id: str
    invoice_status: str
    converted_by: str | None
    converted_at: IsoInstant | None
    workflow_id: str


class ProposalOut(Answer):
    id: str
    status: str
    client_id: str
    external_id: str | None
    currency: str
    valid_until: IsoDate | None
    payment_terms_days: int
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    emailed_at: IsoInstant | None
    signed_at: IsoInstant | None
    declined_at: IsoInstant | None
    decline_reason: str | None
    invoice_id: str | None
    # Given when the proposal is first sent; a draft has none.
    number: str | None
    issue_date: IsoDate | None
    workflow_id: str
    contract_id: str | None
    prices_include_vat: bool
    discount_percent: DecimalText
    # The proposal's own follow-up schedule (null: the company's).
    followup_days_after_sent: list[int] | None = None
    followup_days_before_expiry: list[int] | None = None
    # The matter (case) it is filed under (GET /api/v1/matters/{id}), if any.
    matter_id: str | None = None


class ProposalList(Answer):
    items: list[ProposalOut]
    # The next page's `cursor`; null on the last page.
    next_cursor: str | None
