"""Invoice activities: draft, edit, issue (number + final PDF), send and void; payments and
refunds are in activities/invoice_payments.py, reminders in activities/invoice_reminders.py,
and InvoiceActivities (the class the worker registers) has them all."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import efactura, metrics
from activities.documents import document_context, live_parties, parties_for, store_document
from activities.events import emit_invoice
from activities.invoice_base import parse_date
from activities.invoice_payments import InvoicePaymentActivities
from activities.invoice_reminders import InvoiceReminderActivities
from activities.mail import Attachment, OutgoingEmail
from activities.services import business_errors
from db import clients, companies, invoices, operators, outbox, snapshots, store, tasks
from db.rows import InvoiceRow
from domain import reminder_plan
from domain.contracts import DocumentLine, check_exchange_rate, check_line_rates
from domain.errors import InvalidInput
from domain.i18n import format_day, format_money, pick_locale
from domain.money import parse_decimal
from domain.numbering import format_number, sequence_for
from domain.operators import SYSTEM, Action
from domain.schedule import due_date_for, local_date
from domain.status import (
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_void,
)
from domain.vat import VatCategory
from messages import activity_names as names
from messages.models import (
    EditInvoiceInput,
    InvoiceRef,
    InvoiceSnapshot,
    LineData,
    VoidInvoiceInput,
)


class InvoiceActivities(InvoiceReminderActivities, InvoicePaymentActivities):
    @activity.defn(name=names.PREPARE_INVOICE_DRAFT)
    async def prepare_invoice_draft(self, ref: InvoiceRef) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            await self._render(conn, ref.invoice_id, final=False)
            async with conn.transaction():
                row = await invoices.get(conn, ref.invoice_id, lock=True)
                if row.status == InvoiceStatus.DRAFT:
                    await invoices.change_status(
                        conn, row, InvoiceStatus.AWAITING_REVIEW, "draft ready for review", ref.at
                    )
                    await emit_invoice(conn, "invoice.created", row.id, at=ref.at)
            return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.EDIT_INVOICE)
    async def edit_invoice(self, request: EditInvoiceInput) -> InvoiceSnapshot:
        edit = request.edit
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                check_can_edit(InvoiceStatus(row.status))
                currency = row.currency.strip()
                seller = await companies.get(conn, row.company_id)
                pricing_changed = (
                    edit.prices_include_vat is not None or edit.discount_percent is not None
                )
                gross = (
                    edit.prices_include_vat
                    if edit.prices_include_vat is not None
                    else row.prices_include_vat
                )
                discount = row.discount_percent
                if edit.discount_percent is not None:
                    discount = parse_decimal(edit.discount_percent, "discount_percent")
                    if not Decimal(0) <= discount <= Decimal(100):
                        raise InvalidInput("discount_percent: must be from 0 to 100")
                if edit.exchange_rate is not None:
                    exchange_rate = parse_decimal(edit.exchange_rate, "exchange_rate")
                    check_exchange_rate(seller.country, currency, exchange_rate, required=False)
                    await invoices.set_exchange_rate(conn, row.id, exchange_rate)
                if edit.lines is not None or pricing_changed:
                    if edit.lines is not None:
                        items = [_line_of(line, i) for i, line in enumerate(edit.lines)]
                        # A draft is dated the day it is edited, where the seller is.
                        check_line_rates(
                            seller.country, local_date(request.at, seller.time_zone), items
                        )
                    else:
                        items = store.as_lines(
                            await store.lines(conn, "invoice_lines", "invoice_id", row.id)
                        )
                    pricing: dict[str, Any] = {
                        "prices_include_vat": gross,
                        "discount_percent": discount,
                    }
                    await store.replace_lines(
                        conn, "invoice_lines", "invoice_id", row.id, items, currency, **pricing
                    )
                    await invoices.set_totals(conn, row.id, items, currency, **pricing)
                    await invoices.set_pricing(
                        conn, row.id, prices_include_vat=gross, discount_percent=discount
                    )
                # What a refused approval said no longer describes the edited invoice.
                await invoices.clear_approval_error(conn, row.id)
                if edit.due_date is not None:
                    await invoices.set_due_date(conn, row.id, parse_date(edit.due_date, "due_date"))
                if edit.notes is not None:
                    await invoices.set_notes(conn, row.id, edit.notes)
                actor = await operators.take_request(
                    conn, edit.request_id, Action.EDIT, str(row.id)
                )
                await store.audit(conn, "edited", actor, request.at, invoice_id=row.id)
            await self._render(conn, request.invoice_id, final=False, rerender=True)
            return await store.snapshot(conn, request.invoice_id)

    @activity.defn(name=names.ISSUE_INVOICE)
    async def issue_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        """Number the invoice and render its final PDF; a retry keeps the number it got.

        An invoice whose VAT rates are not valid on its issue date (a rate changed by law
        since it was drafted), or a Romanian one in another currency without its exchange
        rate, or a Romanian one whose e-Factura XML breaks a fatal rule of CIUS-RO (or
        cannot be built, e.g. the buyer has no address), is refused: nothing is numbered,
        the reason is kept in `approval_error` and the audit trail, and the workflow keeps
        it in review."""
        async with business_errors(), self._s.pool.acquire() as conn:
            try:
                await self._number(conn, ref)
            except InvalidInput as refused:
                async with conn.transaction():
                    await invoices.set_approval_error(conn, ref.invoice_id, str(refused))
                    await store.audit(
                        conn,
                        "approval_refused",
                        "system",
                        ref.at,
                        invoice_id=ref.invoice_id,
                        data={"reason": str(refused)},
                    )
                metrics.APPROVALS_REFUSED.inc()
                raise
            await self._render(conn, ref.invoice_id, final=True)
            return await store.snapshot(conn, ref.invoice_id)

    async def _number(self, conn: store.Connection, ref: InvoiceRef) -> None:
        async with conn.transaction():
            row = await invoices.get(conn, ref.invoice_id, lock=True)
            if row.number is None:
                check_can_approve(InvoiceStatus(row.status))
                seller = await companies.get(conn, row.company_id)
                issue_date = local_date(ref.at, seller.time_zone)
                line_rows = await store.lines(conn, "invoice_lines", "invoice_id", row.id)
                check_line_rates(seller.country, issue_date, store.as_lines(line_rows))
                check_exchange_rate(
                    seller.country,
                    row.currency.strip(),
                    row.exchange_rate,
                    required=True,
                )
                due = row.due_date or due_date_for(issue_date, row.payment_terms_days)
                # The parties as issued, stored with the number (issue 15 point 2); the XML
                # below is built from the same ones.
                parties = await live_parties(conn, row.company_id, row.client_id, row.currency)
                await snapshots.set_invoice_parties(conn, row.id, parties)
                row = replace(row, issued_parties=parties.to_json())
                # A Romanian invoice must pass CIUS-RO before it takes its number (issue 14):
                # built with the number it would take, under the series' lock.
                xml = None
                if efactura.required_for(seller):
                    xml = await efactura.checked_xml(
                        await efactura.invoice_document(
                            conn,
                            row,
                            number=await _next_number(conn, row, issue_date.year),
                            issue_date=issue_date,
                            due_date=due,
                        )
                    )
                number = await store.assign_number(
                    conn, row.company_id, "invoice", row.series, issue_date.year
                )
                await invoices.set_number(
                    conn,
                    row.id,
                    number=number,
                    issue_date=issue_date,
                    due_date=due,
                    approved_at=ref.at,
                )
                actor = await operators.take_request(
                    conn, ref.request_id, Action.APPROVE, str(row.id)
                )
                await invoices.set_approved_by(conn, row.id, actor)
                await store.audit(
                    conn,
                    "approved",
                    actor,
                    ref.at,
                    invoice_id=row.id,
                    data={"number": number},
                )
                await emit_invoice(conn, "invoice.approved", row.id, at=ref.at)
                if xml is not None:
                    await efactura.store_prepared(
                        conn, "invoice", row.id, row.company_id, xml, ref.at
                    )
                else:
                    await efactura.mark_not_required(
                        conn, "invoice", row.id, row.company_id, ref.at
                    )

    @activity.defn(name=names.SEND_INVOICE)
    async def send_invoice(self, ref: InvoiceRef) -> InvoiceSnapshot:
        pool, key = self._s.pool, f"invoice:{ref.invoice_id}:invoice:1"
        async with business_errors():
            async with pool.acquire() as conn:
                row = await invoices.get(conn, ref.invoice_id)
                if row.document_key is None:
                    raise ApplicationError("the invoice has no final PDF yet", type="NotIssued")
                assert row.due_date is not None  # as every issued invoice
                # The email prints the parties as issued; it goes to the live address.
                seller, buyer, _ = await parties_for(conn, row)
                to_address = (await clients.get(conn, row.client_id)).email
                locale = pick_locale(buyer.locale)
                currency = row.currency.strip()
                if not await outbox.is_queued(conn, key):
                    async with conn.transaction():
                        subject, body = self._s.renderer.email(
                            "invoice",
                            locale,
                            seller=seller,
                            buyer=buyer,
                            number=row.number,
                            total=format_money(row.total, currency, locale),
                            due_date=format_day(row.due_date, locale),
                            invoice_url=await self._hosted_link(conn, row.id, ref.at),
                        )
                        await self._s.mailer.enqueue(
                            conn,
                            OutgoingEmail(
                                idempotency_key=key,
                                kind="invoice",
                                to_address=to_address,
                                subject=subject,
                                body_text=body,
                                invoice_id=str(row.id),
                                attachments=(Attachment(row.document_key, f"{row.number}.pdf"),),
                            ),
                        )
            await self._s.mailer.deliver(pool, key)
            async with pool.acquire() as conn:
                async with conn.transaction():
                    row = await invoices.get(conn, ref.invoice_id, lock=True)
                    if row.status == InvoiceStatus.AWAITING_REVIEW:
                        # The reminder schedule in force now is frozen with the invoice.
                        plan = reminder_plan.new_plan(
                            await companies.get(conn, row.company_id),
                            await clients.get(conn, row.client_id),
                            row,
                            planned_from=ref.at,
                        )
                        await invoices.mark_sent(
                            conn,
                            row,
                            "invoice emailed",
                            ref.at,
                            plan.to_json(),
                            actor=row.approved_by or SYSTEM,
                        )
                        await emit_invoice(conn, "invoice.sent", row.id, at=ref.at)
                return await store.snapshot(conn, ref.invoice_id)

    @activity.defn(name=names.VOID_INVOICE)
    async def void_invoice(self, request: VoidInvoiceInput) -> InvoiceSnapshot:
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                row = await invoices.get(conn, request.invoice_id, lock=True)
                if row.status != InvoiceStatus.VOID:
                    check_can_void(InvoiceStatus(row.status))
                    actor = await operators.take_request(
                        conn, request.request_id, Action.VOID, str(row.id)
                    )
                    await invoices.mark_void(
                        conn, row, request.reason or "voided", request.at, request.reason, actor
                    )
                    await tasks.close_automatic_tasks(conn, row.id, actor)
                    await store.audit(
                        conn,
                        "voided",
                        actor,
                        request.at,
                        invoice_id=row.id,
                        data={"reason": request.reason},
                    )
                    await emit_invoice(conn, "invoice.voided", row.id, at=request.at)
            return await store.snapshot(conn, request.invoice_id)

    async def _render(
        self, conn: store.Connection, invoice_id: str, *, final: bool, rerender: bool = False
    ) -> str:
        row = await invoices.get(conn, invoice_id)
        document_key = row.document_key if final else row.draft_document_key
        if document_key and not rerender:
            return str(document_key)
        line_rows = await store.lines(conn, "invoice_lines", "invoice_id", row.id)
        context = await document_context(conn, row, line_rows, "invoice" if final else "draft")
        pdf = await self._s.renderer.render_pdf("pdf/invoice.html", context)
        name = f"invoice/{row.id}/{'final' if final else 'draft'}.pdf"
        stored = await store_document(conn, name, pdf)
        if final:
            await invoices.set_final_document(conn, row.id, stored.key)
        else:
            await invoices.set_draft_document(conn, row.id, stored.key)
        return stored.key


async def _next_number(conn: store.Connection, row: InvoiceRow, year: int) -> str:
    """The number the invoice would take now, not taken (the series stays locked until the
    caller's transaction ends, so it is the one assign_number then gives)."""
    series = await store.lock_series(conn, row.company_id, "invoice", row.series)
    seq = sequence_for(series.next_seq, series.current_year, year, series.reset_yearly)
    return format_number(series.pattern, row.series, year, seq)


def _line_of(line: LineData, index: int) -> DocumentLine:
    field = f"lines[{index}]"
    try:
        category = VatCategory(line.vat_category) if line.vat_category else None
    except ValueError as bad:
        known = ", ".join(category.value for category in VatCategory)
        raise InvalidInput(f"{field}.vat_category: one of {known}") from bad
    return DocumentLine(
        description=line.description,
        quantity=parse_decimal(line.quantity, f"{field}.quantity"),
        unit_price=parse_decimal(line.unit_price, f"{field}.unit_price"),
        vat_rate=parse_decimal(line.vat_rate, f"{field}.vat_rate"),
        unit=line.unit,
        discount_percent=parse_decimal(line.discount_percent, f"{field}.discount_percent"),
        category=category,
        legal_basis=line.vat_legal_basis,
    )
