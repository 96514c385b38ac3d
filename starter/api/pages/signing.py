"""The client's signing page: read the proposal, sign it (typed name, optional drawn
signature) or decline it, then fetch the signed PDF.

A signing link opens one proposal and nothing else. Its token is single-use for answering:
the first sign or decline claims it with a conditional UPDATE before the workflow is
signalled, so a second attempt is refused even before the workflow has processed the
first. A used or expired link still shows the proposal, its state and its documents.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import struct
import zlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from activities.documents import document_context, store_document
from activities.events import emit_proposal
from db import clients, companies, documents, proposals, signatures, signing, store, views
from db.rows import ProposalRow
from domain.i18n import format_day, labels, pick_locale
from domain.link_policy import (
    LINK_CLOSED_MESSAGE,
    MAX_VIEWS_PER_WINDOW,
    VIEW_WINDOW,
    link_shows_document,
    proposal_closed_at,
    visitor_key,
)
from domain.parties import parties_of
from domain.status import ProposalStatus
from messages.models import DeclineProposal, SignProposal, proposal_workflow_id
from starter.api.deps import Q2CState, State, client_ip, get_state
from starter.api.operations import log
from workflows.proposal import ProposalWorkflow

CONSENT_TEXT = {
    "en": "I have read this proposal and I accept it; typing my name is my electronic signature.",
    "ro": "Am citit această ofertă și o accept; numele meu tastat constituie semnătura mea "
    "electronică.",
    "ru": "Я ознакомился с предложением и принимаю его; введённое мной имя является моей "
    "электронной подписью.",
}

# The drawn signature arrives as a PNG data URL in a hidden form field.
PNG_DATA_URL_PREFIX = "data:image/png;base64,"
SIGNATURE_MAX_BYTES = 200 * 1024
SIGNATURE_FIELD_MAX = len(PNG_DATA_URL_PREFIX) + 4 * (SIGNATURE_MAX_BYTES // 3 + 1)
SIGNATURE_MAX_SIDE = 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Enough to catch a typo; the address is evidence shown on the certificate, not a mailbox.
EMAIL = re.compile(r"[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+")

# Seconds between reloads of a page that waits for the workflow.
REFRESH_SECONDS = 3


class LinkNotFound(Exception):
    """An unknown signing token: answered with a 404 that names nothing."""


class LinkClosed(Exception):
    """A link whose proposal closed too long ago: answered with a short 410 page."""

    def __init__(self, locale: str) -> None:
        self.locale = locale


@dataclass(frozen=True)
class SigningLink:
    proposal: ProposalRow
    expired: bool
    # The link already answered (signed or declined) — the workflow may not know it yet.
    used: bool


async def open_link(conn: store.Connection, token: str) -> SigningLink:
    """The proposal a signing token opens. An unknown token says nothing about what exists."""
    row = await signing.access_token(conn, store.hash_token(token), "sign")
    if row is None or row.proposal_id is None:
        raise LinkNotFound()
    proposal = await proposals.get(conn, row.proposal_id)
    return SigningLink(
        proposal=proposal,
        expired=row.expires_at <= datetime.now(UTC),
        used=row.used_at is not None,
    )


async def record_view(conn: store.Connection, proposal_id: Any, request: Request) -> None:
    """A 'viewed' audit event. The proposal row is locked (key share) before the audit
    chain's advisory lock, the order accept_proposal takes them in: the event's foreign key
    would otherwise wait for the row while holding the advisory lock that accept_proposal,
    holding the row, waits for — a deadlock whenever a view and a signature meet.
    A visitor's reloads within the view window record nothing more."""
    async with conn.transaction():
        await proposals.lock_key_share(conn, proposal_id)
        if not await claim_view(conn, request, proposal_id=proposal_id):
            return
        await store.audit(
            conn,
            "viewed",
            "client",
            datetime.now(UTC),
            proposal_id=proposal_id,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        # Only the first view makes an event (once per proposal), not every reload.
        await emit_proposal(conn, "proposal.viewed", proposal_id)


async def refuse_if_closed(state: Q2CState, conn: store.Connection, link: SigningLink) -> None:
    """Raise LinkClosed once the proposal closed more than the configured days ago."""
    proposal = link.proposal
    closed_at = proposal_closed_at(
        proposal.status,
        proposal.signed_at,
        proposal.declined_at,
        proposal.expired_at,
        proposal.converted_at,
    )
    days = state.settings.sign_link_days_after_close
    if not link_shows_document(closed_at, datetime.now(UTC), days):
        raise LinkClosed(await client_locale(conn, proposal))


async def claim_view(
    conn: store.Connection, request: Request, *, proposal_id: Any = None, invoice_id: Any = None
) -> bool:
    """Whether this load of a client page goes into the audit trail (db.views.claim_view)."""
    return await views.claim_view(
        conn,
        visitor=visitor_key(client_ip(request), request.headers.get("user-agent", "")),
        at=datetime.now(UTC),
        window=VIEW_WINDOW,
        per_document_limit=MAX_VIEWS_PER_WINDOW,
        proposal_id=proposal_id,
        invoice_id=invoice_id,
    )


def answerable(link: SigningLink) -> bool:
    return not link.expired and not link.used and link.proposal.status == ProposalStatus.SENT


async def claim_link(conn: store.Connection, token: str) -> bool:
    """Mark the link used, if nobody has yet and it is still valid: exactly one answer wins."""
    return await signing.claim_signing_token(conn, store.hash_token(token))


async def release_link(state: Q2CState, token: str) -> None:
    """Give the link back when its answer never reached the workflow."""
    async with state.pool.acquire() as conn:
        await signing.release_signing_token(conn, store.hash_token(token))


async def deliver(
    state: Q2CState,
    proposal: ProposalRow,
    token: str,
    signal: Any,
    answer: SignProposal | DeclineProposal,
) -> bool:
    """Signal the proposal's workflow; on failure the link is released for another try."""
    handle = state.temporal.get_workflow_handle(proposal_workflow_id(str(proposal.id)))
    try:
        await handle.signal(signal, answer)
    except Exception:
        log.exception("could not signal the workflow of proposal %s", proposal.id)
        await release_link(state, token)
        return False
    return True


def signature_png(data_url: str) -> bytes | None:
    """The PNG bytes of a drawn signature, or None unless it really is a small, whole PNG:
    the signature bytes, an IHDR first, every chunk's CRC right, IEND last, nothing after."""
    if not data_url.startswith(PNG_DATA_URL_PREFIX):
        return None
    try:
        content = base64.b64decode(data_url[len(PNG_DATA_URL_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(content) > SIGNATURE_MAX_BYTES or not content.startswith(PNG_MAGIC):
        return None
    position, first, last = len(PNG_MAGIC), True, b""
    while position < len(content):
        if position + 12 > len(content):
            return None
        length, kind = struct.unpack(">I4s", content[position : position + 8])
        end = position + 8 + length
        if end + 4 > len(content):
            return None
        data = content[position + 8 : end]
        (crc,) = struct.unpack(">I", content[end : end + 4])
        if zlib.crc32(kind + data) != crc:
            return None
        if first:
            if kind != b"IHDR" or length != 13:
                return None
            width, height = struct.unpack(">II", data[:8])
            if not (0 < width <= SIGNATURE_MAX_SIDE and 0 < height <= SIGNATURE_MAX_SIDE):
                return None
            first = False
        last = kind
        position = end + 4
        if kind == b"IEND":
            break
    if last != b"IEND" or position != len(content):
        return None
    return content


async def store_signature_image(conn: store.Connection, proposal_id: Any, image: bytes) -> str:
    stored = await store_document(conn, f"signature/{proposal_id}.png", image)
    await signing.mark_document_png(conn, stored.key)
    return stored.key


async def client_locale(conn: store.Connection, proposal: ProposalRow) -> str:
    issued = parties_of(proposal.issued_parties)
    if issued is not None:  # the language it was sent in
        return pick_locale(issued.buyer.locale)
    return pick_locale((await clients.get(conn, proposal.client_id)).locale)


async def document_content(conn: store.Connection, key: str | None) -> bytes | None:
    if key is None:
        return None
    document = await documents.content_of(conn, key)
    return document.content if document is not None else None


def closed_as(link: SigningLink) -> str | None:
    """What the page shows instead of the form: signed, declined, expired, or pending (the
    link was answered and the workflow has not recorded it yet); None while it can be
    answered."""
    status = link.proposal.status
    if status != ProposalStatus.SENT:
        return str(status)
    if link.used:
        return "pending"
    if link.expired:
        return ProposalStatus.EXPIRED.value
    return None


async def render_sign_page(
    state: Q2CState,
    conn: store.Connection,
    link: SigningLink,
    token: str,
    status_code: int = 200,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    await refuse_if_closed(state, conn, link)
    proposal = link.proposal
    lines = await store.lines(conn, "proposal_lines", "proposal_id", proposal.id)
    context = await document_context(conn, proposal, lines, "proposal")
    state_now = closed_as(link)
    signed_by = None
    if state_now == ProposalStatus.SIGNED:
        signature = await signatures.of_proposal(conn, proposal.id)
        if signature is not None:
            signed_on = signature.signed_at.astimezone(ZoneInfo(context["seller"]["time_zone"]))
            signed_by = context["t"]["signed_by"].format(
                name=signature.signer_name, date=format_day(signed_on.date(), context["locale"])
            )
    nonce = secrets.token_urlsafe(16)
    html = state.pages.get_template("pages/sign.html").render(
        **context,
        token=token,
        closed_as=state_now,
        refresh=REFRESH_SECONDS if state_now == "pending" else None,
        signed_by=signed_by,
        decline_reason=proposal.decline_reason or "",
        payment_terms_days=proposal.payment_terms_days,
        errors=errors or [],
        form=form or {"signer_name": "", "signer_email": context["buyer"]["email"]},
        consent_text=CONSENT_TEXT[context["locale"]],
        csp_nonce=nonce,
    )
    return page_response(html, status_code, nonce)


def render(
    state: Q2CState, template: str, locale: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    html = state.pages.get_template(template).render(locale=locale, t=labels(locale), **context)
    return page_response(html, status_code)


def unavailable(state: Q2CState, locale: str) -> HTMLResponse:
    return render(
        state,
        "pages/message.html",
        locale,
        status_code=503,
        message_id="unavailable",
        message=labels(locale)["try_again"],
    )


def security_headers(nonce: str | None = None) -> dict[str, str]:
    """The link's token is in the URL: no referrer leaves, no cache keeps the page, no
    other site frames it, and only the page's own script runs."""
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "X-Robots-Tag": "noindex, nofollow",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    }


def page_response(html: str, status_code: int, nonce: str | None = None) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=security_headers(nonce))


def pdf_response(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={**security_headers(), "Content-Disposition": f'inline; filename="{filename}"'},
    )


router = APIRouter()


# Registered on the app by create_app (a router cannot hold exception handlers).
async def unknown_link(request: Request, _: LinkNotFound) -> HTMLResponse:
    html = get_state(request).pages.get_template("pages/not_found.html").render()
    return page_response(html, 404)


async def closed_link(request: Request, closed: LinkClosed) -> HTMLResponse:
    state = get_state(request)
    message = LINK_CLOSED_MESSAGE[pick_locale(closed.locale)]
    return render(
        state, "pages/message.html", closed.locale, 410, message_id="closed", message=message
    )


@router.get("/sign/{token}", response_class=HTMLResponse, include_in_schema=False)
async def sign_page(token: str, request: Request, state: State) -> HTMLResponse:
    async with state.pool.acquire() as conn:
        link = await open_link(conn, token)
        await refuse_if_closed(state, conn, link)
        await record_view(conn, link.proposal.id, request)
        return await render_sign_page(state, conn, await open_link(conn, token), token)


@router.post("/sign/{token}", response_class=HTMLResponse, include_in_schema=False)
async def sign(
    token: str,
    request: Request,
    state: State,
    signer_name: Annotated[str, Form(max_length=200)] = "",
    signer_email: Annotated[str, Form(max_length=300)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    signature: Annotated[str, Form(max_length=SIGNATURE_FIELD_MAX)] = "",
) -> HTMLResponse:
    signer_name, signer_email = signer_name.strip(), signer_email.strip()
    async with state.pool.acquire() as conn:
        link = await open_link(conn, token)
        proposal = link.proposal
        if not answerable(link):
            return await render_sign_page(state, conn, link, token, 409)
        errors = []
        if not signer_name:
            errors.append("signer_name")
        if signer_email and not EMAIL.fullmatch(signer_email):
            errors.append("signer_email")
        if consent not in ("yes", "on", "true"):
            errors.append("consent")
        image = None
        if signature:
            image = signature_png(signature)
            if image is None:
                errors.append("signature")
        if errors:
            return await render_sign_page(
                state,
                conn,
                link,
                token,
                422,
                errors=errors,
                form={"signer_name": signer_name, "signer_email": signer_email},
            )
        locale = await client_locale(conn, proposal)
        seller = await companies.get(conn, proposal.company_id)
        # The document the page shows and the signer read, byte for byte.
        document_sha256 = await documents.sha256_of(conn, proposal.document_key)
        answer = SignProposal(
            signer_name=signer_name,
            signer_email=signer_email,
            signed_at=datetime.now(UTC),
            document_sha256=document_sha256 or "",
            consent_text=CONSENT_TEXT[locale],
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        async with conn.transaction():
            if not await claim_link(conn, token):
                # Another answer got here first; show what the link shows now.
                return await render_sign_page(state, conn, await open_link(conn, token), token, 409)
            if image is not None:
                answer.signature_image_key = await store_signature_image(conn, proposal.id, image)
            answer.answer_id = await signing.record_signature(
                conn, proposal.id, answer, token_hash=store.hash_token(token)
            )
    if not await deliver(state, proposal, token, ProposalWorkflow.sign, answer):
        return unavailable(state, locale)
    return render(
        state,
        "pages/sign_done.html",
        locale,
        name=signer_name,
        token=token,
        seller=asdict(seller),
    )


@router.post("/sign/{token}/decline", response_class=HTMLResponse, include_in_schema=False)
async def decline(
    token: str,
    request: Request,
    state: State,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    async with state.pool.acquire() as conn:
        link = await open_link(conn, token)
        proposal = link.proposal
        answer = DeclineProposal(
            reason=reason.strip(),
            declined_at=datetime.now(UTC),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        async with conn.transaction():
            if not answerable(link) or not await claim_link(conn, token):
                return await render_sign_page(state, conn, await open_link(conn, token), token, 409)
            answer.answer_id = await signing.record_decline(
                conn, proposal.id, answer, token_hash=store.hash_token(token)
            )
        locale = await client_locale(conn, proposal)
        seller = await companies.get(conn, proposal.company_id)
    if not await deliver(state, proposal, token, ProposalWorkflow.decline, answer):
        return unavailable(state, locale)
    return render(
        state,
        "pages/sign_declined.html",
        locale,
        token=token,
        reason=answer.reason,
        seller=asdict(seller),
    )


@router.get("/sign/{token}/document.pdf", include_in_schema=False)
async def proposal_pdf(token: str, state: State) -> Response:
    """The exact PDF that was emailed, and whose SHA-256 a signature records."""
    async with state.pool.acquire() as conn:
        link = await open_link(conn, token)
        await refuse_if_closed(state, conn, link)
        content = await document_content(conn, link.proposal.document_key)
    if content is None:
        raise LinkNotFound()
    return pdf_response(content, "proposal.pdf")


@router.get("/sign/{token}/signed.pdf", include_in_schema=False)
async def signed_pdf(token: str, state: State) -> Response:
    """The proposal PDF with its signature certificate, once the workflow has made it."""
    async with state.pool.acquire() as conn:
        link = await open_link(conn, token)
        await refuse_if_closed(state, conn, link)
        proposal = link.proposal
        content = await document_content(conn, proposal.signed_document_key)
        if content is not None:
            return pdf_response(content, "proposal-signed.pdf")
        locale = await client_locale(conn, proposal)
        seller = await companies.get(conn, proposal.company_id)
    t = labels(locale)
    being_signed = proposal.status == ProposalStatus.SIGNED or (
        link.used and proposal.status == ProposalStatus.SENT
    )
    if being_signed:
        return render(
            state,
            "pages/message.html",
            locale,
            status_code=202,
            message_id="preparing",
            message=t["signed_pdf_preparing"],
            refresh=REFRESH_SECONDS,
            token=token,
            seller=asdict(seller),
        )
    return render(
        state,
        "pages/message.html",
        locale,
        status_code=404,
        message_id="not-signed",
        message=t["not_signed"],
        token=token,
        seller=asdict(seller),
    )
