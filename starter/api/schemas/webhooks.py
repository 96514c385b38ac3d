"""Inbound webhooks (CRM, e-signature, payments) and their answers. Each webhook body is
one JSON object carrying its event id in `id`: the id is inside the signed body, so a
captured request cannot be replayed under a fresh id."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from babel.numbers import get_currency_precision
from pydantic import (
    AfterValidator,
    AwareDatetime,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from starter.api.schemas.clients import ClientIn
from starter.api.schemas.common import (
    Amount,
    Answer,
    Body,
    IsoInstant,
    LineIn,
    Name,
    _known_currency,
)
from starter.api.schemas.invoices import InvoiceOut
from starter.api.schemas.proposals import ProposalIn, ProposalOut


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
