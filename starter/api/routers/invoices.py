"""Invoices: list, read, history, PDF, edit, approve, void, record a payment.

Every action that changes an invoice goes to its workflow (signal or update), so the API,
the CLI and the Temporal UI mean the same thing; reads come from PostgreSQL.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Response

from db import documents, efactura, invoices, store
from db.rows import EfacturaSubmissionRow, InvoiceRow
from domain.contracts import vat_category
from domain.money import plain_decimal
from domain.operators import Action
from domain.status import (
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_void,
)
from messages.models import ApproveInvoice, VoidInvoice
from starter.api import operations
from starter.api.deps import API_KEY, CurrentOperator, State
from starter.api.operations import (
    invoice_handle,
    invoice_json,
    invoice_row,
    iso,
    money,
    operator_request,
    run_update,
)
from starter.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Pager, paged
from starter.api.schemas import (
    EFACTURA_ANSWER_ZIP,
    EFACTURA_XML_ANSWER,
    PDF_ANSWER,
    InvoiceActionOut,
    InvoiceDetailOut,
    InvoiceHistory,
    InvoiceList,
    InvoiceOut,
    InvoicePatch,
    PaymentIn,
    PaymentRecordedOut,
    VoidIn,
)
from starter.api.schemas.invoices import ManualInvoiceIn
from starter.api.schemas.resend import idempotency_key_header
from workflows.invoice import InvoiceWorkflow

router = APIRouter()


def efactura_json(row: EfacturaSubmissionRow | None) -> dict[str, Any] | None:
    """A document's e-Factura status as answered (None: it has none, not issued yet)."""
    if row is None:
        return None
    return {
        "status": row.status,
        "upload_index": row.upload_index,
        "download_id": row.download_id,
        "errors": efactura.errors_of(row),
        "uploaded_at": iso(row.uploaded_at),
        "answered_at": iso(row.answered_at),
    }


async def efactura_file(
    state: State, kind: str, document_id: UUID, part: str, what: str
) -> Response:
    """The document's stored e-Factura XML (`part` "xml") or ANAF's answer ("answer")."""
    async with state.pool.acquire() as conn:
        row = await efactura.get(conn, kind, document_id)
        key = None if row is None else (row.xml_key if part == "xml" else row.answer_key)
        document = None if key is None else await documents.content_of(conn, key)
    if document is None:
        if part == "xml":
            raise HTTPException(
                404, f"the {what} has no e-Factura XML (not issued, or not Romanian)"
            )
        raise HTTPException(404, f"ANAF has not answered for the {what} yet")
    suffix = "xml" if part == "xml" else "zip"
    name = f"efactura-{kind.replace('_', '-')}-{document_id}{'' if part == 'xml' else '-answer'}"
    return Response(
        document.content,
        media_type=document.content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{suffix}"'},
    )


PAGER: Pager[InvoiceRow] = Pager("invoices", invoices.ORDER)


@router.get(
    "/api/v1/invoices",
    response_model=InvoiceList,
    dependencies=API_KEY,
    tags=["invoices"],
    description=paged(
        "Invoices, newest first (then by id), of one status, client and matter if given; `number` "
        "finds the invoice with that number (exact)."
    ),
)
async def list_invoices(
    state: State,
    status: InvoiceStatus | None = None,
    client_id: UUID | None = None,
    number: Annotated[
        str | None, Query(min_length=1, max_length=100, description="an invoice number, exact")
    ] = None,
    matter_id: Annotated[
        UUID | None, Query(description="only those filed under this matter")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    filters = {"status": status, "client_id": client_id, "number": number, "matter_id": matter_id}
    after = PAGER.after(cursor, filters)
    async with state.pool.acquire() as conn:
        rows = await invoices.list_filtered(
            conn,
            status=status.value if status else None,
            client_id=client_id,
            number=number,
            after=after,
            limit=limit + 1,
            matter_id=matter_id,
        )
    return PAGER.page(rows, limit, filters, invoice_json)


@router.get(
    "/api/v1/invoices/by-number/{number:path}",
    response_model=InvoiceOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def get_invoice_by_number(
    number: Annotated[str, Path(min_length=1, max_length=100)], state: State
) -> dict[str, Any]:
    """The invoice with this number (e.g. INV-2026-00012; a number may hold '/'), or 404.
    Drafts have none yet."""
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        row = await invoices.by_number(conn, company_id, number)
    if row is None:
        raise HTTPException(404, f"no invoice numbered {number}")
    return invoice_json(row)


@router.get(
    "/api/v1/invoices/{invoice_id}",
    response_model=InvoiceDetailOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def get_invoice(invoice_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        row = await invoices.get(conn, invoice_id)
        body = invoice_json(row)
        body["lines"] = [
            {
                "description": line.description,
                "quantity": plain_decimal(line.quantity),
                "unit": line.unit,
                "unit_price": str(line.unit_price),
                "discount_percent": plain_decimal(line.discount_percent),
                "vat_rate": plain_decimal(line.vat_rate),
                "vat_category": vat_category(store.as_lines([line])[0]).value,
                "net_amount": money(line.net_amount, row.currency),
            }
            for line in await store.lines(conn, "invoice_lines", "invoice_id", invoice_id)
        ]
        body["efactura"] = efactura_json(await efactura.get(conn, "invoice", invoice_id))
        return body


@router.get(
    "/api/v1/invoices/{invoice_id}/efactura.xml",
    **EFACTURA_XML_ANSWER,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def get_invoice_efactura_xml(invoice_id: UUID, state: State) -> Response:
    """The e-Factura XML as validated at approval and uploaded to ANAF."""
    return await efactura_file(state, "invoice", invoice_id, "xml", "invoice")


@router.get(
    "/api/v1/invoices/{invoice_id}/efactura-answer.zip",
    **EFACTURA_ANSWER_ZIP,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def get_invoice_efactura_answer(invoice_id: UUID, state: State) -> Response:
    """ANAF's answer: the invoice with ANAF's signature, or the list of errors."""
    return await efactura_file(state, "invoice", invoice_id, "answer", "invoice")


@router.get(
    "/api/v1/invoices/{invoice_id}/history",
    response_model=InvoiceHistory,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def invoice_history(invoice_id: UUID, state: State) -> dict[str, Any]:
    """Every status change, with its time and cause."""
    async with state.pool.acquire() as conn:
        await invoices.get(conn, invoice_id)
        rows = await invoices.status_history(conn, invoice_id)
    return {
        "items": [
            {
                "from": row.from_status,
                "to": row.to_status,
                "cause": row.cause,
                "actor": row.actor,
                "at": row.occurred_at.isoformat(),
            }
            for row in rows
        ]
    }


@router.get(
    "/api/v1/invoices/{invoice_id}/pdf", **PDF_ANSWER, dependencies=API_KEY, tags=["invoices"]
)
async def get_invoice_pdf(invoice_id: UUID, state: State) -> Response:
    async with state.pool.acquire() as conn:
        row = await invoices.get(conn, invoice_id)
        key = row.document_key or row.draft_document_key
        document = None if key is None else await documents.content_of(conn, key)
    if document is None:
        raise HTTPException(404, "the invoice's PDF is not rendered yet")
    filename = f"{row.number or 'draft-' + str(row.id)}.pdf"
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.patch(
    "/api/v1/invoices/{invoice_id}",
    response_model=InvoiceOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def edit_invoice(
    invoice_id: UUID, body: InvoicePatch, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    row = await invoice_row(state, invoice_id)
    check_can_edit(InvoiceStatus(row.status))
    edit = body.as_edit()
    edit.request_id = await operator_request(state, operator, Action.EDIT, invoice_id)
    await run_update(invoice_handle(state, invoice_id), InvoiceWorkflow.edit, edit)
    return invoice_json(await invoice_row(state, invoice_id))


@router.post(
    "/api/v1/invoices/{invoice_id}/approve",
    response_model=InvoiceActionOut,
    status_code=202,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def approve_invoice(
    invoice_id: UUID, state: State, operator: CurrentOperator
) -> dict[str, Any]:
    row = await invoice_row(state, invoice_id)
    check_can_approve(InvoiceStatus(row.status))
    request_id = await operator_request(state, operator, Action.APPROVE, invoice_id)
    await invoice_handle(state, invoice_id).signal(
        InvoiceWorkflow.approve, ApproveInvoice(operator.actor, request_id)
    )
    return invoice_json(row) | {"action": "approval accepted"}


@router.post(
    "/api/v1/invoices/{invoice_id}/void",
    response_model=InvoiceActionOut,
    status_code=202,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def void_invoice(
    invoice_id: UUID, state: State, operator: CurrentOperator, body: VoidIn | None = None
) -> dict[str, Any]:
    row = await invoice_row(state, invoice_id)
    check_can_void(InvoiceStatus(row.status))
    reason = body.reason if body else ""
    request_id = await operator_request(state, operator, Action.VOID, invoice_id)
    await invoice_handle(state, invoice_id).signal(
        InvoiceWorkflow.void,
        VoidInvoice(reason=reason, voided_by=operator.actor, request_id=request_id),
    )
    return invoice_json(row) | {"action": "void accepted"}


@router.post(
    "/api/v1/invoices/{invoice_id}/payments",
    response_model=PaymentRecordedOut,
    dependencies=API_KEY,
    tags=["invoices"],
)
async def record_payment(
    invoice_id: UUID, body: PaymentIn, state: State, response: Response, operator: CurrentOperator
) -> dict[str, Any]:
    answer = await operations.record_payment(state, invoice_id, body, operator)
    response.status_code = 201 if answer["payment_recorded"] else 200
    return answer


# --- invoices made by hand (issue 15 point 3) ------------------------------------------------

ManualInvoiceKey = Annotated[
    str | None,
    idempotency_key_header("names this request: the same key again makes no second invoice"),
]


@router.post(
    "/api/v1/invoices",
    response_model=InvoiceOut,
    status_code=201,
    responses={200: {"model": InvoiceOut, "description": "the Idempotency-Key's invoice"}},
    dependencies=API_KEY,
    tags=["invoices"],
)
async def create_invoice(
    body: ManualInvoiceIn,
    state: State,
    response: Response,
    operator: CurrentOperator,
    idempotency_key: ManualInvoiceKey = None,
) -> dict[str, Any]:
    """A draft invoice for a client, made by hand: its `invoice-<id>` workflow renders the
    draft and waits for review, as for an invoice from a contract. 201 with the invoice; 200
    with the same one when the Idempotency-Key was used before; 409 for an archived client;
    404 for an unknown client or contract; 422 naming the field at fault."""
    invoice, created = await operations.create_manual_invoice(
        state, body, operator.actor, idempotency_key
    )
    if not created:
        response.status_code = 200
    return invoice
