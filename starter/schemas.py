"""Request and response bodies of the HTTP API. Amounts travel as decimal strings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from babel.numbers import get_currency_precision
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    field_validator,
)

from domain.money import Line
from workflows.shared import LineData


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('give amounts as decimal strings, e.g. "250.00", not JSON numbers')
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    PlainSerializer(lambda value: str(value), return_type=str),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientIn(Body):
    name: str = Field(min_length=1, max_length=300)
    email: EmailStr
    country: str = Field(pattern=r"^[A-Z]{2}$")
    locale: str = Field(default="en", pattern=r"^(ro|ru|en)$")
    tax_id: str = Field(default="", max_length=40)
    registration_number: str = Field(default="", max_length=60)
    address: str = Field(default="", max_length=500)


class LineIn(Body):
    description: str = Field(min_length=1, max_length=1000)
    quantity: Amount = Field(gt=0, decimal_places=4)
    unit: str = Field(default="", max_length=20)
    unit_price: Amount = Field(ge=0, decimal_places=4)
    vat_rate: Amount = Field(ge=0, lt=100, decimal_places=4)
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)

    def as_line(self) -> Line:
        return Line(
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            vat_rate=self.vat_rate,
            unit=self.unit,
            discount_percent=self.discount_percent,
        )

    def as_data(self) -> LineData:
        return LineData(
            description=self.description,
            quantity=str(self.quantity),
            unit_price=str(self.unit_price),
            vat_rate=str(self.vat_rate),
            unit=self.unit,
            discount_percent=str(self.discount_percent),
        )


def _known_currency(code: str) -> str:
    try:
        get_currency_precision(code)
    except Exception as unknown:  # babel raises several kinds for unknown codes
        raise ValueError(f"unknown currency {code}") from unknown
    return code


class ProposalIn(Body):
    client_id: UUID
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    valid_until: date
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    notes: str = Field(default="", max_length=5000)
    external_id: str | None = Field(default=None, max_length=200)
    lines: list[LineIn] = Field(min_length=1, max_length=500)

    _currency = field_validator("currency")(_known_currency)


class InvoicePatch(Body):
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    due_date: date | None = None
    notes: str | None = Field(default=None, max_length=5000)


class PaymentIn(Body):
    amount: Amount = Field(gt=0)
    paid_at: date
    reference: str = Field(min_length=1, max_length=200)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class VoidIn(Body):
    reason: str = Field(default="", max_length=1000)
