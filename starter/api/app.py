"""The HTTP API: operator endpoints under /api/v1 (bearer key) and the client's signing page.

Every action that changes an invoice goes to its workflow (signal or update), so the API,
the CLI and the Temporal UI mean the same thing; reads come from PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Query, Response
from temporalio.client import (
    Client,
)

from db import store
from domain.contracts import vat_category
from domain.money import plain_decimal
from domain.status import (
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_void,
)
from messages.models import (
    ApproveInvoice,
    VoidInvoice,
)
from settings import Settings
from starter.api import operations
from starter.api.deps import Q2CState, State, require_api_key
from starter.api.errors import add_error_handlers
from starter.api.operations import (
    client_json,
    invoice_handle,
    invoice_json,
    invoice_row,
    money,
    proposal_json,
    run_update,
)
from starter.api.pages.invoice_page import add_invoice_page_routes
from starter.api.pages.signing import add_signing_routes
from starter.api.routers.audit import add_audit_routes
from starter.api.routers.company import add_company_routes, insert_client
from starter.api.routers.contracts import add_contract_routes
from starter.api.routers.credit_notes import add_credit_note_routes
from starter.api.routers.credits import add_credit_routes
from starter.api.routers.events import add_event_routes
from starter.api.routers.invoice_actions import add_invoice_action_routes
from starter.api.routers.numbering import add_numbering_routes
from starter.api.routers.reports import add_report_routes
from starter.api.routers.tasks import add_task_routes
from starter.api.schemas import ClientIn, InvoicePatch, PaymentIn, ProposalIn, VoidIn
from starter.api.webhooks import add_webhook_routes
from workflows.invoice import InvoiceWorkflow


def create_app(
    settings: Settings, pool: asyncpg.Pool | None = None, temporal: Client | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        db = pool or await asyncpg.create_pool(settings.resolved_database_url(), max_size=10)
        client = temporal or await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        app.state.q2c = Q2CState(settings, db, client)
        try:
            yield
        finally:
            if own_pool:
                await db.close()

    app = FastAPI(
        title="q2c",
        summary="Quote-to-cash: proposals, e-signature, invoices, reminders, payments.",
        version="0.1.0",
        lifespan=lifespan,
    )

    add_error_handlers(app)
    _operator_routes(app, settings)
    add_signing_routes(app)
    add_invoice_page_routes(app)
    add_webhook_routes(app)
    add_audit_routes(app)
    add_report_routes(app)
    add_task_routes(app)
    add_numbering_routes(app)
    add_event_routes(app)
    add_credit_routes(app)
    add_credit_note_routes(app)
    add_invoice_action_routes(app)
    add_company_routes(app)
    add_contract_routes(app)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment."""
    return create_app(Settings.from_env())


def _operator_routes(app: FastAPI, settings: Settings) -> None:
    auth = [Depends(require_api_key)]

    @app.get("/healthz", include_in_schema=False)
    async def healthz(state: State) -> dict[str, str]:
        await state.pool.fetchval("SELECT 1")
        return {"status": "ok"}

    @app.post("/api/v1/clients", status_code=201, dependencies=auth, tags=["clients"])
    async def create_client(body: ClientIn, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            company_id = await store.default_company_id(conn)
            client_id = await insert_client(conn, company_id, body)
            return client_json(await store.client(conn, client_id))

    @app.get("/api/v1/clients/{client_id}", dependencies=auth, tags=["clients"])
    async def get_client(client_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            return client_json(await store.client(conn, client_id))

    @app.post("/api/v1/proposals", status_code=201, dependencies=auth, tags=["proposals"])
    async def create_proposal(body: ProposalIn, state: State, response: Response) -> dict[str, Any]:
        created, is_new = await operations.create_proposal(state, body)
        response.status_code = 201 if is_new else 200
        return created

    @app.post("/api/v1/proposals/{proposal_id}/send", dependencies=auth, tags=["proposals"])
    async def send_proposal(proposal_id: UUID, state: State) -> dict[str, Any]:
        return await operations.send_draft_proposal(state, proposal_id)

    @app.get("/api/v1/proposals/{proposal_id}", dependencies=auth, tags=["proposals"])
    async def get_proposal(proposal_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            return await proposal_json(conn, proposal_id)

    @app.get("/api/v1/invoices", dependencies=auth, tags=["invoices"])
    async def list_invoices(
        state: State,
        status: InvoiceStatus | None = None,
        client_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT * FROM invoices
                   WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR client_id = $2)
                   ORDER BY created_at DESC LIMIT $3""",
                status.value if status else None,
                client_id,
                limit,
            )
            return {"items": [invoice_json(row) for row in rows]}

    @app.get("/api/v1/invoices/{invoice_id}", dependencies=auth, tags=["invoices"])
    async def get_invoice(invoice_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            row = await store.invoice(conn, invoice_id)
            body = invoice_json(row)
            body["lines"] = [
                {
                    "description": line["description"],
                    "quantity": plain_decimal(line["quantity"]),
                    "unit": line["unit"],
                    "unit_price": str(line["unit_price"]),
                    "discount_percent": plain_decimal(line["discount_percent"]),
                    "vat_rate": plain_decimal(line["vat_rate"]),
                    "vat_category": vat_category(store.as_lines([line])[0]).value,
                    "net_amount": money(line["net_amount"], row["currency"]),
                }
                for line in await store.lines(conn, "invoice_lines", "invoice_id", invoice_id)
            ]
            return body

    @app.get("/api/v1/invoices/{invoice_id}/history", dependencies=auth, tags=["invoices"])
    async def invoice_history(invoice_id: UUID, state: State) -> dict[str, Any]:
        """Every status change, with its time and cause."""
        async with state.pool.acquire() as conn:
            await store.invoice(conn, invoice_id)
            rows = await conn.fetch(
                """SELECT from_status, to_status, cause, occurred_at
                   FROM invoice_status_changes WHERE invoice_id = $1 ORDER BY id""",
                invoice_id,
            )
        return {
            "items": [
                {
                    "from": row["from_status"],
                    "to": row["to_status"],
                    "cause": row["cause"],
                    "at": row["occurred_at"].isoformat(),
                }
                for row in rows
            ]
        }

    @app.get("/api/v1/invoices/{invoice_id}/pdf", dependencies=auth, tags=["invoices"])
    async def get_invoice_pdf(invoice_id: UUID, state: State) -> Response:
        async with state.pool.acquire() as conn:
            row = await store.invoice(conn, invoice_id)
            key = row["document_key"] or row["draft_document_key"]
            if key is None:
                raise HTTPException(404, "the invoice's PDF is not rendered yet")
            content = await conn.fetchval("SELECT content FROM documents WHERE key = $1", key)
        filename = f"{row['number'] or 'draft-' + str(row['id'])}.pdf"
        return Response(
            bytes(content),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    @app.patch("/api/v1/invoices/{invoice_id}", dependencies=auth, tags=["invoices"])
    async def edit_invoice(invoice_id: UUID, body: InvoicePatch, state: State) -> dict[str, Any]:
        row = await invoice_row(state, invoice_id)
        check_can_edit(InvoiceStatus(row["status"]))
        edit = body.as_edit()
        await run_update(invoice_handle(state, invoice_id), InvoiceWorkflow.edit, edit)
        return invoice_json(await invoice_row(state, invoice_id))

    @app.post(
        "/api/v1/invoices/{invoice_id}/approve",
        status_code=202,
        dependencies=auth,
        tags=["invoices"],
    )
    async def approve_invoice(invoice_id: UUID, state: State) -> dict[str, Any]:
        row = await invoice_row(state, invoice_id)
        check_can_approve(InvoiceStatus(row["status"]))
        await invoice_handle(state, invoice_id).signal(
            InvoiceWorkflow.approve, ApproveInvoice("api")
        )
        return invoice_json(row) | {"action": "approval accepted"}

    @app.post(
        "/api/v1/invoices/{invoice_id}/void", status_code=202, dependencies=auth, tags=["invoices"]
    )
    async def void_invoice(
        invoice_id: UUID, state: State, body: VoidIn | None = None
    ) -> dict[str, Any]:
        row = await invoice_row(state, invoice_id)
        check_can_void(InvoiceStatus(row["status"]))
        reason = body.reason if body else ""
        await invoice_handle(state, invoice_id).signal(
            InvoiceWorkflow.void, VoidInvoice(reason=reason, voided_by="api")
        )
        return invoice_json(row) | {"action": "void accepted"}

    @app.post("/api/v1/invoices/{invoice_id}/payments", dependencies=auth, tags=["invoices"])
    async def record_payment(
        invoice_id: UUID, body: PaymentIn, state: State, response: Response
    ) -> dict[str, Any]:
        answer = await operations.record_payment(state, invoice_id, body)
        response.status_code = 201 if answer["payment_recorded"] else 200
        return answer
