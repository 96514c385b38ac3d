"""Invoice activities: draft, edit, issue (number + final PDF), send, remind, pay, void."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import store
from activities.documents import document_context, store_document
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from domain.errors import InvalidInput
from domain.i18n import format_day, format_money, pick_locale
from domain.money import Line, MoneyError, parse_decimal, round_money
from domain.schedule import due_date_for, local_date
from domain.status import (
    FINAL,
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_pay,
    check_can_void,
    status_after_payment,
)
from workflows import activity_names as names
from workflows.shared import (
    EditInvoiceInput,
    InvoiceRef,
    InvoiceSnapshot,
    PaymentResult,
    RecordPaymentInput,
    ReminderInput,
    VoidInvoiceInput,
)


class InvoiceActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.PREPARE_INVOICE_DRAFT)
    async def prepare_invoice_draft(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            await self._render(conn, ref.invoice_id, final=False)
            async with conn.transaction():
                row = await store.invoice(conn, ref.invoice_id, lock=True)
                if row["status"] == InvoiceStatus.DRAFT:
                    await store.change_invoice_status(
                        conn, row, InvoiceStatus.AWAITING_REVIEW, "draft ready for review", ref.at
                    )
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.EDIT_INVOICE)
    async def edit_invoice(self, request: EditInvoiceInput) -> InvoiceSnapshot:
        edit = request.edit
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, request.invoice_id, lock=True)
                check_can_edit(InvoiceStatus(row["status"]))
                currency = row["currency"].strip()
                if edit.lines is not None:
                    items = [
                        Line(
                            description=line.description,
                            quantity=parse_decimal(line.quantity, f"lines[{i}].quantity"),
                            unit_price=parse_decimal(line.unit_price, f"lines[{i}].unit_price"),
                            vat_rate=parse_decimal(line.vat_rate, f"lines[{i}].vat_rate"),
                            unit=line.unit,
                            discount_percent=parse_decimal(
                                line.discount_percent, f"lines[{i}].discount_percent"
                            ),
                        )
                        for i, line in enumerate(edit.lines)
                    ]
                    await store.replace_lines(
                        conn, "invoice_lines", "invoice_id", row["id"], items, currency
                    )
                    await store.set_invoice_totals(conn, row["id"], items, currency)
                if edit.due_date is not None:
                    await conn.execute(
                        "UPDATE invoices SET due_date = $2 WHERE id = $1",
                        row["id"],
                        _parse_date(edit.due_date, "due_date"),
                    )
                if edit.notes is not None:
                    await conn.execute(
                        "UPDATE invoices SET notes = $2 WHERE id = $1", row["id"], edit.notes
                    )
                await store.audit(conn, "edited", "operator", request.at, invoice_id=row["id"])
            await self._render(conn, request.invoice_id, final=False, rerender=True)
            return await store.snapshot(conn, request.invoice_id)

    @activity.defn(name=names.ISSUE_INVOICE)
    async def issue_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        """Number the invoice and render its final PDF; a retry keeps the number it got."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, ref.invoice_id, lock=True)
                if row["number"] is None:
                    check_can_approve(InvoiceStatus(row["status"]))
                    seller = await store.company(conn, row["company_id"])
                    issue_date = local_date(ref.at, seller["time_zone"])
                    number = await store.assign_number(
                        conn, row["company_id"], "invoice", row["series"], issue_date.year
                    )
                    due = row["due_date"] or due_date_for(issue_date, row["payment_terms_days"])
                    await conn.execute(
                        """UPDATE invoices SET number = $2, issue_date = $3, due_date = $4,
                               approved_at = $5, updated_at = now() WHERE id = $1""",
                        row["id"],
                        number,
                        issue_date,
                        due,
                        ref.at,
                    )
                    await store.audit(
                        conn,
                        "approved",
                        "operator",
                        ref.at,
                        invoice_id=row["id"],
                        data={"number": number},
                    )
            await self._render(conn, ref.invoice_id, final=True)
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.SEND_INVOICE)
    async def send_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        pool, key = self._s.pool, f"invoice:{ref.invoice_id}:invoice:1"
        async with business_errors():
            async with pool.acquire() as conn:
                row = await store.invoice(conn, ref.invoice_id)
                if row["document_key"] is None:
                    raise ApplicationError("the invoice has no final PDF yet", type="NotIssued")
                buyer = await store.client(conn, row["client_id"])
                locale = pick_locale(buyer["locale"])
                currency = row["currency"].strip()
                if not await _queued(conn, key):
                    async with conn.transaction():
                        subject, body = self._s.renderer.email(
                            "invoice",
                            locale,
                            seller=await store.company(conn, row["company_id"]),
                            buyer=buyer,
                            number=row["number"],
                            total=format_money(row["total"], currency, locale),
                            due_date=format_day(row["due_date"], locale),
                            invoice_url=await self._hosted_link(conn, row["id"], ref.at),
                        )
                        await self._s.mailer.enqueue(
                            conn,
                            OutgoingEmail(
                                idempotency_key=key,
                                kind="invoice",
                                to_address=buyer["email"],
                                subject=subject,
                                body_text=body,
                                invoice_id=str(row["id"]),
                                attachments=(
                                    Attachment(row["document_key"], f"{row['number']}.pdf"),
                                ),
                            ),
                        )
            await self._s.mailer.deliver(pool, key)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    row = await store.invoice(conn, ref.invoice_id, lock=True)
                    if row["status"] == InvoiceStatus.AWAITING_REVIEW:
                        await store.change_invoice_status(
                            conn,
                            row,
                            InvoiceStatus.SENT,
                            "invoice emailed",
                            ref.at,
                            ", sent_at = $3",
                            (ref.at,),
                        )
                return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.SEND_REMINDER)
    async def send_reminder(self, reminder: ReminderInput) -> None:
        pool = self._s.pool
        key = f"invoice:{reminder.invoice_id}:reminder:{reminder.step}"
        async with business_errors():
            async with pool.acquire() as conn:
                row = await store.invoice(conn, reminder.invoice_id)
                if InvoiceStatus(row["status"]) in FINAL:
                    return
                buyer = await store.client(conn, row["client_id"])
                locale = pick_locale(buyer["locale"])
                currency = row["currency"].strip()
                due = await store.snapshot(conn, reminder.invoice_id)
                if not await _queued(conn, key):
                    async with conn.transaction():
                        subject, body = self._s.renderer.email(
                            "reminder",
                            locale,
                            seller=await store.company(conn, row["company_id"]),
                            buyer=buyer,
                            number=row["number"],
                            amount_due=format_money(Decimal(due.amount_due), currency, locale),
                            due_date=format_day(row["due_date"], locale),
                            overdue=reminder.scheduled_for.date() > row["due_date"],
                            invoice_url=await self._hosted_link(
                                conn, row["id"], reminder.scheduled_for
                            ),
                        )
                        await self._s.mailer.enqueue(
                            conn,
                            OutgoingEmail(
                                idempotency_key=key,
                                kind="reminder",
                                to_address=buyer["email"],
                                subject=subject,
                                body_text=body,
                                invoice_id=str(row["id"]),
                                scheduled_for=reminder.scheduled_for,
                            ),
                        )
            await self._s.mailer.deliver(pool, key)
            async with pool.acquire() as conn:
                seller = await store.company(conn, row["company_id"])
                if reminder.step >= len(set(seller["reminder_offsets_days"])):
                    # The schedule is spent and the money still not in: a person takes over.
                    await conn.execute(
                        """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title,
                               due_date)
                           VALUES ($1, $2, $3, 'call_client', $4, $5)
                           ON CONFLICT DO NOTHING""",
                        row["company_id"],
                        row["id"],
                        row["client_id"],
                        f"Call {buyer['name']} about invoice {row['number']}",
                        reminder.scheduled_for.date(),
                    )

    @activity.defn(name=names.MARK_OVERDUE)
    async def mark_overdue(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, ref.invoice_id, lock=True)
                if row["status"] in (InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID):
                    await store.change_invoice_status(
                        conn,
                        row,
                        InvoiceStatus.OVERDUE,
                        "due date passed",
                        ref.at,
                        ", overdue = true",
                    )
                    await conn.execute(
                        """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title,
                               due_date)
                           VALUES ($1, $2, $3, 'check_payment', $4, $5)
                           ON CONFLICT DO NOTHING""",
                        row["company_id"],
                        row["id"],
                        row["client_id"],
                        f"Check payment of invoice {row['number']}",
                        ref.at.date(),
                    )
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.RECORD_PAYMENT)
    async def record_payment(self, request: RecordPaymentInput) -> PaymentResult:
        payment = request.payment
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, request.invoice_id, lock=True)
                currency = row["currency"].strip()
                duplicate = await conn.fetchval(
                    "SELECT 1 FROM payments WHERE invoice_id = $1 AND reference = $2",
                    row["id"],
                    payment.reference,
                )
                if duplicate:
                    return PaymentResult(False, await store.snapshot(conn, row["id"]))
                check_can_pay(InvoiceStatus(row["status"]))
                if payment.currency and payment.currency != currency:
                    raise MoneyError(
                        f"currency: the invoice is in {currency}, not {payment.currency}"
                    )
                amount = parse_decimal(payment.amount, "amount")
                if amount <= 0 or round_money(amount, currency) != amount:
                    raise MoneyError(
                        f"amount: must be positive with at most the decimals {currency} has"
                    )
                paid_on = _parse_date(payment.paid_at, "paid_at")
                if payment.from_credit:
                    await _take_from_credit(conn, row, amount, payment.reference)
                await conn.execute(
                    """INSERT INTO payments (invoice_id, amount, currency, paid_at, reference,
                           source)
                       VALUES ($1, $2, $3, $4, $5, $6)""",
                    row["id"],
                    amount,
                    currency,
                    paid_on,
                    payment.reference,
                    "credit" if payment.from_credit else "transfer",
                )
                received = row["amount_paid"] + amount
                # The invoice is settled by its total; anything beyond is the client's credit.
                excess = max(received - row["total"], Decimal(0))
                paid = received - excess
                if excess:
                    await conn.execute(
                        """INSERT INTO client_credits (client_id, currency, amount, kind,
                               invoice_id, reference)
                           VALUES ($1, $2, $3, 'overpayment', $4, $5)""",
                        row["client_id"],
                        currency,
                        excess,
                        row["id"],
                        payment.reference,
                    )
                target = status_after_payment(row["total"], paid, row["overdue"])
                await store.change_invoice_status(
                    conn,
                    row,
                    target,
                    f"payment {payment.reference}",
                    request.at,
                    ", amount_paid = $3"
                    + (", paid_at = $4" if target == InvoiceStatus.PAID else ""),
                    (paid, request.at) if target == InvoiceStatus.PAID else (paid,),
                )
                if target == InvoiceStatus.PAID:
                    await _close_automatic_tasks(conn, row["id"])
                await store.audit(
                    conn,
                    "payment",
                    "payments",
                    request.at,
                    invoice_id=row["id"],
                    data={"amount": str(amount), "reference": payment.reference},
                )
            return PaymentResult(True, await store.snapshot(conn, request.invoice_id))

    @activity.defn(name=names.VOID_INVOICE)
    async def void_invoice(self, request: VoidInvoiceInput) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await store.invoice(conn, request.invoice_id, lock=True)
                if row["status"] != InvoiceStatus.VOID:
                    check_can_void(InvoiceStatus(row["status"]))
                    await store.change_invoice_status(
                        conn,
                        row,
                        InvoiceStatus.VOID,
                        request.reason or "voided",
                        request.at,
                        ", voided_at = $3, void_reason = $4",
                        (request.at, request.reason),
                    )
                    await _close_automatic_tasks(conn, row["id"])
                    await store.audit(
                        conn,
                        "voided",
                        "operator",
                        request.at,
                        invoice_id=row["id"],
                        data={"reason": request.reason},
                    )
            return await store.snapshot(conn, request.invoice_id)

    async def _hosted_link(
        self, conn: store.Connection, invoice_id: object, issued_at: datetime
    ) -> str:
        """A fresh link to the hosted invoice page for one email; only its hash is kept."""
        token = await store.new_access_token(
            conn,
            "invoice",
            issued_at + timedelta(days=self._s.invoice_link_days),
            invoice_id=invoice_id,
        )
        return f"{self._s.public_url}/i/{token}"

    async def _render(
        self, conn: store.Connection, invoice_id: str, *, final: bool, rerender: bool = False
    ) -> str:
        row = await store.invoice(conn, invoice_id)
        column = "document_key" if final else "draft_document_key"
        if row[column] and not rerender:
            return str(row[column])
        line_rows = await store.lines(conn, "invoice_lines", "invoice_id", row["id"])
        context = await document_context(conn, row, line_rows, "invoice" if final else "draft")
        pdf = await self._s.renderer.render_pdf("pdf/invoice.html", context)
        name = f"invoice/{row['id']}/{'final' if final else 'draft'}.pdf"
        stored = await store_document(conn, name, pdf)
        await conn.execute(
            f"UPDATE invoices SET {column} = $2 WHERE id = $1", row["id"], stored.key
        )
        return stored.key


async def _take_from_credit(
    conn: store.Connection, invoice: store.Row, amount: Decimal, reference: str
) -> None:
    currency = invoice["currency"].strip()
    # One client's credit is spent by one transaction at a time.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))", f"credit:{invoice['client_id']}"
    )
    balance = await store.credit_balance(conn, invoice["client_id"], currency)
    if amount > balance:
        raise InvalidInput(
            f"amount: the client's credit is {round_money(balance, currency)} {currency}, "
            f"less than {amount}"
        )
    due = invoice["total"] - invoice["amount_paid"]
    if amount > due:
        raise InvalidInput(
            f"amount: only {round_money(due, currency)} {currency} is due on this invoice"
        )
    await conn.execute(
        """INSERT INTO client_credits (client_id, currency, amount, kind, invoice_id, reference)
           VALUES ($1, $2, $3, 'applied', $4, $5)""",
        invoice["client_id"],
        currency,
        -amount,
        invoice["id"],
        reference,
    )


async def _queued(conn: store.Connection, idempotency_key: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM email_outbox WHERE idempotency_key = $1", idempotency_key
    )
    return found is not None


async def _close_automatic_tasks(conn: store.Connection, invoice_id: object) -> None:
    await conn.execute(
        """UPDATE tasks SET done_at = now()
           WHERE invoice_id = $1 AND kind <> 'manual' AND done_at IS NULL""",
        invoice_id,
    )


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as bad:
        raise InvalidInput(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from bad
