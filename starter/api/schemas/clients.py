"""Clients: a new client, a client as answered, and its reminder settings."""

from __future__ import annotations

from pydantic import EmailStr, Field

from starter.api.schemas.common import Answer, Body, Name
from starter.api.schemas.company import OwnScheduleOut
from starter.api.schemas.reminders import ScheduleInForceOut


class ClientIn(Body):
    name: Name = Field(min_length=1, max_length=300)
    email: EmailStr
    country: str = Field(pattern=r"^[A-Z]{2}$")
    locale: str = Field(default="en", pattern=r"^(ro|ru|en)$")
    tax_id: str = Field(default="", max_length=40)
    registration_number: str = Field(default="", max_length=60)
    address: str = Field(default="", max_length=500)
    # The address in parts (CIUS-RO's bounds; checked by domain/addresses.py): the county
    # is an ISO 3166-2 code (RO-CJ; RO-B for Bucharest, whose city is its sector,
    # SECTOR1 … SECTOR6). Without `address`, the printed line is made from them.
    street: str = Field(default="", max_length=150)
    city: str = Field(default="", max_length=50)
    postal_code: str = Field(default="", max_length=20)
    county: str = Field(default="", max_length=60)
    # Legal details, checked for the client's country (domain/requisites.validate_party):
    # registration_number is the Reg. Com. in Romania and the ОГРН/ОГРНИП in Russia.
    legal_form: str = Field(default="", max_length=60)
    vat_id: str = Field(default="", max_length=40)
    kpp: str = Field(default="", max_length=20)
    iban: str = Field(default="", max_length=50)
    bank_name: Name = Field(default="", max_length=200)
    bic: str = Field(default="", max_length=20)
    bik: str = Field(default="", max_length=20)
    settlement_account: str = Field(default="", max_length=30)
    correspondent_account: str = Field(default="", max_length=30)


class ClientPatch(Body):
    """A client's details; a field left out keeps its value. Requisites are checked for the
    client's country after the change, all together; address parts changed without
    `address` make the printed line anew from them."""

    name: Name | None = Field(default=None, min_length=1, max_length=300)
    email: EmailStr | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    locale: str | None = Field(default=None, pattern=r"^(ro|ru|en)$")
    tax_id: str | None = Field(default=None, max_length=40)
    registration_number: str | None = Field(default=None, max_length=60)
    address: str | None = Field(default=None, max_length=500)
    street: str | None = Field(default=None, max_length=150)
    city: str | None = Field(default=None, max_length=50)
    postal_code: str | None = Field(default=None, max_length=20)
    county: str | None = Field(default=None, max_length=60)
    legal_form: str | None = Field(default=None, max_length=60)
    vat_id: str | None = Field(default=None, max_length=40)
    kpp: str | None = Field(default=None, max_length=20)
    iban: str | None = Field(default=None, max_length=50)
    bank_name: Name | None = Field(default=None, max_length=200)
    bic: str | None = Field(default=None, max_length=20)
    bik: str | None = Field(default=None, max_length=20)
    settlement_account: str | None = Field(default=None, max_length=30)
    correspondent_account: str | None = Field(default=None, max_length=30)


class ClientOut(Answer):
    id: str
    name: str
    email: str
    country: str
    locale: str
    tax_id: str
    registration_number: str
    address: str
    street: str
    city: str
    postal_code: str
    county: str
    # The address is only a printed line (from before addresses had parts, or typed
    # alone): e-Factura needs its parts.
    address_needs_review: bool
    legal_form: str
    vat_id: str
    kpp: str
    iban: str
    bank_name: str
    bic: str
    bik: str
    settlement_account: str
    correspondent_account: str


class ClientRemindersOut(Answer):
    client_id: str
    time_zone: str | None
    own_schedule: OwnScheduleOut | None
    in_force: ScheduleInForceOut


class NotReplannedOut(Answer):
    invoice_id: str
    detail: str


class ClientRemindersSetOut(ClientRemindersOut):
    replanned_invoices: list[str]
    not_replanned: list[NotReplannedOut]
