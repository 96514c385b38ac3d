"""Credit notes (storno) for operators: list them, read one with its original, get its PDF.

They are made by the invoice's workflow when an issued invoice is voided, never here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response

from db import credit_notes, documents, efactura, store
from db.rows import CreditNoteRow
from domain.credit_notes import CreditGroup, negate_line
from domain.money import plain_decimal
from starter.api.deps import API_KEY, State
from starter.api.operations import iso, money
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.routers.invoices import efactura_file, efactura_json
from starter.api.schemas import (
    EFACTURA_ANSWER_ZIP,
    EFACTURA_XML_ANSWER,
    PDF_ANSWER,
    CreditNoteDetailOut,
    CreditNoteList,
)


def credit_note_json(row: CreditNoteRow) -> dict[str, Any]:
    currency = row.currency.strip()
    groups = [CreditGroup.from_json(group) for group in json.loads(row.vat_groups)]
    return {
        "id": str(row.id),
        "number": row.number,
        "series": row.series,
        "status": "sent" if row.sent_at else "issued",
        "issue_date": iso(row.issue_date),
        "client_id": str(row.client_id),
        "invoice_id": str(row.invoice_id),
        "invoice_number": row.original_number,
        "invoice_issue_date": iso(row.original_issue_date),
        "currency": currency,
        "subtotal": money(row.subtotal, currency),
        "vat_total": money(row.vat_total, currency),
        "total": money(row.total, currency),
        "vat_groups": [
            {
                "rate": plain_decimal(group.rate),
                "category": group.category,
                "base": money(group.base, currency),
                "vat": money(group.vat, currency),
            }
            for group in groups
        ],
        "reason": row.reason,
        "amount_received": money(row.amount_received, currency),
        "issued_at": iso(row.issued_at),
        "sent_at": iso(row.sent_at),
        "matter_id": str(row.matter_id) if row.matter_id else None,
    }


router = APIRouter()


PAGER: Pager[CreditNoteRow] = Pager("credit-notes", credit_notes.ORDER)


@router.get(
    "/api/v1/credit-notes",
    response_model=CreditNoteList,
    dependencies=API_KEY,
    tags=["credit notes"],
    description=paged(
        "Credit notes, newest issued first (then by id), of one client, voided invoice "
        "and matter if given."
    ),
)
async def list_credit_notes(
    state: State,
    client_id: UUID | None = None,
    invoice_id: UUID | None = None,
    matter_id: Annotated[
        UUID | None, Query(description="only those filed under this matter")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    filters = {"client_id": client_id, "invoice_id": invoice_id, "matter_id": matter_id}
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        rows = await credit_notes.list_for_company(
            conn,
            company_id,
            client_id=client_id,
            invoice_id=invoice_id,
            after=after,
            limit=limit + 1,
            matter_id=matter_id,
        )
    return PAGER.page(rows, limit, filters, credit_note_json)


@router.get(
    "/api/v1/credit-notes/{credit_note_id}",
    response_model=CreditNoteDetailOut,
    dependencies=API_KEY,
    tags=["credit notes"],
)
async def get_credit_note(credit_note_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        row = await credit_notes.get(conn, credit_note_id)
        body = credit_note_json(row)
        currency = body["currency"]
        lines = []
        for line in await store.lines(conn, "invoice_lines", "invoice_id", row.invoice_id):
            negated = negate_line(line.quantity, line.unit_price, line.net_amount)
            lines.append(
                {
                    "description": line.description,
                    "quantity": plain_decimal(negated.quantity),
                    "unit": line.unit,
                    "unit_price": str(negated.unit_price),
                    "discount_percent": plain_decimal(line.discount_percent),
                    "vat_rate": plain_decimal(line.vat_rate),
                    "net_amount": money(negated.net, currency),
                }
            )
        body["lines"] = lines
        body["efactura"] = efactura_json(await efactura.get(conn, "credit_note", credit_note_id))
        return body


@router.get(
    "/api/v1/credit-notes/{credit_note_id}/efactura.xml",
    **EFACTURA_XML_ANSWER,
    dependencies=API_KEY,
    tags=["credit notes"],
)
async def get_credit_note_efactura_xml(credit_note_id: UUID, state: State) -> Response:
    """The credit note's e-Factura XML (a UBL CreditNote), as uploaded to ANAF."""
    return await efactura_file(state, "credit_note", credit_note_id, "xml", "credit note")


@router.get(
    "/api/v1/credit-notes/{credit_note_id}/efactura-answer.zip",
    **EFACTURA_ANSWER_ZIP,
    dependencies=API_KEY,
    tags=["credit notes"],
)
async def get_credit_note_efactura_answer(credit_note_id: UUID, state: State) -> Response:
    """ANAF's answer for the credit note: signed, or the list of errors."""
    return await efactura_file(state, "credit_note", credit_note_id, "answer", "credit note")


@router.get(
    "/api/v1/credit-notes/{credit_note_id}/pdf",
    **PDF_ANSWER,
    dependencies=API_KEY,
    tags=["credit notes"],
)
async def get_credit_note_pdf(credit_note_id: UUID, state: State) -> Response:
    async with state.pool.acquire() as conn:
        row = await credit_notes.get(conn, credit_note_id)
        document = (
            None if row.document_key is None else await documents.content_of(conn, row.document_key)
        )
    if document is None:
        raise HTTPException(404, "the credit note's PDF is not rendered yet")
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{row.number}.pdf"'},
    )
