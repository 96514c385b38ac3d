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
    # Made into a draft invoice by an operator without a signature (issue 15).
    CONVERTED = "converted"


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


class Reopening(StrEnum):
    """The only causes that may move an invoice back to an earlier status."""

    # Money given back: paid -> partially paid / sent / overdue, partially paid -> sent.
    REFUND = "refund"
    # The due date moved later: an overdue invoice is no longer past due.
    DUE_DATE_MOVED = "due_date_moved"


_BACKWARD: dict[tuple[InvoiceStatus, InvoiceStatus], frozenset[Reopening]] = {
    (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID): frozenset({Reopening.REFUND}),
    (InvoiceStatus.PAID, InvoiceStatus.SENT): frozenset({Reopening.REFUND}),
    (InvoiceStatus.PAID, InvoiceStatus.OVERDUE): frozenset({Reopening.REFUND}),
    (InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.SENT): frozenset({Reopening.REFUND}),
    (InvoiceStatus.OVERDUE, InvoiceStatus.SENT): frozenset({Reopening.DUE_DATE_MOVED}),
    (InvoiceStatus.OVERDUE, InvoiceStatus.PARTIALLY_PAID): frozenset({Reopening.DUE_DATE_MOVED}),
}


def check_transition(
    current: InvoiceStatus, target: InvoiceStatus, because: Reopening | None = None
) -> None:
    """Refuse an illegal move. A move back (paid -> partially paid, overdue -> sent, ...) is
    legal only for the causes `_BACKWARD` lists, and only when the caller names one."""
    if current == target:
        return
    if target in _ALLOWED[current]:
        return
    if because is not None and because in _BACKWARD.get((current, target), frozenset()):
        return
    reason = f"an invoice that is {current.value} cannot become {target.value}"
    if because is not None:
        reason += f" by {because.value.replace('_', ' ')}"
    raise IllegalTransition(reason)


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


def check_can_reschedule(current: InvoiceStatus) -> None:
    """The due date and the reminder schedule change only while money is awaited."""
    if current not in OPEN_FOR_PAYMENT:
        raise IllegalTransition(
            f"the due date and reminders of sent, partially paid or overdue invoices can be "
            f"changed; this one is {current.value}"
        )


def check_can_pause_reminders(current: InvoiceStatus) -> None:
    if current not in OPEN_FOR_PAYMENT:
        raise IllegalTransition(
            f"reminders are paused or resumed on sent, partially paid or overdue invoices; "
            f"this one is {current.value}"
        )


REFUNDABLE = frozenset(
    {
        InvoiceStatus.SENT,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.OVERDUE,
        InvoiceStatus.PAID,
        InvoiceStatus.VOID,
    }
)


def check_can_refund(current: InvoiceStatus) -> None:
    """A payment can be given back once the invoice is out, also when paid or void."""
    if current not in REFUNDABLE:
        raise IllegalTransition(f"refunds are made on issued invoices; this one is {current.value}")


def status_after_refund(
    current: InvoiceStatus, total: Decimal, paid: Decimal, overdue: bool
) -> InvoiceStatus:
    """A void invoice stays void; otherwise the status the money and the due date say."""
    if current == InvoiceStatus.VOID:
        return InvoiceStatus.VOID
    return status_after_payment(total, paid, overdue)


def status_after_due_date_change(
    current: InvoiceStatus, total: Decimal, paid: Decimal, overdue: bool
) -> InvoiceStatus:
    """Moved later, an overdue invoice is sent or partially paid again. Moved earlier, the
    workflow marks it overdue at the overdue instant as usual (with its task)."""
    if current == InvoiceStatus.OVERDUE and not overdue:
        return status_after_payment(total, paid, overdue=False)
    return current
