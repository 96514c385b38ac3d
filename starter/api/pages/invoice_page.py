"""The client's hosted invoice page, opened from the link in the invoice and reminder emails.

A link opens one invoice and nothing else; a view is recorded as an audit event, never as
a status change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from activities.documents import document_context
from activities.events import emit_invoice
from db import credit_notes, documents, invoices, signing, store
from db.rows import CreditNoteRow, InvoiceRow
from domain.i18n import format_day
from starter.api.deps import State, client_ip
from starter.api.pages.signing import claim_view, page_response, pdf_response, security_headers

PAGE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "status": "Status",
        "download": "Download the PDF",
        "how_to_pay": "How to pay",
        "beneficiary": "Beneficiary",
        "reference": "Payment reference",
        "expired": "This link has expired. Please ask the sender for a new one.",
        "draft": "draft",
        "awaiting_review": "in review",
        "sent": "awaiting payment",
        "partially_paid": "partially paid",
        "paid": "paid",
        "overdue": "overdue",
        "overdue_partially_paid": "overdue, partially paid",
        "void": "cancelled",
        "nothing_due": "Nothing is due on this invoice.",
        "cancelled_by": "Cancelled by credit note {number} of {date}.",
        "credit_note_download": "Download the credit note",
    },
    "ro": {
        "status": "Stare",
        "download": "Descarcă PDF",
        "how_to_pay": "Cum plătiți",
        "beneficiary": "Beneficiar",
        "reference": "Mențiune la plată",
        "expired": "Acest link a expirat. Vă rugăm să cereți unul nou expeditorului.",
        "draft": "ciornă",
        "awaiting_review": "în verificare",
        "sent": "în așteptarea plății",
        "partially_paid": "plătită parțial",
        "paid": "plătită",
        "overdue": "restantă",
        "overdue_partially_paid": "restantă, plătită parțial",
        "void": "anulată",
        "nothing_due": "Nu mai este nimic de plată pentru această factură.",
        "cancelled_by": "Anulată prin factura de stornare {number} din {date}.",
        "credit_note_download": "Descarcă factura de stornare",
    },
    "ru": {
        "status": "Статус",
        "download": "Скачать PDF",
        "how_to_pay": "Как оплатить",
        "beneficiary": "Получатель",
        "reference": "Назначение платежа",
        "expired": "Срок действия ссылки истёк. Попросите отправителя прислать новую.",
        "draft": "черновик",
        "awaiting_review": "на проверке",
        "sent": "ожидает оплаты",
        "partially_paid": "оплачен частично",
        "paid": "оплачен",
        "overdue": "просрочен",
        "overdue_partially_paid": "просрочен, оплачен частично",
        "void": "аннулирован",
        "nothing_due": "По этому счёту оплачивать нечего.",
        "cancelled_by": "Аннулирован: сторно № {number} от {date}.",
        "credit_note_download": "Скачать сторно",
    },
}


async def _invoice_for_token(conn: store.Connection, token: str) -> tuple[InvoiceRow, bool]:
    """The invoice a link opens and whether the link has expired. An unknown link says
    nothing about what exists."""
    link = await signing.access_token(conn, store.hash_token(token), "invoice")
    if link is None:
        raise HTTPException(404, "not found", headers=security_headers())
    return await invoices.get(conn, link.invoice_id), link.expires_at <= datetime.now(UTC)


def _shown_status(invoice: InvoiceRow) -> str:
    """Partly paid and overdue at once is shown as both, never as paid."""
    if invoice.status == "overdue" and invoice.amount_paid > 0:
        return "overdue_partially_paid"
    return str(invoice.status)


async def _credit_note_of(conn: store.Connection, invoice: InvoiceRow) -> CreditNoteRow | None:
    """The credit note that cancelled the invoice, once its PDF exists."""
    credit_note = await credit_notes.of_invoice(conn, invoice.id)
    if credit_note is None or credit_note.document_key is None:
        return None
    return credit_note


router = APIRouter()


@router.get("/i/{token}", response_class=HTMLResponse, include_in_schema=False)
async def invoice_page(token: str, request: Request, state: State) -> HTMLResponse:
    async with state.pool.acquire() as conn:
        invoice, expired = await _invoice_for_token(conn, token)
        lines = await store.lines(conn, "invoice_lines", "invoice_id", invoice.id)
        context = await document_context(conn, invoice, lines, "invoice")
        page_labels = PAGE_LABELS[context["locale"]]
        if expired:
            html = state.pages.get_template("pages/invoice_expired.html").render(
                **context, p=page_labels
            )
            return page_response(html, 410)
        async with conn.transaction():
            # A visitor's reloads within the view window record nothing more.
            if await claim_view(conn, request, invoice_id=invoice.id):
                await store.audit(
                    conn,
                    "viewed",
                    "client",
                    datetime.now(UTC),
                    invoice_id=invoice.id,
                    ip=client_ip(request),
                    user_agent=request.headers.get("user-agent", ""),
                )
                # Only the first view makes an event (once per invoice), not every reload.
                await emit_invoice(conn, "invoice.viewed", invoice.id)
        credit_note = await _credit_note_of(conn, invoice)
    due = max(invoice.total - invoice.amount_paid, Decimal(0))
    cancelled_by = ""
    if credit_note is not None:
        cancelled_by = page_labels["cancelled_by"].format(
            number=credit_note.number,
            date=format_day(credit_note.issue_date, context["locale"]),
        )
    html = state.pages.get_template("pages/invoice.html").render(
        cancelled_by=cancelled_by,
        **context,
        p=page_labels,
        token=token,
        status=invoice.status,
        status_label=page_labels[_shown_status(invoice)],
        nothing_due=due == 0 or invoice.status == "void",
    )
    return page_response(html, 200)


@router.get("/i/{token}/credit-note.pdf", include_in_schema=False)
async def credit_note_pdf(token: str, state: State) -> Response:
    """The credit note that cancelled the invoice, for the client who holds its link."""
    async with state.pool.acquire() as conn:
        invoice, expired = await _invoice_for_token(conn, token)
        credit_note = await _credit_note_of(conn, invoice)
        if expired or credit_note is None:
            raise HTTPException(404, "not found", headers=security_headers())
        assert credit_note.document_key is not None
        document = await documents.content_of(conn, credit_note.document_key)
    # The key names a stored document (a foreign key), so it is there.
    assert document is not None
    return pdf_response(document.content, f"{credit_note.number}.pdf")


@router.get("/i/{token}/pdf", include_in_schema=False)
async def invoice_pdf(token: str, state: State) -> Response:
    async with state.pool.acquire() as conn:
        invoice, expired = await _invoice_for_token(conn, token)
        if expired or invoice.document_key is None:
            raise HTTPException(404, "not found", headers=security_headers())
        document = await documents.content_of(conn, invoice.document_key)
    # The key names a stored document (a foreign key), so it is there.
    assert document is not None
    return pdf_response(document.content, f"{invoice.number}.pdf")
