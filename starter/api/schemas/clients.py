"""Clients: a new client, a client as answered, and its reminder settings."""

from __future__ import annotations

from pydantic import EmailStr, Field

from starter.api.schemas.common import Answer, Body, DecimalText, IsoDate, IsoInstant, Name
from starter.api.schemas.company import OwnScheduleOut
from starter.api.schemas.matters import MatterOut
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
    # Archived (instead of deleted): when and by whom (`operator:<name>`); None if not.
    archived_at: IsoInstant | None
    archived_by: str | None
    # Last brought back from the archive: when and by whom.
    unarchived_at: IsoInstant | None
    unarchived_by: str | None


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


class ClientList(Answer):
    """A page of clients by name; `next_cursor` (opaque) asks for the next, None at the end."""

    items: list[ClientOut]
    next_cursor: str | None


class CardContractOut(Answer):
    id: str
    number: str
    contract_date: IsoDate
    subject: str
    currency: str


class CardProposalOut(Answer):
    id: str
    number: str | None
    status: str
    currency: str
    total: DecimalText
    valid_until: IsoDate
    invoice_id: str | None
    created_at: IsoInstant


class CardInvoiceOut(Answer):
    id: str
    number: str | None
    status: str
    overdue: bool
    currency: str
    total: DecimalText
    amount_paid: DecimalText
    amount_due: DecimalText
    issue_date: IsoDate | None
    due_date: IsoDate | None
    created_at: IsoInstant


class CardTaskOut(Answer):
    id: str
    kind: str
    title: str
    assignee: str
    due_date: IsoDate | None
    invoice_id: str | None
    proposal_id: str | None
    created_at: IsoInstant


class CardMoneyOut(Answer):
    """Per currency, as decimal strings: what the client's open invoices still ask
    (`balance_due`), of it what is past its due date (`overdue`), and the client's credit."""

    currency: str
    balance_due: DecimalText
    overdue: DecimalText
    credit: DecimalText


class ClientCardOut(Answer):
    """A client at a glance. Each list holds at most the `limit` most recent; the money
    sums every document, not only those listed."""

    client: ClientOut
    contracts: list[CardContractOut]
    proposals: list[CardProposalOut]
    invoices: list[CardInvoiceOut]
    open_tasks: list[CardTaskOut]
    money: list[CardMoneyOut]
    limit: int
    # Its matters (cases), the most recent first, open and closed.
    matters: list[MatterOut]
