"""The seller: its details, bank accounts, number series and own reminder schedule."""

from __future__ import annotations

from typing import Any

from pydantic import EmailStr, Field, create_model

from db import companies
from starter.api.schemas.common import Answer, Body, Name

SERIES_PATTERN = r"^[A-Za-z0-9]{1,20}$"


class CompanyPatch(Body):
    """The seller's details; a field left out keeps its value. Requisites are checked for
    the company's country after the change, all together."""

    name: Name | None = Field(default=None, min_length=1, max_length=300)
    legal_form: str | None = Field(default=None, max_length=60)
    address: str | None = Field(default=None, max_length=500)
    # The address in parts, as on a client (ClientIn). Parts changed without `address`
    # make the printed line anew from them.
    street: str | None = Field(default=None, max_length=150)
    city: str | None = Field(default=None, max_length=50)
    postal_code: str | None = Field(default=None, max_length=20)
    county: str | None = Field(default=None, max_length=60)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=60)
    locale: str | None = Field(default=None, pattern=r"^(ro|ru|en)$")
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    tax_id: str | None = Field(default=None, max_length=40)
    registration_number: str | None = Field(default=None, max_length=60)
    vat_id: str | None = Field(default=None, max_length=40)
    kpp: str | None = Field(default=None, max_length=20)
    iban: str | None = Field(default=None, max_length=50)
    bank_name: Name | None = Field(default=None, max_length=200)
    bic: str | None = Field(default=None, max_length=20)
    bik: str | None = Field(default=None, max_length=20)
    settlement_account: str | None = Field(default=None, max_length=30)
    correspondent_account: str | None = Field(default=None, max_length=30)
    director_name: Name | None = Field(default=None, max_length=200)
    accountant_name: Name | None = Field(default=None, max_length=200)
    logo: str | None = Field(default=None, max_length=500)
    accent_color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    footer_text: str | None = Field(default=None, max_length=500)
    # The series new documents of each kind are numbered in (see /api/v1/number-series);
    # numbers already given keep theirs.
    invoice_series: str | None = Field(default=None, pattern=SERIES_PATTERN)
    proposal_series: str | None = Field(default=None, pattern=SERIES_PATTERN)
    credit_note_series: str | None = Field(default=None, pattern=SERIES_PATTERN)


class BankAccountIn(Body):
    """One of the seller's bank accounts: an IBAN (with BIC) or a Russian р/с with БИК and
    к/с. The first account in a currency, or one posted with is_default, is the default for
    that currency (the previous default stops being one)."""

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    bank_name: Name = Field(default="", max_length=200)
    iban: str = Field(default="", max_length=50)
    bic: str = Field(default="", max_length=20)
    settlement_account: str = Field(default="", max_length=30)
    bik: str = Field(default="", max_length=20)
    correspondent_account: str = Field(default="", max_length=30)
    is_default: bool = False


class NumberSeriesOut(Answer):
    kind: str
    series: str
    pattern: str
    reset_yearly: bool
    next_seq: int
    # The number the series gives next, in the year shown.
    next_number: str


class NumberSeriesList(Answer):
    items: list[NumberSeriesOut]


class BankAccountOut(Answer):
    id: str
    currency: str
    bank_name: str
    iban: str
    bic: str
    settlement_account: str
    bik: str
    correspondent_account: str
    is_default: bool


# Its fields between `id` and `bank_accounts` are the seller's editable details, listed once
# in db.companies.CompanyDetails.
_COMPANY_OUT_FIELDS: dict[str, Any] = {
    "id": (str, ...),
    **{column: (str, ...) for column in companies.DETAIL_COLUMNS},
    # The address is only a printed line: e-Factura needs its parts.
    "address_needs_review": (bool, ...),
    "bank_accounts": (list[BankAccountOut], ...),
}


CompanyOut = create_model("CompanyOut", __base__=Answer, **_COMPANY_OUT_FIELDS)


class ScheduleOut(Answer):
    offsets_days: list[int]
    hour: int
    repeat_every_days: int
    repeat_max: int


class OwnScheduleOut(Answer):
    """What an invoice or client sets itself; a field it leaves out (null) is inherited."""

    offsets_days: list[int] | None
    hour: int | None
    repeat_every_days: int | None
    repeat_max: int | None
