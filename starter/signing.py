"""The client's signing page: read the proposal, sign it or decline it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from activities import store
from domain.i18n import labels, pick_locale
from domain.status import ProposalStatus
from starter.operations import Q2CState, State
from workflows.proposal import ProposalWorkflow
from workflows.shared import DeclineProposal, SignProposal, proposal_workflow_id

CONSENT_TEXT = {
    "en": "I have read this proposal and I accept it; typing my name is my electronic signature.",
    "ro": "Am citit această ofertă și o accept; numele meu tastat constituie semnătura mea "
    "electronică.",
    "ru": "Я ознакомился с предложением и принимаю его; введённое мной имя является моей "
    "электронной подписью.",
}


def add_signing_routes(app: FastAPI) -> None:
    @app.get("/sign/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def sign_page(token: str, request: Request, state: State) -> HTMLResponse:
        async with state.pool.acquire() as conn:
            proposal, expired = await proposal_for_token(conn, token)
            await store.audit(
                conn,
                "viewed",
                "client",
                datetime.now(UTC),
                proposal_id=proposal["id"],
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
            return await render_sign_page(state, conn, proposal, token, expired)

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
            proposal, expired = await proposal_for_token(conn, token)
            if expired or proposal["status"] != ProposalStatus.SENT:
                return await render_sign_page(state, conn, proposal, token, expired, 409)
            locale = pick_locale((await store.client(conn, proposal["client_id"]))["locale"])
            errors = []
            if not signer_name.strip():
                errors.append("signer_name")
            if consent not in ("yes", "on", "true"):
                errors.append("consent")
            if errors:
                return await render_sign_page(
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
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
        return page(state, "pages/sign_done.html", locale, name=signer_name.strip())

    @app.post("/sign/{token}/decline", response_class=HTMLResponse, include_in_schema=False)
    async def decline(
        token: str,
        request: Request,
        state: State,
        reason: Annotated[str, Form(max_length=2000)] = "",
    ) -> HTMLResponse:
        async with state.pool.acquire() as conn:
            proposal, expired = await proposal_for_token(conn, token)
            if expired or proposal["status"] != ProposalStatus.SENT:
                return await render_sign_page(state, conn, proposal, token, expired, 409)
            locale = pick_locale((await store.client(conn, proposal["client_id"]))["locale"])
        await state.temporal.get_workflow_handle(proposal_workflow_id(str(proposal["id"]))).signal(
            ProposalWorkflow.decline,
            DeclineProposal(
                reason=reason.strip(),
                declined_at=datetime.now(UTC),
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            ),
        )
        return page(state, "pages/sign_declined.html", locale)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def proposal_for_token(conn: store.Connection, token: str) -> tuple[asyncpg.Record, bool]:
    """The proposal a signing token opens. An unknown token says nothing about what exists."""
    row = await conn.fetchrow(
        "SELECT * FROM access_tokens WHERE token_hash = $1 AND purpose = 'sign'",
        store.hash_token(token),
    )
    if row is None:
        raise HTTPException(404, "not found")
    proposal = await store.proposal(conn, row["proposal_id"])
    return proposal, row["expires_at"] <= datetime.now(UTC)


async def render_sign_page(
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


def page(state: Q2CState, template: str, locale: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        state.pages.get_template(template).render(locale=locale, t=labels(locale), **context)
    )
