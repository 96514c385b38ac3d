"""The invoice and proposal status machines: which moves are legal, and why not."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class ProposalStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    SIGNED = "signed"
    DECLINED = "declined"
    EXPIRED = "expired"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_REVIEW = "awaiting_review"
    SENT = "sent"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


OPEN_FOR_PAYMENT = frozenset(
    {InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE}
)
FINAL = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID})

_ALLOWED: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.AWAITING_REVIEW, InvoiceStatus.VOID}),
    InvoiceStatus.AWAITING_REVIEW: frozenset({InvoiceStatus.SENT, InvoiceStatus.VOID}),
    InvoiceStatus.SENT: frozenset(
        {
            InvoiceStatus.PARTIALLY_PAID,
            InvoiceStatus.PAID,
            InvoiceStatus.OVERDUE,
            InvoiceStatus.VOID,
        }
    ),
    InvoiceStatus.PARTIALLY_PAID: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.OVERDUE, InvoiceStatus.VOID}
    ),
    InvoiceStatus.OVERDUE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}


class IllegalTransition(ValueError):
    """An action the invoice's current status forbids; `reason` is for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_transition(current: InvoiceStatus, target: InvoiceStatus) -> None:
    if current == target:
        return
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"an invoice that is {current.value} cannot become {target.value}")


def check_can_edit(current: InvoiceStatus) -> None:
    if current not in (InvoiceStatus.DRAFT, InvoiceStatus.AWAITING_REVIEW):
        raise IllegalTransition(
            f"only an invoice awaiting review can be edited; this one is {current.value}"
        )


def check_can_approve(current: InvoiceStatus) -> None:
    if current != InvoiceStatus.AWAITING_REVIEW:
        raise IllegalTransition(
            f"only an invoice awaiting review can be approved; this one is {current.value}"
        )


def check_can_void(current: InvoiceStatus) -> None:
    if current in FINAL:
        raise IllegalTransition(f"an invoice that is {current.value} cannot be voided")


def check_can_pay(current: InvoiceStatus) -> None:
    if current not in OPEN_FOR_PAYMENT:
        raise IllegalTransition(
            f"payments are taken on sent, partially paid or overdue invoices; "
            f"this one is {current.value}"
        )


def status_after_payment(total: Decimal, paid: Decimal, overdue: bool) -> InvoiceStatus:
    """Fully paid wins; otherwise an overdue invoice stays overdue even when partly paid."""
    if paid >= total:
        return InvoiceStatus.PAID
    if overdue:
        return InvoiceStatus.OVERDUE
    if paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.SENT
