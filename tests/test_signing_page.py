"""The signing page's security: what a link opens, what a guess gets, single use, escaping,
the drawn signature's checks, and the signed PDF's link before and after it exists."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.schedule import overdue_at
from messages.models import proposal_workflow_id
from starter.api.pages.signing import PNG_MAGIC, signature_png
from tests.conftest import Stack
from tests.helpers import (
    SIGN_LINK,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    pdf_text,
    proposal_email,
)

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# Words that would tell a guesser a document exists, in the three locales.
REVEALING = re.compile(r"proposal|invoice|ofert|factur|предлож|сч[её]т", re.IGNORECASE)


def png(width: int = 4, height: int = 2, *, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    pixels = b"".join(b"\x00" + b"\x10\x20\x40\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        PNG_MAGIC
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels) if idat is None else idat)
        + chunk(b"IEND", b"")
    )


def data_url(content: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(content).decode()


async def sign_path_for(stack: Stack, **client: Any) -> tuple[str, str]:
    """A new client and proposal: (proposal id, signing path from the real email)."""
    proposal = await create_proposal(stack, await create_client(stack, **client))
    _, path = await proposal_email(stack, client.get("email", "plati@exemplu.ro"))
    return proposal["id"], path


async def token_row(stack: Stack, path: str) -> Any:
    token = path.rsplit("/", 1)[1]
    return await stack.db.fetchrow(
        "SELECT * FROM access_tokens WHERE token_hash = $1",
        hashlib.sha256(token.encode()).hexdigest(),
    )


def sign_form(name: str = "Ana Pop", **extra: str) -> dict[str, str]:
    return {"signer_name": name, "consent": "yes"} | extra


async def wait_status(stack: Stack, proposal_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return proposal if proposal["status"] == status else None

    return await eventually(probe, what=f"proposal {proposal_id} to be {status}")


# --- guessed links ---------------------------------------------------------------------


async def test_a_guessed_token_gets_a_404_that_names_nothing(stack: Stack) -> None:
    await sign_path_for(stack)  # a document exists: a guess must not be able to tell
    bodies = set()
    for guess in ("not-a-real-token", secrets.token_urlsafe(32)):
        for method, path in (
            ("GET", f"/sign/{guess}"),
            ("GET", f"/sign/{guess}/document.pdf"),
            ("GET", f"/sign/{guess}/signed.pdf"),
            ("POST", f"/sign/{guess}"),
            ("POST", f"/sign/{guess}/decline"),
        ):
            data = sign_form() if method == "POST" else None
            response = await stack.api.request(method, path, data=data)
            assert response.status_code == 404, (method, path)
            assert not REVEALING.search(response.text), response.text
            assert response.headers["cache-control"] == "no-store"
            bodies.add(response.text)
    assert len(bodies) == 1, "every guess gets the very same answer"
    assert await stack.db.fetchval("SELECT count(*) FROM audit_events WHERE kind='viewed'") == 0


async def test_tokens_are_random_stored_hashed_and_expire_with_the_validity(stack: Stack) -> None:
    proposal_id, path = await sign_path_for(stack)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits of secrets.token_urlsafe
    row = await token_row(stack, path)
    assert row is not None and row["token_hash"] != token and row["used_at"] is None
    assert (
        await stack.db.fetchval("SELECT count(*) FROM access_tokens WHERE token_hash = $1", token)
        == 0
    ), "the token itself is never stored"
    proposal = await stack.db.fetchrow("SELECT * FROM proposals WHERE id = $1", proposal_id)
    assert proposal is not None
    assert row["expires_at"] == overdue_at(proposal["valid_until"], "Europe/Bucharest")

    # Past its expiry the link still shows the proposal, says it expired, and signs nothing.
    await stack.db.execute(
        "UPDATE access_tokens SET expires_at = $2 WHERE token_hash = $1",
        row["token_hash"],
        datetime.now(UTC) - timedelta(seconds=1),
    )
    page = await stack.api.get(path)
    assert page.status_code == 200 and "a expirat" in page.text
    assert 'name="signer_name"' not in page.text
    refused = await stack.api.post(path, data=sign_form())
    assert refused.status_code == 409 and "a expirat" in refused.text
    assert (await stack.api.post(f"{path}/decline", data={"reason": "x"})).status_code == 409
    assert (await token_row(stack, path))["used_at"] is None
    assert (await get_json(stack, f"/api/v1/proposals/{proposal_id}"))["status"] == "sent"


# --- one link, one document --------------------------------------------------------------


async def test_a_link_opens_its_own_proposal_and_documents_only(stack: Stack) -> None:
    a_id, a_path = await sign_path_for(stack)
    a_mail, _ = await proposal_email(stack)
    b_proposal = await create_proposal(
        stack,
        await create_client(stack, name="Beta SA", email="b@beta.ro"),
        lines=[{"description": "Audit B", "quantity": "1", "unit_price": "99", "vat_rate": "21"}],
    )
    b_mail, b_path = await proposal_email(stack, "b@beta.ro")
    assert a_path != b_path

    a_page, b_page = await stack.api.get(a_path), await stack.api.get(b_path)
    assert "Exemplu SRL" in a_page.text and "Beta SA" not in a_page.text
    assert "Audit B" in b_page.text and "Consultanță juridică" not in b_page.text

    # document.pdf is the exact PDF emailed with that link, and only that one.
    a_pdf, b_pdf = (
        await stack.api.get(f"{a_path}/document.pdf"),
        await stack.api.get(f"{b_path}/document.pdf"),
    )
    assert a_pdf.headers["content-type"] == "application/pdf"
    assert a_pdf.content == attachment(a_mail)[1] and b_pdf.content == attachment(b_mail)[1]
    assert a_pdf.content != b_pdf.content

    # Signing A gives A's link A's signed PDF; B's link never gets it.
    assert (await stack.api.post(a_path, data=sign_form("Ana A"))).status_code == 200
    await wait_status(stack, a_id, "signed")
    b_signed = await stack.api.get(f"{b_path}/signed.pdf")
    assert b_signed.status_code == 404 and b_signed.headers["content-type"].startswith("text/html")
    assert "nu a fost semnată" in b_signed.text

    async def a_signed_pdf() -> bytes | None:
        response = await stack.api.get(f"{a_path}/signed.pdf")
        return response.content if response.status_code == 200 else None

    content = await eventually(a_signed_pdf, what="A's signed PDF")
    text = pdf_text(content)
    assert "Consultanță juridică" in text and "Ana A" in text
    assert "Audit B" not in text and "Beta SA" not in text
    assert (await stack.api.get(f"{b_path}/signed.pdf")).status_code == 404

    # A's link can answer for A only: B is still open, and B's link still signs B.
    assert (await get_json(stack, f"/api/v1/proposals/{b_proposal['id']}"))["status"] == "sent"
    assert (await stack.api.post(b_path, data=sign_form("Bob B"))).status_code == 200
    await wait_status(stack, b_proposal["id"], "signed")
    names = await stack.db.fetch("SELECT proposal_id, signer_name FROM signatures")
    assert {(str(row["proposal_id"]), row["signer_name"]) for row in names} == {
        (a_id, "Ana A"),
        (b_proposal["id"], "Bob B"),
    }

    # A link made for an invoice page is no signing link.
    invoice_id = (await get_json(stack, f"/api/v1/proposals/{a_id}"))["invoice_id"]
    from db import store

    async with stack.db.acquire() as conn:
        invoice_token = await store.new_access_token(
            conn, "invoice", datetime.now(UTC) + timedelta(days=1), invoice_id=invoice_id
        )
    assert (await stack.api.get(f"/sign/{invoice_token}")).status_code == 404
    assert (await stack.api.get(f"/sign/{invoice_token}/signed.pdf")).status_code == 404


# --- single use ---------------------------------------------------------------------------


async def test_a_link_signs_once_even_before_the_workflow_has_recorded_it(stack: Stack) -> None:
    proposal_id, path = await sign_path_for(stack)
    first, second = await asyncio.gather(
        stack.api.post(path, data=sign_form("Ana Pop")),
        stack.api.post(path, data=sign_form("Mallory")),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = "Ana Pop" if first.status_code == 200 else "Mallory"
    refused = first if first.status_code == 409 else second
    assert 'name="signer_name"' not in refused.text

    # Straight after: no form, whether or not the workflow has caught up; no second answer.
    page = await stack.api.get(path)
    assert page.status_code == 200 and 'name="signer_name"' not in page.text
    assert (await stack.api.post(path, data=sign_form("Late"))).status_code == 409
    assert (await stack.api.post(f"{path}/decline", data={"reason": "no"})).status_code == 409

    await wait_status(stack, proposal_id, "signed")
    rows = await stack.db.fetch("SELECT signer_name FROM signatures")
    assert [row["signer_name"] for row in rows] == [winner]
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 1
    assert (await stack.api.post(path, data=sign_form("Later"))).status_code == 409

    # The used link still shows the proposal, who signed, and its documents.
    page = await stack.api.get(path)
    assert "Această ofertă a fost deja semnată." in page.text and winner in page.text
    assert (await stack.api.get(f"{path}/document.pdf")).status_code == 200


async def test_an_answer_the_workflow_never_got_gives_the_link_back(stack: Stack) -> None:
    proposal_id, path = await sign_path_for(stack)
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal_id))
    await handle.terminate("test: the workflow is gone")
    unavailable = await stack.api.post(path, data=sign_form())
    assert unavailable.status_code == 503 and 'id="unavailable"' in unavailable.text
    assert (await token_row(stack, path))["used_at"] is None, "the link can be used again"
    assert await stack.db.fetchval("SELECT count(*) FROM signatures") == 0


async def test_the_signed_pdf_link_says_wait_until_the_pdf_exists(stack: Stack) -> None:
    proposal_id, path = await sign_path_for(stack)
    not_signed = await stack.api.get(f"{path}/signed.pdf")
    assert not_signed.status_code == 404 and "nu a fost semnată" in not_signed.text

    # An answer taken by the page that the workflow has not recorded yet.
    row = await token_row(stack, path)
    await stack.db.execute(
        "UPDATE access_tokens SET used_at = now() WHERE token_hash = $1", row["token_hash"]
    )
    waiting = await stack.api.get(f"{path}/signed.pdf")
    assert waiting.status_code == 202 and waiting.headers["content-type"].startswith("text/html")
    assert 'http-equiv="refresh"' in waiting.text and "în curs de pregătire" in waiting.text
    page = await stack.api.get(path)
    assert page.status_code == 200 and 'id="closed" data-state="pending"' in page.text
    assert 'http-equiv="refresh"' in page.text and 'name="signer_name"' not in page.text
    assert (await stack.api.post(path, data=sign_form())).status_code == 409
    assert (await get_json(stack, f"/api/v1/proposals/{proposal_id}"))["status"] == "sent"


# --- the drawn signature ------------------------------------------------------------------


def test_only_a_whole_small_png_is_taken_as_a_signature() -> None:
    good = png()
    assert signature_png(data_url(good)) == good
    assert signature_png(data_url(good, "image/gif")) is None
    assert signature_png("data:image/png;base64,not base64!") is None
    assert signature_png(data_url(b"GIF89a" + good[6:])) is None
    assert signature_png(data_url(good + b"<script>")) is None, "nothing after IEND"
    assert signature_png(data_url(good[:-4] + b"\0\0\0\0")) is None, "a chunk's CRC is checked"
    assert signature_png(data_url(good[:30])) is None, "a truncated file"
    assert signature_png(data_url(png(width=100_000))) is None, "an absurd size"
    big = png(idat=secrets.token_bytes(201 * 1024))
    assert signature_png(data_url(big)) is None, "over 200 KB"


@pytest.mark.parametrize(
    "signature",
    [data_url(b"<svg onload=alert(1)>", "image/png"), data_url(png() + b"trailing")],
)
async def test_a_bad_drawn_signature_is_refused_and_nothing_is_kept(
    stack: Stack, signature: str
) -> None:
    proposal_id, path = await sign_path_for(stack)
    refused = await stack.api.post(path, data=sign_form(signature=signature))
    assert refused.status_code == 422 and 'id="error-signature"' in refused.text
    assert 'value="Ana Pop"' in refused.text, "what was typed is kept"
    assert (await token_row(stack, path))["used_at"] is None
    assert (
        await stack.db.fetchval("SELECT count(*) FROM documents WHERE key LIKE 'signature/%'") == 0
    )

    too_big = data_url(png(idat=secrets.token_bytes(210 * 1024)))
    assert (await stack.api.post(path, data=sign_form(signature=too_big))).status_code == 422
    assert (await token_row(stack, path))["used_at"] is None

    signed = await stack.api.post(path, data=sign_form(signature=data_url(png())))
    assert signed.status_code == 200
    await wait_status(stack, proposal_id, "signed")
    key = await stack.db.fetchval(
        "SELECT signature_image_key FROM signatures WHERE proposal_id = $1", proposal_id
    )
    assert key == f"signature/{proposal_id}.png"
    stored = await stack.db.fetchrow("SELECT * FROM documents WHERE key = $1", key)
    assert stored is not None
    assert bytes(stored["content"]) == png() and stored["content_type"] == "image/png"


async def test_form_errors_name_the_field(stack: Stack) -> None:
    _, path = await sign_path_for(stack)
    missing = await stack.api.post(path, data={"signer_name": " ", "signer_email": "nope"})
    assert missing.status_code == 422
    for field in ("signer_name", "signer_email", "consent"):
        assert f'id="error-{field}"' in missing.text, field
    assert (await token_row(stack, path))["used_at"] is None


# --- locales ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "title", "button", "total", "terms"),
    [
        ("en", "Proposal from q2c Demo SRL", "Sign the proposal", "4,114.00", "14 days"),
        (
            "ru",
            "Коммерческое предложение от q2c Demo SRL",
            "Подписать предложение",
            "4 114,00 RON",
            "14 дн.",
        ),
    ],
)
async def test_the_page_speaks_the_clients_language(
    stack: Stack, locale: str, title: str, button: str, total: str, terms: str
) -> None:
    email = f"{locale}@example.com"
    await create_proposal(stack, await create_client(stack, locale=locale, email=email))
    message = await stack.mail.wait_for(lambda m: m["To"] == email, timeout=20)
    body = message.get_body(("plain",))
    assert body is not None
    match = SIGN_LINK.search(body.get_content())
    assert match is not None
    page = await stack.api.get(match.group(1))
    text = page.text.replace("\xa0", " ").replace("\u202f", " ")
    assert f'<html lang="{locale}">' in text
    assert title in text and button in text and total in text and terms in text


# --- escaping -----------------------------------------------------------------------------


def assert_escaped(html: str, where: str) -> None:
    assert XSS not in html, f"raw script tag on {where}"
    assert XSS_ESCAPED in html, f"the escaped text is missing on {where}"


async def test_free_text_is_shown_escaped_on_every_page(stack: Stack) -> None:
    client_id = await create_client(stack, name=XSS, address=XSS)
    lines = [
        {"description": XSS, "quantity": "1", "unit": "<i>u", "unit_price": "10", "vat_rate": "21"}
    ]
    proposal = await create_proposal(stack, client_id, lines=lines, notes=XSS)
    _, path = await proposal_email(stack)

    page = await stack.api.get(path)
    assert_escaped(page.text, "the signing page")
    assert page.text.count(XSS_ESCAPED) >= 4  # client name, address, line, notes
    assert "<i>u" not in page.text and "&lt;i&gt;u" in page.text

    retyped = await stack.api.post(path, data={"signer_name": XSS, "signer_email": XSS})
    assert retyped.status_code == 422
    assert_escaped(retyped.text, "the form shown again with its errors")
    assert f'value="{XSS}"' not in retyped.text

    done = await stack.api.post(path, data=sign_form(XSS))
    assert done.status_code == 200
    assert_escaped(done.text, "the confirmation")
    await wait_status(stack, proposal["id"], "signed")
    closed = await stack.api.get(path)
    assert_escaped(closed.text, "the signed proposal's page")
    assert 'id="signed-by"' in closed.text

    # The decline reason, on a second proposal.
    await create_proposal(stack, await create_client(stack, email="d@exemplu.ro"))
    _, declining = await proposal_email(stack, "d@exemplu.ro")
    declined = await stack.api.post(f"{declining}/decline", data={"reason": XSS})
    assert declined.status_code == 200
    assert_escaped(declined.text, "the decline confirmation")
    row = await token_row(stack, declining)
    await wait_status(stack, str(row["proposal_id"]), "declined")
    closed = await stack.api.get(declining)
    assert_escaped(closed.text, "the declined proposal's page")
    assert 'id="decline-reason"' in closed.text


async def test_pages_carry_headers_that_keep_the_link_private(stack: Stack) -> None:
    _, path = await sign_path_for(stack)
    page = await stack.api.get(path)
    headers = page.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None and f'<script nonce="{nonce.group(1)}">' in page.text
    assert page.text.count("<script") == 1
    again = await stack.api.get(path)
    assert again.headers["content-security-policy"] != policy, "a fresh nonce per page"
    pdf = await stack.api.get(f"{path}/document.pdf")
    assert pdf.headers["referrer-policy"] == "no-referrer"
    assert pdf.headers["content-disposition"] == 'inline; filename="proposal.pdf"'
