"""The HTTP API: operator endpoints under /api/v1 (bearer key) and the client's signing page.

Every action that changes an invoice goes to its workflow (signal or update), so the API,
the CLI and the Temporal UI mean the same thing; reads come from PostgreSQL.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from activities import store
from activities.documents import template_environment
from domain.i18n import labels, pick_locale
from domain.money import compute_totals, plain_decimal, round_money
from domain.schedule import local_date
from domain.status import (
    IllegalTransition,
    InvoiceStatus,
    ProposalStatus,
    check_can_approve,
    check_can_edit,
    check_can_pay,
    check_can_void,
)
from starter.config import Settings
from starter.schemas import ClientIn, InvoicePatch, PaymentIn, ProposalIn, VoidIn
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow
from workflows.shared import (
    ApproveInvoice,
    DeclineProposal,
    InvoiceEdit,
    PaymentRequest,
    ProposalWorkflowInput,
    SignProposal,
    VoidInvoice,
    invoice_workflow_id,
    proposal_workflow_id,
)

log = logging.getLogger("q2c.api")

CONSENT_TEXT = {
    "en": "I have read this proposal and I accept it; typing my name is my electronic signature.",
    "ro": "Am citit această ofertă și o accept; numele meu tastat constituie semnătura mea "
    "electronică.",
    "ru": "Я ознакомился с предложением и принимаю его; введённое мной имя является моей "
    "электронной подписью.",
}


class Q2CState:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, temporal: Client) -> None:
        self.settings = settings
        self.pool = pool
        self.temporal = temporal
        self.pages = template_environment()


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

    @app.exception_handler(store.NotFound)
    async def not_found(_: Request, missing: store.NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"{missing.kind} not found"}, status_code=404)

    @app.exception_handler(IllegalTransition)
    async def conflict(_: Request, refused: IllegalTransition) -> JSONResponse:
        return JSONResponse({"detail": refused.reason}, status_code=409)

    _operator_routes(app, settings)
    _signing_routes(app)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory`: settings from the environment."""
    return create_app(Settings.from_env())


def _state(request: Request) -> Q2CState:
    state: Q2CState = request.app.state.q2c
    return state


State = Annotated[Q2CState, Depends(_state)]


def _operator_routes(app: FastAPI, settings: Settings) -> None:
    def require_key(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        expected = _state(request).settings.api_key
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.encode(), expected.encode()):
            raise HTTPException(
                401, "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
            )

    auth = [Depends(require_key)]

    @app.get("/healthz", include_in_schema=False)
    async def healthz(state: State) -> dict[str, str]:
        await state.pool.fetchval("SELECT 1")
        return {"status": "ok"}

    @app.post("/api/v1/clients", status_code=201, dependencies=auth, tags=["clients"])
    async def create_client(body: ClientIn, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            company_id = await store.default_company_id(conn)
            client_id = await conn.fetchval(
                """INSERT INTO clients (company_id, name, email, country, locale, tax_id,
                       registration_number, address)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
                company_id,
                body.name,
                body.email,
                body.country,
                body.locale,
                body.tax_id,
                body.registration_number,
                body.address,
            )
            return _client_json(await store.client(conn, client_id))

    @app.get("/api/v1/clients/{client_id}", dependencies=auth, tags=["clients"])
    async def get_client(client_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            return _client_json(await store.client(conn, client_id))

    @app.post("/api/v1/proposals", status_code=201, dependencies=auth, tags=["proposals"])
    async def create_proposal(body: ProposalIn, state: State) -> dict[str, Any]:
        items = [line.as_line() for line in body.lines]
        totals = compute_totals(items, body.currency)
        async with state.pool.acquire() as conn:
            if body.external_id:
                existing = await conn.fetchval(
                    "SELECT id FROM proposals WHERE external_id = $1", body.external_id
                )
                if existing is not None:
                    return await _proposal_json(conn, existing)
            buyer = await store.client(conn, body.client_id)
            seller = await store.company(conn, buyer["company_id"])
            if body.valid_until < local_date(datetime.now(UTC), seller["time_zone"]):
                raise HTTPException(422, "valid_until: must not be in the past")
            async with conn.transaction():
                proposal_id = await conn.fetchval(
                    """INSERT INTO proposals (company_id, client_id, external_id, currency,
                           valid_until, payment_terms_days, notes, subtotal, vat_total, total)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
                    seller["id"],
                    buyer["id"],
                    body.external_id,
                    body.currency,
                    body.valid_until,
                    body.payment_terms_days
                    if body.payment_terms_days is not None
                    else seller["payment_terms_days"],
                    body.notes,
                    totals.subtotal,
                    totals.vat_total,
                    totals.total,
                )
                await store.replace_lines(
                    conn, "proposal_lines", "proposal_id", proposal_id, items, body.currency
                )
            try:
                await state.temporal.start_workflow(
                    ProposalWorkflow.run,
                    ProposalWorkflowInput(str(proposal_id)),
                    id=proposal_workflow_id(str(proposal_id)),
                    task_queue=state.settings.task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except Exception:
                # Without its workflow the proposal would never be sent: take it back whole.
                async with conn.transaction():
                    await conn.execute(
                        "DELETE FROM proposal_lines WHERE proposal_id = $1", proposal_id
                    )
                    await conn.execute("DELETE FROM proposals WHERE id = $1", proposal_id)
                log.exception("could not start the workflow of proposal %s", proposal_id)
                raise HTTPException(
                    503, "the workflow service is unavailable; nothing was saved"
                ) from None
            return await _proposal_json(conn, proposal_id)

    @app.get("/api/v1/proposals/{proposal_id}", dependencies=auth, tags=["proposals"])
    async def get_proposal(proposal_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            return await _proposal_json(conn, proposal_id)

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
            return {"items": [_invoice_json(row) for row in rows]}

    @app.get("/api/v1/invoices/{invoice_id}", dependencies=auth, tags=["invoices"])
    async def get_invoice(invoice_id: UUID, state: State) -> dict[str, Any]:
        async with state.pool.acquire() as conn:
            row = await store.invoice(conn, invoice_id)
            body = _invoice_json(row)
            body["lines"] = [
                {
                    "description": line["description"],
                    "quantity": plain_decimal(line["quantity"]),
                    "unit": line["unit"],
                    "unit_price": str(line["unit_price"]),
                    "discount_percent": plain_decimal(line["discount_percent"]),
                    "vat_rate": plain_decimal(line["vat_rate"]),
                    "net_amount": _money(line["net_amount"], row["currency"]),
                }
                for line in await store.lines(conn, "invoice_lines", "invoice_id", invoice_id)
            ]
            return body

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
        row = await _invoice_row(state, invoice_id)
        check_can_edit(InvoiceStatus(row["status"]))
        edit = InvoiceEdit(
            lines=[line.as_data() for line in body.lines] if body.lines is not None else None,
            due_date=body.due_date.isoformat() if body.due_date else None,
            notes=body.notes,
        )
        await _update(_invoice_handle(state, invoice_id), InvoiceWorkflow.edit, edit)
        return _invoice_json(await _invoice_row(state, invoice_id))

    @app.post(
        "/api/v1/invoices/{invoice_id}/approve",
        status_code=202,
        dependencies=auth,
        tags=["invoices"],
    )
    async def approve_invoice(invoice_id: UUID, state: State) -> dict[str, Any]:
        row = await _invoice_row(state, invoice_id)
        check_can_approve(InvoiceStatus(row["status"]))
        await _invoice_handle(state, invoice_id).signal(
            InvoiceWorkflow.approve, ApproveInvoice("api")
        )
        return _invoice_json(row) | {"action": "approval accepted"}

    @app.post(
        "/api/v1/invoices/{invoice_id}/void", status_code=202, dependencies=auth, tags=["invoices"]
    )
    async def void_invoice(
        invoice_id: UUID, state: State, body: VoidIn | None = None
    ) -> dict[str, Any]:
        row = await _invoice_row(state, invoice_id)
        check_can_void(InvoiceStatus(row["status"]))
        reason = body.reason if body else ""
        await _invoice_handle(state, invoice_id).signal(
            InvoiceWorkflow.void, VoidInvoice(reason=reason, voided_by="api")
        )
        return _invoice_json(row) | {"action": "void accepted"}

    @app.post("/api/v1/invoices/{invoice_id}/payments", dependencies=auth, tags=["invoices"])
    async def record_payment(
        invoice_id: UUID, body: PaymentIn, state: State, response: Response
    ) -> dict[str, Any]:
        row = await _invoice_row(state, invoice_id)
        already = await state.pool.fetchval(
            "SELECT 1 FROM payments WHERE invoice_id = $1 AND reference = $2",
            invoice_id,
            body.reference,
        )
        if already:
            # Idempotent by reference, even once the invoice is paid and its workflow closed.
            return _invoice_json(row) | {"payment_recorded": False}
        check_can_pay(InvoiceStatus(row["status"]))
        result = await _update(
            _invoice_handle(state, invoice_id),
            InvoiceWorkflow.record_payment,
            PaymentRequest(
                amount=str(body.amount),
                paid_at=body.paid_at.isoformat(),
                reference=body.reference,
                currency=body.currency,
            ),
        )
        response.status_code = 201 if result.recorded else 200
        return _invoice_json(await _invoice_row(state, invoice_id)) | {
            "payment_recorded": result.recorded
        }


async def _invoice_row(state: Q2CState, invoice_id: UUID) -> asyncpg.Record:
    async with state.pool.acquire() as conn:
        return await store.invoice(conn, invoice_id)


def _invoice_handle(state: Q2CState, invoice_id: UUID) -> WorkflowHandle[Any, Any]:
    return state.temporal.get_workflow_handle(invoice_workflow_id(str(invoice_id)))


async def _update(handle: WorkflowHandle[Any, Any], update: Any, argument: Any) -> Any:
    """Run a workflow update; its refusal becomes the matching HTTP status."""
    try:
        return await handle.execute_update(update, argument)
    except WorkflowUpdateFailedError as failed:
        # The refusal may come from the validator, or from an activity the handler ran.
        cause: BaseException | None = failed.cause
        while isinstance(cause, ActivityError):
            cause = cause.cause
        if isinstance(cause, ApplicationError):
            status = {"IllegalTransition": 409, "InvalidInput": 422, "NotFound": 404}.get(
                cause.type or "", 500
            )
            raise HTTPException(status, cause.message) from failed
        raise


def _money(value: Any, currency: str) -> str:
    return str(round_money(value, currency.strip()))


def _client_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "email": row["email"],
        "country": row["country"],
        "locale": row["locale"],
        "tax_id": row["tax_id"],
        "registration_number": row["registration_number"],
        "address": row["address"],
    }


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _proposal_json(conn: store.Connection, proposal_id: Any) -> dict[str, Any]:
    row = await store.proposal(conn, proposal_id)
    currency = row["currency"].strip()
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "client_id": str(row["client_id"]),
        "external_id": row["external_id"],
        "currency": currency,
        "valid_until": _iso(row["valid_until"]),
        "payment_terms_days": row["payment_terms_days"],
        "subtotal": _money(row["subtotal"], currency),
        "vat_total": _money(row["vat_total"], currency),
        "total": _money(row["total"], currency),
        "emailed_at": _iso(row["emailed_at"]),
        "signed_at": _iso(row["signed_at"]),
        "declined_at": _iso(row["declined_at"]),
        "decline_reason": row["decline_reason"],
        "invoice_id": str(row["invoice_id"]) if row["invoice_id"] else None,
        "workflow_id": proposal_workflow_id(str(row["id"])),
    }


def _invoice_json(row: asyncpg.Record) -> dict[str, Any]:
    currency = row["currency"].strip()
    due = row["total"] - row["amount_paid"]
    return {
        "id": str(row["id"]),
        "number": row["number"],
        "status": row["status"],
        "overdue": row["overdue"],
        "currency": currency,
        "subtotal": _money(row["subtotal"], currency),
        "vat_total": _money(row["vat_total"], currency),
        "total": _money(row["total"], currency),
        "amount_paid": _money(row["amount_paid"], currency),
        "amount_due": _money(max(due, 0), currency),
        "issue_date": _iso(row["issue_date"]),
        "due_date": _iso(row["due_date"]),
        "client_id": str(row["client_id"]),
        "proposal_id": str(row["proposal_id"]) if row["proposal_id"] else None,
        "notes": row["notes"],
        "workflow_id": invoice_workflow_id(str(row["id"])),
    }


# --- the client's signing page -------------------------------------------------------------


def _signing_routes(app: FastAPI) -> None:
    @app.get("/sign/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def sign_page(token: str, request: Request, state: State) -> HTMLResponse:
        async with state.pool.acquire() as conn:
            proposal, expired = await _proposal_for_token(conn, token)
            await store.audit(
                conn,
                "viewed",
                "client",
                datetime.now(UTC),
                proposal_id=proposal["id"],
                ip=_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
            return await _render_sign_page(state, conn, proposal, token, expired)

    @app.post("/sign/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def sign(
        token: str,
        request: Request,
        state: State,
        signer_name: Annotated[str, Form(max_length=200)] = "",
        signer_email: Annotated[str, Form(max_length=300)] = "",
        consent: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        async with state.pool.acquire() as conn:
            proposal, expired = await _proposal_for_token(conn, token)
            if expired or proposal["status"] != ProposalStatus.SENT:
                return await _render_sign_page(state, conn, proposal, token, expired, 409)
            locale = pick_locale((await store.client(conn, proposal["client_id"]))["locale"])
            errors = []
            if not signer_name.strip():
                errors.append("signer_name")
            if consent not in ("yes", "on", "true"):
                errors.append("consent")
            if errors:
                return await _render_sign_page(
                    state, conn, proposal, token, expired, 422, errors=errors
                )
            document_sha256 = await conn.fetchval(
                "SELECT sha256 FROM documents WHERE key = $1", proposal["document_key"]
            )
        await state.temporal.get_workflow_handle(proposal_workflow_id(str(proposal["id"]))).signal(
            ProposalWorkflow.sign,
            SignProposal(
                signer_name=signer_name.strip(),
                signer_email=signer_email.strip(),
                signed_at=datetime.now(UTC),
                document_sha256=document_sha256 or "",
                consent_text=CONSENT_TEXT[locale],
                ip=_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
        return _page(state, "pages/sign_done.html", locale, name=signer_name.strip())

    @app.post("/sign/{token}/decline", response_class=HTMLResponse, include_in_schema=False)
    async def decline(
        token: str,
        request: Request,
        state: State,
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> HTMLResponse:
        async with state.pool.acquire() as conn:
            proposal, expired = await _proposal_for_token(conn, token)
            if expired or proposal["status"] != ProposalStatus.SENT:
                return await _render_sign_page(state, conn, proposal, token, expired, 409)
            locale = pick_locale((await store.client(conn, proposal["client_id"]))["locale"])
        await state.temporal.get_workflow_handle(proposal_workflow_id(str(proposal["id"]))).signal(
            ProposalWorkflow.decline,
            DeclineProposal(
                reason=reason.strip(),
                declined_at=datetime.now(UTC),
                ip=_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
        return _page(state, "pages/sign_declined.html", locale)


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def _proposal_for_token(conn: store.Connection, token: str) -> tuple[asyncpg.Record, bool]:
    """The proposal a signing token opens. An unknown token says nothing about what exists."""
    row = await conn.fetchrow(
        "SELECT * FROM access_tokens WHERE token_hash = $1 AND purpose = 'sign'",
        store.hash_token(token),
    )
    if row is None:
        raise HTTPException(404, "not found")
    proposal = await store.proposal(conn, row["proposal_id"])
    return proposal, row["expires_at"] <= datetime.now(UTC)


async def _render_sign_page(
    state: Q2CState,
    conn: store.Connection,
    proposal: asyncpg.Record,
    token: str,
    expired: bool,
    status_code: int = 200,
    errors: list[str] | None = None,
) -> HTMLResponse:
    from activities.documents import document_context

    lines = await store.lines(conn, "proposal_lines", "proposal_id", proposal["id"])
    context = await document_context(conn, proposal, lines, "proposal")
    closed_as = None
    if proposal["status"] != ProposalStatus.SENT:
        closed_as = proposal["status"]
    elif expired:
        closed_as = ProposalStatus.EXPIRED.value
    html = state.pages.get_template("pages/sign.html").render(
        **context,
        token=token,
        closed_as=closed_as,
        errors=errors or [],
        consent_text=CONSENT_TEXT[context["locale"]],
    )
    return HTMLResponse(html, status_code=status_code)


def _page(state: Q2CState, template: str, locale: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        state.pages.get_template(template).render(locale=locale, t=labels(locale), **context)
    )
