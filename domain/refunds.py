"""Refunds: how much of a payment can be given back, and where the money comes from.

A transfer that over-paid its invoice left the excess as the client's credit (an
`overpayment` credit entry). A refund of that payment gives back the excess first, out of
the credit, as long as the client has not spent it elsewhere; the rest lowers the invoice's
amount paid. A payment made from the client's credit goes back to the credit: no money
leaves, the invoice is owed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInput

ZERO = Decimal(0)


class RefundError(InvalidInput):
    """A refund that cannot be made; the message starts with the field at fault."""


@dataclass(frozen=True)
class RefundSplit:
    # Lowers the invoice's amount paid.
    from_invoice: Decimal
    # Taken back out of the client's credit: the over-payment this payment left.
    from_credit: Decimal
    # Returned to the client's credit: the payment was made from it.
    to_credit: Decimal


def split_refund(
    amount: Decimal,
    *,
    payment_amount: Decimal,
    payment_from_credit: bool,
    overpayment: Decimal,
    refunded_from_invoice: Decimal,
    refunded_from_credit: Decimal,
    credit_balance: Decimal,
) -> RefundSplit:
    """Split `amount` given back of one payment, after that payment's earlier refunds.

    `overpayment` is what the payment left as credit; `credit_balance` is the client's
    credit now (in the invoice's currency)."""
    if amount <= ZERO:
        raise RefundError("amount: must be greater than zero")
    left = payment_amount - refunded_from_invoice - refunded_from_credit
    if amount > left:
        raise RefundError(
            f"amount: {left} of this payment can still be refunded, not {amount}"
            if left > ZERO
            else "amount: this payment has been refunded in full"
        )
    if payment_from_credit:
        return RefundSplit(from_invoice=amount, from_credit=ZERO, to_credit=amount)
    credit_left = max(min(overpayment - refunded_from_credit, credit_balance), ZERO)
    from_credit = min(amount, credit_left)
    from_invoice = amount - from_credit
    settled_left = payment_amount - overpayment - refunded_from_invoice
    if from_invoice > settled_left:
        raise RefundError(
            f"amount: at most {settled_left + from_credit} of this payment can be refunded; "
            f"the rest of its over-payment credit was applied to other invoices"
        )
    return RefundSplit(from_invoice=from_invoice, from_credit=from_credit, to_credit=ZERO)
