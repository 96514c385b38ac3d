"""Credit notes (storno): issue one for a voided invoice that had been issued, and email it.

One per invoice, ever (credit_notes.invoice_id is unique): both activities look for the
credit note of the invoice first, so a retry, a second void or a second worker finds the
one already made. Its number comes from the company's credit-note series under that
series' row lock, in the transaction that stores it, as invoice numbers do.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import efactura
from activities.documents import (
    context_for,
    document_context,
    live_parties,
    parties_for,
    store_document,
)
from activities.events import emit_invoice, emit_task_created
from activities.mail import Attachment, OutgoingEmail
from activities.services import Services, business_errors
from db import clients, companies, credit_notes, invoices, outbox, snapshots, store, tasks
from db.rows import CreditNoteRow, InvoiceLineRow, InvoiceRow
from domain.credit_notes import (
    CreditNoteMismatch,
    needs_credit_note,
    negate_document_totals,
    negate_totals,
)
from domain.i18n import format_day, format_money, pick_locale
from domain.money import plain_decimal, round_money
from domain.parties import IssuedParties, parties_of
from domain.schedule import local_date
from domain.status import IllegalTransition
from domain.vat import DocumentTotals
from messages import activity_names as names
from messages.models import CreditNoteInput, CreditNoteIssued

TEMPLATE = "pdf/credit_note.html"


def outbox_key(credit_note_id: object) -> str:
    return f"credit_note:{credit_note_id}:credit_note:1"


def original_totals(invoice: InvoiceRow, line_rows: list[InvoiceLineRow]) -> DocumentTotals:
    """The original's totals, computed as its own document computes them (its pricing,
    document discount, VAT categories)."""
    return store.document_totals(invoice, store.as_lines(line_rows))


class CreditNoteActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=names.ISSUE_CREDIT_NOTE)
    async def issue_credit_note(self, request: CreditNoteInput) -> CreditNoteIssued:
        """Number and store the credit note of a voided, issued invoice, then render its PDF;
        a retry finds it made and only renders what is missing."""
        async with business_errors(), self._s.pool.acquire() as conn:
            async with conn.transaction():
                invoice = await invoices.get(conn, request.invoice_id, lock=True)
                note = await credit_notes.of_invoice(conn, invoice.id)
                if note is None:
                    note = await self._create(conn, invoice, request)
            await self._render(conn, note)
            return CreditNoteIssued(str(note.id), note.number)

    async def _create(
        self, conn: store.Connection, invoice: InvoiceRow, request: CreditNoteInput
    ) -> CreditNoteRow:
        if not needs_credit_note(invoice.status, invoice.number):
            raise IllegalTransition(
                f"only a voided invoice that was issued gets a credit note; this one is "
                f"{invoice.status}{'' if invoice.number else ' and has no number'}"
            )
        # needs_credit_note: an issued invoice, so numbered and dated.
        assert invoice.number is not None and invoice.issue_date is not None
        currency = invoice.currency.strip()
        line_rows = await store.lines(conn, "invoice_lines", "invoice_id", invoice.id)
        try:
            figures = negate_totals(
                original_totals(invoice, line_rows).groups,
                original_subtotal=round_money(invoice.subtotal, currency),
                original_vat_total=round_money(invoice.vat_total, currency),
                original_total=round_money(invoice.total, currency),
            )
        except CreditNoteMismatch as mismatch:
            # A stored invoice at odds with its lines is a bug to fix, not a business refusal:
            # the activity retries (the void stands) until the code or the data is fixed.
            raise ApplicationError(str(mismatch), type="CreditNoteMismatch") from mismatch
        seller = await companies.get(conn, invoice.company_id)
        issue_date = local_date(request.at, seller.time_zone)
        series = seller.credit_note_series
        number = await store.assign_number(
            conn, invoice.company_id, "credit_note", series, issue_date.year
        )
        # amount_paid is already net of refunds: the money still held for the client.
        received = round_money(max(invoice.amount_paid, Decimal(0)), currency)
        note = await credit_notes.insert(
            conn,
            credit_notes.NewCreditNote(
                company_id=invoice.company_id,
                client_id=invoice.client_id,
                invoice_id=invoice.id,
                series=series,
                number=number,
                issue_date=issue_date,
                currency=currency,
                subtotal=figures.subtotal,
                vat_total=figures.vat_total,
                total=figures.total,
                vat_groups=[group.as_json() for group in figures.groups],
                original_number=invoice.number,
                original_issue_date=invoice.issue_date,
                reason=request.reason or invoice.void_reason or "",
                amount_received=received,
                issued_at=request.at,
            ),
        )
        parties = await credit_note_parties(conn, invoice)
        await snapshots.set_credit_note_parties(conn, note.id, parties)
        note = replace(note, issued_parties=parties.to_json())
        await store.audit(
            conn,
            "credit_note_issued",
            "system",
            request.at,
            invoice_id=invoice.id,
            data={
                "credit_note_id": str(note.id),
                "number": number,
                "total": str(figures.total),
                "amount_received": str(received),
            },
        )
        # Its e-Factura XML is stored in the transaction that issues it (issue 14).
        await efactura.prepare_credit_note(conn, invoice, note, request.at)
        await emit_invoice(
            conn,
            "credit_note.issued",
            invoice.id,
            at=request.at,
            credit_note=credit_note_data(note),
        )
        if received > 0:
            # The client paid part of a cancelled invoice: that money is theirs again. It
            # stays recorded on the voided invoice until an operator refunds it.
            buyer = await clients.get(conn, invoice.client_id)
            await tasks.open_task_once(
                conn,
                "refund_after_void",
                company_id=invoice.company_id,
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                title=f"Refund {received} {currency} to {buyer.name}: invoice "
                f"{invoice.number} was cancelled by credit note {number}",
                due_date=issue_date,
            )
            await emit_task_created(conn, invoice_id=invoice.id, kind="refund_after_void")
        return note

    async def _render(self, conn: store.Connection, note: CreditNoteRow) -> str:
        if note.document_key:
            return note.document_key
        invoice = await invoices.get(conn, note.invoice_id)
        line_rows = await store.lines(conn, "invoice_lines", "invoice_id", invoice.id)
        # The original's context gives the parties, bank, branding and contract as printed
        # on it; the money is laid out again from its totals negated.
        original = await document_context(conn, invoice, line_rows, "credit_note")
        negated = negate_document_totals(original_totals(invoice, line_rows))
        if negated.total != note.total:
            raise ApplicationError(
                f"credit note {note.number}: stored total {note.total}, "
                f"the original's negated is {negated.total}",
                type="CreditNoteMismatch",
            )
        seller, buyer, bank = original["seller"], original["buyer"], original["seller_bank"]
        if note.issued_parties:
            # The credit note's own parties (credit_note_parties); a note from before they
            # were stored prints the original's, as it always did.
            own = await parties_for(conn, note)
            seller, buyer, bank = asdict(own[0]), asdict(own[1]), own[2]
        context = context_for(
            "credit_note",
            asdict(invoice),
            [asdict(row) for row in line_rows],
            seller,
            buyer,
            bank,
            original["brand"],
            totals=negated,
            items=store.as_lines(line_rows),
        ) | {"contract": original["contract"]}
        context = credit_note_context(context, note, line_rows, original_series=invoice.series)
        pdf = await self._s.renderer.render_pdf(TEMPLATE, context)
        stored = await store_document(conn, f"credit_note/{note.id}.pdf", pdf)
        await credit_notes.set_document(conn, note.id, stored.key)
        return stored.key

    @activity.defn(name=names.SEND_CREDIT_NOTE)
    async def send_credit_note(self, request: CreditNoteInput) -> None:
        """Email the credit note with its PDF through the outbox, once per credit note."""
        pool = self._s.pool
        async with business_errors():
            async with pool.acquire() as conn:
                note = await credit_notes.of_invoice(conn, request.invoice_id)
                if note is None or note.document_key is None:
                    raise ApplicationError("the credit note is not issued yet", type="NotIssued")
                document_key = note.document_key
                key = outbox_key(note.id)
                if not await outbox.is_queued(conn, key):
                    # The email prints the note's parties; it goes to the live address.
                    seller, buyer, _ = await parties_for(conn, note)
                    to_address = (await clients.get(conn, note.client_id)).email
                    locale = pick_locale(buyer.locale)
                    currency = note.currency.strip()
                    invoice = await invoices.get(conn, note.invoice_id)
                    subject, body = self._s.renderer.email(
                        "credit_note",
                        locale,
                        seller=seller,
                        buyer=buyer,
                        number=note.number,
                        issue_date=format_day(note.issue_date, locale),
                        original_series=invoice.series,
                        original_number=note.original_number,
                        original_issue_date=format_day(note.original_issue_date, locale),
                        total=format_money(note.total, currency, locale),
                        amount_received=(
                            format_money(note.amount_received, currency, locale)
                            if note.amount_received > 0
                            else ""
                        ),
                    )
                    await self._s.mailer.enqueue(
                        conn,
                        OutgoingEmail(
                            idempotency_key=key,
                            kind="credit_note",
                            to_address=to_address,
                            subject=subject,
                            body_text=body,
                            invoice_id=str(note.invoice_id),
                            attachments=(Attachment(document_key, f"{note.number}.pdf"),),
                        ),
                    )
            await self._s.mailer.deliver(pool, key)
            async with pool.acquire() as conn, conn.transaction():
                sent = await credit_notes.mark_sent_from_outbox(conn, note.id, key)
                if sent is not None:
                    await store.audit(
                        conn,
                        "credit_note_sent",
                        "smtp",
                        request.at,
                        invoice_id=note.invoice_id,
                        data={"credit_note_id": str(note.id), "number": note.number},
                    )


async def credit_note_parties(conn: store.Connection, invoice: InvoiceRow) -> IssuedParties:
    """The parties of a credit note issued now for `invoice`.

    A credit note is a new document, dated today: each party is printed with its current
    details (a new name or address of the same company is what it is called today). But it
    cancels a supply made to (and by) the legal person on the invoice: when a party's
    identifiers (domain.parties.IDENTITY: tax id, VAT id, registration number, country)
    no longer match the invoice's, the client row now describes another person (or the
    invoice named the wrong one) and the credit note names the party as the invoice did,
    so it cancels that invoice for that person (and e-Factura sends it to the same CIF).
    The original invoice is referenced by its number and date either way."""
    current = await live_parties(conn, invoice.company_id, invoice.client_id, invoice.currency)
    original = parties_of(invoice.issued_parties)
    if original is None:
        return current
    same_seller = current.seller.same_party(original.seller)
    return IssuedParties(
        seller=current.seller if same_seller else original.seller,
        buyer=current.buyer if current.buyer.same_party(original.buyer) else original.buyer,
        bank=current.bank if same_seller else original.bank,
    )


def credit_note_data(note: CreditNoteRow) -> dict[str, Any]:
    """What an outbound event says about a credit note: ids, numbers, dates and amounts."""
    currency = note.currency.strip()
    return {
        "id": str(note.id),
        "number": note.number,
        "issue_date": note.issue_date.isoformat(),
        "invoice_id": str(note.invoice_id),
        "invoice_number": note.original_number,
        "currency": currency,
        "total": str(round_money(note.total, currency)),
    }


def credit_note_context(
    context: dict[str, Any],
    note: CreditNoteRow,
    line_rows: list[InvoiceLineRow],
    *,
    original_series: str,
) -> dict[str, Any]:
    """A context laid out from the original's negated totals, made the credit note's: its
    own number and date, the original's number and date, and each line's quantity negated
    (its value is negated already)."""
    locale = context["locale"]
    currency = note.currency.strip()
    lines = [
        view | {"quantity": plain_decimal(-row.quantity)}
        for view, row in zip(context["lines"], line_rows, strict=True)
    ]
    received = round_money(note.amount_received, currency)
    return context | {
        "kind": "credit_note",
        "number": note.number,
        "series": note.series,
        "issue_date": format_day(note.issue_date, locale),
        "due_date": "",
        "original_series": original_series,
        "original_number": note.original_number,
        "original_issue_date": format_day(note.original_issue_date, locale),
        "reason": note.reason,
        "lines": lines,
        "amount_received": format_money(received, currency, locale) if received > 0 else "",
    }
