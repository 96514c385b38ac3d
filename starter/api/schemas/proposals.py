"""Proposals: a new one, and one as answered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import Field, field_validator

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
    # Unit prices entered with VAT (gross); a discount on the whole document, before VAT.
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)

    _currency = field_validator("currency")(_known_currency)


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
