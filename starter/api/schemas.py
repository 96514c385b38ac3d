"""Request and response bodies of the HTTP API. Amounts travel as decimal strings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from babel.numbers import get_currency_precision
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
    field_validator,
    model_validator,
)

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
    # Legal details, checked for the client's country (domain/requisites.validate_party):
    # registration_number is the Reg. Com. in Romania and the ОГРН/ОГРНИП in Russia.
    legal_form: str = Field(default="", max_length=60)
    vat_id: str = Field(default="", max_length=40)
    kpp: str = Field(default="", max_length=20)
    iban: str = Field(default="", max_length=50)
    bank_name: str = Field(default="", max_length=200)
    bic: str = Field(default="", max_length=20)
    bik: str = Field(default="", max_length=20)
    settlement_account: str = Field(default="", max_length=30)
    correspondent_account: str = Field(default="", max_length=30)


SERIES_PATTERN = r"^[A-Za-z0-9]{1,20}$"


class CompanyPatch(Body):
    """The seller's details; a field left out keeps its value. Requisites are checked for
    the company's country after the change, all together."""

    name: str | None = Field(default=None, min_length=1, max_length=300)
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
    bank_name: str | None = Field(default=None, max_length=200)
    bic: str | None = Field(default=None, max_length=20)
    bik: str | None = Field(default=None, max_length=20)
    settlement_account: str | None = Field(default=None, max_length=30)
    correspondent_account: str | None = Field(default=None, max_length=30)
    director_name: str | None = Field(default=None, max_length=200)
    accountant_name: str | None = Field(default=None, max_length=200)
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
    bank_name: str = Field(default="", max_length=200)
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
    signer_name: str = Field(min_length=1, max_length=200)
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
