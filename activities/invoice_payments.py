"""Invoice activities that move money: payments (from the bank or from the client's
credit) and refunds."""

from __future__ import annotations

from decimal import Decimal

from temporalio import activity

from activities.events import emit_invoice, emit_payment, emit_task_created
from activities.invoice_base import InvoiceActivityBase, parse_date
from activities.services import business_errors
from db import companies, credits, invoices, operators, payments, store, tasks
from db.rows import InvoiceRow
from domain.errors import InvalidInput
from domain.money import MoneyError, parse_decimal, round_money
from domain.operators import Action
from domain.refunds import split_refund
from domain.schedule import is_overdue
from domain.status import (
    InvoiceStatus,
    check_can_pay,
    check_can_refund,
    status_after_payment,
    status_after_refund,
)
from messages import activity_names as names
from messages.models import (
    PaymentResult,
    RecordPaymentInput,
    RecordRefundInput,
    RefundResult,
)


class InvoicePaymentActivities(InvoiceActivityBase):
    @activity.defn(name=names.RECORD_PAYMENT)
    async def record_payment(self, request: RecordPaymentInput) -> PaymentResult:
        payment = request.payment
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                currency = row.currency.strip()
                duplicate = await payments.exists(conn, row.id, payment.reference)
                if duplicate:
                    return PaymentResult(False, await store.snapshot(conn, row.id))
                check_can_pay(InvoiceStatus(row.status))
                if payment.currency and payment.currency != currency:
                    raise MoneyError(
                        f"currency: the invoice is in {currency}, not {payment.currency}"
                    )
                amount = parse_decimal(payment.amount, "amount")
                if amount <= 0 or round_money(amount, currency) != amount:
                    raise MoneyError(
                        f"amount: must be positive with at most the decimals {currency} has"
                    )
                paid_on = parse_date(payment.paid_at, "paid_at")
                actor = await operators.take_request(
                    conn, payment.request_id, Action.PAY, str(row.id)
                )
                if payment.from_credit:
                    await _take_from_credit(conn, row, amount, payment.reference)
                await payments.insert(
                    conn,
                    invoice_id=row.id,
                    amount=amount,
                    currency=currency,
                    paid_at=paid_on,
                    reference=payment.reference,
                    source="credit" if payment.from_credit else "transfer",
                    recorded_by=actor,
                )
                received = row.amount_paid + amount
                # The invoice is settled by its total; anything beyond is the client's credit.
                excess = max(received - row.total, Decimal(0))
                paid = received - excess
                if excess:
                    await credits.add_entry(
                        conn,
                        client_id=row.client_id,
                        currency=currency,
                        amount=excess,
                        kind="overpayment",
                        invoice_id=row.id,
                        reference=payment.reference,
                    )
                target = status_after_payment(row.total, paid, row.overdue)
                await invoices.set_paid_amount(
                    conn, row, target, f"payment {payment.reference}", request.at, paid, actor
                )
                if target == InvoiceStatus.PAID:
                    await tasks.close_automatic_tasks(conn, row.id, actor)
                await store.audit(
                    conn,
                    "payment",
                    actor,
                    request.at,
                    invoice_id=row.id,
                    data={"amount": str(amount), "reference": payment.reference},
                )
                await emit_payment(conn, row.id, payment.reference, at=request.at)
            return PaymentResult(True, await store.snapshot(conn, request.invoice_id))

    @activity.defn(name=names.RECORD_REFUND)
    async def record_refund(self, request: RecordRefundInput) -> RefundResult:
        """Give back (part of) a payment, once per refund reference: lower the amount paid
        (or take back the payment's unspent over-payment credit first), and move the status
        back as the money and the due date say."""
        refund = request.refund
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                duplicate = await payments.refund_exists(conn, row.id, refund.reference)
                if duplicate:
                    return RefundResult(False, await store.snapshot(conn, row.id))
                current = InvoiceStatus(row.status)
                check_can_refund(current)
                currency = row.currency.strip()
                payment = await payments.find(conn, row.id, refund.payment_reference)
                if payment is None:
                    raise InvalidInput(
                        f"payment_reference: no payment {refund.payment_reference!r} "
                        "on this invoice"
                    )
                amount = parse_decimal(refund.amount, "amount")
                if amount <= 0 or round_money(amount, currency) != amount:
                    raise MoneyError(
                        f"amount: must be positive with at most the decimals {currency} has"
                    )
                refunded_on = (
                    parse_date(refund.refunded_at, "refunded_at")
                    if refund.refunded_at
                    else request.at.date()
                )
                # The client's credit moves under the same lock as when it is applied.
                await credits.lock_client_credit(conn, row.client_id)
                overpayment = await credits.overpayment_of(conn, row.id, payment.reference)
                earlier = await payments.refunded_so_far(conn, payment.id)
                split = split_refund(
                    amount,
                    payment_amount=payment.amount,
                    payment_from_credit=payment.source == "credit",
                    overpayment=overpayment,
                    refunded_from_invoice=earlier.from_invoice,
                    refunded_from_credit=earlier.from_credit,
                    credit_balance=await credits.balance(conn, row.client_id, currency),
                )
                actor = await operators.take_request(
                    conn, refund.request_id, Action.REFUND, str(row.id)
                )
                await payments.insert_refund(
                    conn,
                    invoice_id=row.id,
                    payment_id=payment.id,
                    amount=amount,
                    from_invoice=split.from_invoice,
                    from_credit=split.from_credit,
                    currency=currency,
                    refunded_at=refunded_on,
                    reference=refund.reference,
                    recorded_by=actor,
                )
                credit_moves = (("refunded", -split.from_credit), ("restored", split.to_credit))
                for kind, credit in credit_moves:
                    if credit:
                        await credits.add_entry(
                            conn,
                            client_id=row.client_id,
                            currency=currency,
                            amount=credit,
                            kind=kind,
                            invoice_id=row.id,
                            reference=refund.reference,
                        )
                paid = row.amount_paid - split.from_invoice
                seller = await companies.get(conn, row.company_id)
                overdue_now = row.due_date is not None and is_overdue(
                    row.due_date, request.at, seller.time_zone
                )
                target = status_after_refund(current, row.total, paid, overdue_now)
                await invoices.set_refunded_amount(
                    conn, row, target, f"refund {refund.reference}", request.at, paid, actor
                )
                if target == InvoiceStatus.OVERDUE and current != InvoiceStatus.OVERDUE:
                    await tasks.open_check_payment_task(
                        conn,
                        company_id=row.company_id,
                        invoice_id=row.id,
                        client_id=row.client_id,
                        invoice_number=row.number,
                        due_date=request.at.date(),
                        move_due_date_on_reopen=False,
                    )
                    await emit_invoice(conn, "invoice.overdue", row.id, at=request.at)
                    await emit_task_created(conn, invoice_id=row.id, kind="check_payment")
                await store.audit(
                    conn,
                    "refund",
                    actor,
                    request.at,
                    invoice_id=row.id,
                    data={
                        "amount": str(amount),
                        "reference": refund.reference,
                        "payment_reference": payment.reference,
                        "from_invoice": str(split.from_invoice),
                        "from_credit": str(split.from_credit),
                        "to_credit": str(split.to_credit),
                    },
                )
            return RefundResult(True, await store.snapshot(conn, request.invoice_id))


async def _take_from_credit(
    conn: store.Connection, invoice: InvoiceRow, amount: Decimal, reference: str
) -> None:
    currency = invoice.currency.strip()
    # One client's credit is spent by one transaction at a time.
    await credits.lock_client_credit(conn, invoice.client_id)
    balance = await credits.balance(conn, invoice.client_id, currency)
    if amount > balance:
        raise InvalidInput(
            f"amount: the client's credit is {round_money(balance, currency)} {currency}, "
            f"less than {amount}"
        )
    due = invoice.total - invoice.amount_paid
    if amount > due:
        raise InvalidInput(
            f"amount: only {round_money(due, currency)} {currency} is due on this invoice"
        )
    await credits.add_entry(
        conn,
        client_id=invoice.client_id,
        currency=currency,
        amount=-amount,
        kind="applied",
        invoice_id=invoice.id,
        reference=reference,
    )
