"""Payments recorded by operators, unmatched payments, and refunds."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from starter.api.schemas.common import Amount, Answer, Body, DecimalText, IsoDate, IsoInstant
from starter.api.schemas.invoices import InvoiceOut


class PaymentIn(Body):
    amount: Amount = Field(gt=0)
    paid_at: date
    reference: str = Field(min_length=1, max_length=200)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class PaymentRecordedOut(InvoiceOut):
    payment_recorded: bool


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
