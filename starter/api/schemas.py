"""Request and response bodies of the HTTP API. Amounts travel as decimal strings."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from babel.numbers import get_currency_precision
from fastapi import Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from db import companies
from domain.contracts import DocumentLine
from domain.vat import VatCategory
from messages.models import InvoiceEdit, LineData


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('give amounts as decimal strings, e.g. "250.00", not JSON numbers')
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_refuse_float),
    PlainSerializer(lambda value: str(value), return_type=str),
]


def _no_control_characters(text: str) -> str:
    # A name is printed on documents and exported to spreadsheets, where a control
    # character (U+0000-U+001F, U+007F-U+009F) has no meaning and XLSX cannot hold one.
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("must not contain control characters")
    return text


Name = Annotated[str, AfterValidator(_no_control_characters)]
"""A name of a person, a company or a bank: one printable line."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientIn(Body):
    name: Name = Field(min_length=1, max_length=300)
    email: EmailStr
    country: str = Field(pattern=r"^[A-Z]{2}$")
    locale: str = Field(default="en", pattern=r"^(ro|ru|en)$")
    tax_id: str = Field(default="", max_length=40)
    registration_number: str = Field(default="", max_length=60)
    address: str = Field(default="", max_length=500)
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


SERIES_PATTERN = r"^[A-Za-z0-9]{1,20}$"


class CompanyPatch(Body):
    """The seller's details; a field left out keeps its value. Requisites are checked for
    the company's country after the change, all together."""

    name: Name | None = Field(default=None, min_length=1, max_length=300)
    legal_form: str | None = Field(default=None, max_length=60)
    address: str | None = Field(default=None, max_length=500)
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


class LineIn(Body):
    description: str = Field(min_length=1, max_length=1000)
    quantity: Amount = Field(gt=0, decimal_places=4)
    unit: str = Field(default="", max_length=20)
    unit_price: Amount = Field(ge=0, decimal_places=4)
    vat_rate: Amount = Field(ge=0, lt=100, decimal_places=4)
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    # Default: standard above 0 %, zero at 0 %. Exempt, reverse-charge and not-subject
    # lines (0 %) print their legal mention; an exemption may cite its legal basis.
    vat_category: VatCategory | None = None
    vat_legal_basis: str = Field(default="", max_length=300)

    def as_line(self) -> DocumentLine:
        return DocumentLine(
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            vat_rate=self.vat_rate,
            unit=self.unit,
            discount_percent=self.discount_percent,
            category=self.vat_category,
            legal_basis=self.vat_legal_basis,
        )

    def as_data(self) -> LineData:
        return LineData(
            description=self.description,
            quantity=str(self.quantity),
            unit_price=str(self.unit_price),
            vat_rate=str(self.vat_rate),
            unit=self.unit,
            discount_percent=str(self.discount_percent),
            vat_category=self.vat_category.value if self.vat_category else "",
            vat_legal_basis=self.vat_legal_basis,
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
    # False keeps it as a draft: nothing is emailed until POST /api/v1/proposals/{id}/send.
    send: bool = True
    # A contract of the same client, printed on the proposal and inherited by its invoice.
    contract_id: UUID | None = None
    # Unit prices entered with VAT (gross); a discount on the whole document, before VAT.
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)

    _currency = field_validator("currency")(_known_currency)


class InvoicePatch(Body):
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    due_date: date | None = None
    notes: str | None = Field(default=None, max_length=5000)
    prices_include_vat: bool | None = None
    discount_percent: Amount | None = Field(default=None, ge=0, le=100, decimal_places=4)
    # Lei per unit of the invoice's currency: a Romanian seller's invoice in another
    # currency needs it before approval (its VAT is printed in RON too).
    exchange_rate: Amount | None = Field(default=None, gt=0, decimal_places=6)

    def as_edit(self) -> InvoiceEdit:
        return InvoiceEdit(
            lines=[line.as_data() for line in self.lines] if self.lines is not None else None,
            due_date=self.due_date.isoformat() if self.due_date else None,
            notes=self.notes,
            prices_include_vat=self.prices_include_vat,
            discount_percent=(
                str(self.discount_percent) if self.discount_percent is not None else None
            ),
            exchange_rate=str(self.exchange_rate) if self.exchange_rate is not None else None,
        )


class PaymentIn(Body):
    amount: Amount = Field(gt=0)
    paid_at: date
    reference: str = Field(min_length=1, max_length=200)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class VoidIn(Body):
    reason: str = Field(default="", max_length=1000)


# --- inbound webhooks ------------------------------------------------------------------
# Each webhook body is one JSON object carrying its event id in `id`: the id is inside the
# signed body, so a captured request cannot be replayed under a fresh id.


class WebhookEventIn(Body):
    id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")


class CrmProposalIn(WebhookEventIn):
    """A CRM creates a proposal; `external_id` makes a retried create return the same one."""

    external_id: str = Field(min_length=1, max_length=200)
    client_id: UUID | None = None
    # Given instead of client_id: a client of the default company with this email is
    # reused as it is, otherwise one is created from these fields.
    client: ClientIn | None = Field(default=None, validate_default=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    valid_until: date
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    notes: str = Field(default="", max_length=5000)
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    send: bool = True
    contract_id: UUID | None = None
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)

    _currency = field_validator("currency")(_known_currency)

    @field_validator("client")
    @classmethod
    def _one_client(cls, client: ClientIn | None, info: ValidationInfo) -> ClientIn | None:
        has_id = info.data.get("client_id") is not None
        if client is not None and has_id:
            raise ValueError("give either client_id or client, not both")
        if client is None and not has_id and "client_id" in info.data:
            raise ValueError("give client_id or a client object")
        return client

    def as_proposal(self, client_id: UUID) -> ProposalIn:
        return ProposalIn(
            client_id=client_id,
            currency=self.currency,
            valid_until=self.valid_until,
            payment_terms_days=self.payment_terms_days,
            notes=self.notes,
            external_id=self.external_id,
            lines=self.lines,
            send=self.send,
            contract_id=self.contract_id,
            prices_include_vat=self.prices_include_vat,
            discount_percent=self.discount_percent,
        )


Sha256Hex = Annotated[
    str, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(lambda value: value.lower())
]


class EsignSignatureIn(WebhookEventIn):
    """An external e-signature provider reports that a proposal was signed."""

    proposal_id: UUID | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    signer_name: Name = Field(min_length=1, max_length=200)
    signer_email: EmailStr
    signed_at: AwareDatetime
    document_sha256: Sha256Hex
    provider: str = Field(default="external", min_length=1, max_length=100)
    # What the provider saw of the signer, when it reports it (not the provider's own IP).
    signer_ip: str = Field(default="", max_length=100)
    signer_user_agent: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_proposal(self) -> EsignSignatureIn:
        if (self.proposal_id is None) == (self.external_id is None):
            raise ValueError("proposal_id: give either proposal_id or external_id")
        return self


class PaymentEventIn(WebhookEventIn):
    """A payment provider or a bank import reports money received for an invoice."""

    invoice_number: str | None = Field(default=None, min_length=1, max_length=100)
    invoice_id: UUID | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: Amount = Field(gt=0, lt=Decimal("1e15"))
    reference: str = Field(min_length=1, max_length=200)
    # An instant with its offset, or a calendar date as a bank statement gives it.
    paid_at: AwareDatetime | date

    _currency = field_validator("currency")(_known_currency)

    @field_validator("amount")
    @classmethod
    def _minor_units(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        if currency:
            decimals = int(get_currency_precision(currency))
            exponent = amount.normalize().as_tuple().exponent
            if isinstance(exponent, int) and -exponent > decimals:
                raise ValueError(f"{currency} amounts have at most {decimals} decimals")
        return amount

    @model_validator(mode="after")
    def _one_invoice(self) -> PaymentEventIn:
        if (self.invoice_number is None) == (self.invoice_id is None):
            raise ValueError("invoice_number: give either invoice_number or invoice_id")
        return self

    @property
    def invoice_ref(self) -> str:
        return self.invoice_number if self.invoice_number is not None else str(self.invoice_id)


# --- answers -----------------------------------------------------------------------------
# They describe the JSON the routes build, exactly: a field they lack is an error, not a
# silent drop. Money and rates travel as decimal strings, dates and instants as ISO strings,
# ids as strings.

DecimalText = Annotated[str, Field(description="a decimal, as a string", examples=["250.00"])]
IsoDate = Annotated[str, Field(description="an ISO 8601 date", examples=["2026-12-03"])]
IsoInstant = Annotated[str, Field(description="an ISO 8601 instant with its offset")]


def file_answer(description: str, *media_types: str) -> dict[str, Any]:
    """What a route answering with a file declares instead of a response model."""
    return {
        "response_class": Response,
        "responses": {
            200: {"content": {media: {} for media in media_types}, "description": description}
        },
    }


PDF_ANSWER = file_answer("The PDF.", "application/pdf")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClientOut(Answer):
    id: str
    name: str
    email: str
    country: str
    locale: str
    tax_id: str
    registration_number: str
    address: str
    legal_form: str
    vat_id: str
    kpp: str
    iban: str
    bank_name: str
    bic: str
    bik: str
    settlement_account: str
    correspondent_account: str


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


class InvoiceOut(Answer):
    id: str
    number: str | None
    status: str
    overdue: bool
    currency: str
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    amount_paid: DecimalText
    amount_due: DecimalText
    issue_date: IsoDate | None
    due_date: IsoDate | None
    client_id: str
    proposal_id: str | None
    notes: str
    workflow_id: str
    # The credit note (storno) that cancelled it, once it is voided after issue.
    credit_note_id: str | None
    credit_note_number: str | None
    contract_id: str | None
    prices_include_vat: bool
    discount_percent: DecimalText
    exchange_rate: DecimalText | None
    # Why the last approval was refused; the invoice is still in review.
    approval_error: str | None


class LineOut(Answer):
    """A document line as every document shows it; each kind adds what it carries."""

    description: str
    quantity: DecimalText
    unit: str
    unit_price: DecimalText
    discount_percent: DecimalText
    vat_rate: DecimalText


class InvoiceLineOut(LineOut):
    vat_category: str
    net_amount: DecimalText


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]


class InvoiceList(Answer):
    items: list[InvoiceOut]


class StatusChangeOut(Answer):
    # "from" is a Python keyword: the field keeps its JSON name through an alias.
    from_status: str | None = Field(alias="from")
    to: str
    cause: str
    at: IsoInstant
    # Who made it: "operator:<name>", "temporal-ui", a webhook source, or "system".
    actor: str


class InvoiceHistory(Answer):
    items: list[StatusChangeOut]


class InvoiceActionOut(InvoiceOut):
    action: str


class PaymentRecordedOut(InvoiceOut):
    payment_recorded: bool


class TaskOut(Answer):
    id: str
    kind: str
    title: str
    assignee: str
    due_date: IsoDate | None
    done: bool
    done_at: IsoInstant | None
    invoice_id: str | None
    client_id: str | None
    created_at: IsoInstant
    # Who opened and who closed it ("system" for the automatic ones; see domain.operators).
    opened_by: str
    closed_by: str | None


class TaskList(Answer):
    items: list[TaskOut]


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


class UnmatchedPaymentOut(Answer):
    id: str
    event_id: str | None
    invoice_ref: str
    invoice_id: str | None
    invoice_number: str | None
    invoice_status: str | None
    amount: DecimalText
    currency: str
    reference: str
    paid_at: IsoInstant | None
    reason: str
    received_at: IsoInstant
    resolved_at: IsoInstant | None


class UnmatchedPaymentList(Answer):
    items: list[UnmatchedPaymentOut]


class CreditGroupOut(Answer):
    rate: DecimalText
    category: str
    base: DecimalText
    vat: DecimalText


class CreditNoteOut(Answer):
    id: str
    number: str
    series: str
    # "issued", then "sent" once emailed.
    status: str
    issue_date: IsoDate
    client_id: str
    invoice_id: str
    invoice_number: str
    invoice_issue_date: IsoDate
    currency: str
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    vat_groups: list[CreditGroupOut]
    reason: str
    amount_received: DecimalText
    issued_at: IsoInstant
    sent_at: IsoInstant | None


class CreditNoteLineOut(LineOut):
    net_amount: DecimalText


class CreditNoteDetailOut(CreditNoteOut):
    lines: list[CreditNoteLineOut]


class CreditNoteList(Answer):
    items: list[CreditNoteOut]


class CreditBalanceOut(Answer):
    currency: str
    amount: DecimalText


class CreditEntryOut(Answer):
    kind: str
    amount: DecimalText
    currency: str
    invoice_id: str
    invoice_number: str | None
    reference: str
    created_at: IsoInstant


class ClientCreditOut(Answer):
    client_id: str
    balances: list[CreditBalanceOut]
    entries: list[CreditEntryOut]


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
    "bank_accounts": (list[BankAccountOut], ...),
}
CompanyOut = create_model("CompanyOut", __base__=Answer, **_COMPANY_OUT_FIELDS)


class AuditEventOut(Answer):
    id: int
    kind: str
    actor: str
    occurred_at: IsoInstant
    ip: str
    user_agent: str
    data: Any
    prev_hash: str
    hash: str


class ProposalAuditOut(Answer):
    proposal_id: str
    events: list[AuditEventOut]
    chain_valid: bool
    first_invalid_event_id: int | None


class RefundOut(Answer):
    reference: str
    payment_reference: str
    amount: DecimalText
    from_invoice: DecimalText
    from_credit: DecimalText
    currency: str
    refunded_at: IsoDate
    created_at: IsoInstant
    recorded_by: str


class RefundList(Answer):
    items: list[RefundOut]


class RefundRecordedOut(InvoiceOut):
    refund_recorded: bool


class ContractOut(Answer):
    id: str
    number: str
    contract_date: IsoDate
    client_id: str
    subject: str
    currency: str
    payment_terms_days: int
    prices_include_vat: bool
    discount_percent: DecimalText
    notes: str
    created_at: IsoInstant


class ContractLineOut(LineOut):
    vat_category: str
    vat_legal_basis: str


class ContractInvoiceRef(Answer):
    id: str
    number: str | None
    status: str


class ContractDetailOut(ContractOut):
    lines: list[ContractLineOut]
    # The default lines' totals, as one invoice of them would have.
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    invoices: list[ContractInvoiceRef]


class ContractList(Answer):
    items: list[ContractOut]


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


class ReminderStepOut(Answer):
    step: int
    offset_days: int
    send_at: IsoInstant
    # sent, planned, paused, skipped or stopped
    state: str


class SentReminderOut(Answer):
    step: int
    scheduled_for: IsoInstant
    sent_at: IsoInstant | None


class InvoiceRemindersOut(Answer):
    invoice_id: str
    status: str
    due_date: IsoDate | None
    paused: bool
    paused_at: IsoInstant | None
    time_zone: str
    schedule: ScheduleOut
    own_schedule: OwnScheduleOut | None
    planned_from: IsoInstant | None
    steps: list[ReminderStepOut]
    sent: list[SentReminderOut]


class RemindersActionOut(InvoiceActionOut):
    reminders_paused: bool


class RescheduledOut(InvoiceOut):
    reminders: InvoiceRemindersOut


class ScheduleInForceOut(ScheduleOut):
    time_zone: str


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


class SubscriptionOut(Answer):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: IsoInstant
    deleted_at: IsoInstant | None


class SubscriptionCreatedOut(SubscriptionOut):
    # The signing secret: shown this once.
    secret: str


class SubscriptionDeletedOut(SubscriptionOut):
    cancelled_deliveries: int


class SubscriptionList(Answer):
    items: list[SubscriptionOut]


class EventOut(Answer):
    id: str
    sequence: int
    type: str
    occurred_at: IsoInstant
    invoice_id: str | None
    proposal_id: str | None
    data: Any


class EventPage(Answer):
    items: list[EventOut]
    # Pass as `after` for the next page.
    next_after: int | None


class DeliveryOut(Answer):
    id: str
    event_id: str
    event_type: str
    subscription_id: str
    url: str
    status: str
    attempts: int
    last_attempt_at: IsoInstant | None
    last_status_code: int | None
    last_error: str
    delivered_at: IsoInstant | None
    failed_at: IsoInstant | None
    created_at: IsoInstant
    workflow_id: str


class DeliveryList(Answer):
    items: list[DeliveryOut]


class DeliveryAttemptOut(Answer):
    attempt: int
    started_at: IsoInstant
    duration_ms: int
    status_code: int | None
    error: str


class DeliveryDetailOut(DeliveryOut):
    attempt_log: list[DeliveryAttemptOut]


class RetriedDeliveriesOut(Answer):
    started: int
    delivery_ids: list[str]


class AgingRowOut(Answer):
    """What a client (or, in `totals`, everyone) owes in one currency, by days late."""

    client_id: str | None
    client_name: str
    currency: str
    current: DecimalText
    # The buckets' names are not identifiers: the fields keep them as aliases.
    days_1_30: DecimalText = Field(alias="1-30")
    days_31_60: DecimalText = Field(alias="31-60")
    days_61_90: DecimalText = Field(alias="61-90")
    days_over_90: DecimalText = Field(alias="90+")
    total: DecimalText


class AgingReportOut(Answer):
    as_of: IsoDate
    buckets: list[str]
    clients: list[AgingRowOut]
    totals: list[AgingRowOut]


class CashflowMonthOut(Answer):
    month: str
    currency: str
    invoiced: DecimalText
    collected: DecimalText


class DsoOut(Answer):
    currency: str
    period_days: int
    receivables: DecimalText
    invoiced: DecimalText
    # Days sales outstanding; null when nothing was invoiced in the period.
    days: DecimalText | None


class CashflowReportOut(Answer):
    from_: IsoDate = Field(alias="from")
    to: IsoDate
    months: list[CashflowMonthOut]
    dso: list[DsoOut]


class WebhookAnswer(Answer):
    """A webhook's answer. The fields past `duplicate` come with some outcomes only: the
    model documents them, the route builds the answer itself."""

    event_id: str
    outcome: str
    duplicate: bool
    # On a duplicate: when the first delivery came and was processed.
    received_at: IsoInstant | None = None
    processed_at: IsoInstant | None = None


class CrmProposalAnswer(WebhookAnswer):
    proposal: ProposalOut | None = None


class EsignAnswer(WebhookAnswer):
    proposal_id: str | None = None


class PaymentWebhookAnswer(WebhookAnswer):
    invoice: InvoiceOut | None = None
    payment_recorded: bool | None = None
    # A payment that could not be applied, kept for an operator (202).
    parked: bool | None = None
    reason: str | None = None
    unmatched_payment_id: str | None = None
