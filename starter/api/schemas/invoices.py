"""Invoices: edits, voiding, and invoices, their lines and status history as answered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import Field, field_validator

from messages.models import InvoiceEdit
from starter.api.schemas.common import (
    Amount,
    Answer,
    Body,
    DecimalText,
    IsoDate,
    IsoInstant,
    LineIn,
    LineOut,
    _known_currency,
)


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


class VoidIn(Body):
    reason: str = Field(default="", max_length=1000)


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
    # The matter (case) it is filed under (GET /api/v1/matters/{id}), if any.
    matter_id: str | None = None


class InvoiceLineOut(LineOut):
    vat_category: str
    net_amount: DecimalText


class EfacturaOut(Answer):
    """RO e-Factura: where the document's report to ANAF stands (null: not issued yet)."""

    # not_required (not a Romanian seller), pending, uploaded, accepted, rejected
    status: str
    upload_index: str | None
    download_id: str | None
    # ANAF's errors of a rejected upload (rule ids and their messages).
    errors: list[str]
    uploaded_at: IsoInstant | None
    answered_at: IsoInstant | None


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]
    efactura: EfacturaOut | None = None


class InvoiceList(Answer):
    items: list[InvoiceOut]
    # The next page's `cursor`; null on the last page.
    next_cursor: str | None


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


class ManualInvoiceIn(Body):
    """POST /api/v1/invoices: a draft invoice made by hand for a client, with the terms a
    proposal or a contract would give it."""

    client_id: UUID
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    # Default: the company's default currency.
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    # Days from the issue date to the due date; default: the company's payment terms.
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    # A contract of the same client, printed on the invoice.
    contract_id: UUID | None = None
    # A matter (case) of the same client, open, that the invoice is filed under; left out,
    # the contract's (if any).
    matter_id: UUID | None = None
    # Unit prices entered with VAT (gross); a discount on the whole document, before VAT.
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    # Lei per unit of the currency: a Romanian seller's invoice in another currency needs it
    # before approval (it may be set later with PATCH).
    exchange_rate: Amount | None = Field(default=None, gt=0, decimal_places=6)
    notes: str = Field(default="", max_length=5000)

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str | None) -> str | None:
        return _known_currency(code) if code is not None else None
