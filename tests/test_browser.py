"""The signing page in a real browser: headless Debian Chromium driven by Playwright, over
real HTTP, from the link in the real proposal email.

Chromium is Debian's (`make browser` installs it); Playwright only drives it, through
`executable_path`: its own browser downloads are never used.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, ViewportSize, async_playwright
from pypdf import PdfReader, PdfWriter

from tests.conftest import Stack
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    get_json,
    pdf_text,
    proposal_email,
)

CHROMIUM = os.environ.get("Q2C_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Kept out of git by the folder's own .gitignore; CI keeps nothing.
SCREENSHOTS = Path(os.environ.get("Q2C_SCREENSHOTS", Path(__file__).parent / "screenshots"))
PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def live_url(stack: Stack) -> AsyncIterator[str]:
    """The stack's app served by uvicorn on a free port of 127.0.0.1, for the browser."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # The stack fixture already ran the app's lifespan (its state holds the test's pool
    # and Temporal client): this server must not run it again.
    server = uvicorn.Server(
        uvicorn.Config(stack.app, lifespan="off", log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(
            lambda: _started(server, serving), within=10, what="the HTTP server to listen"
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        listener.close()


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> bool:
    if serving.done():
        serving.result()  # raises what stopped it
        raise AssertionError("the HTTP server stopped before listening")
    return server.started


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_page(browser: Browser, viewport: ViewportSize, **options: Any) -> Page:
    context = await browser.new_context(viewport=viewport, **options)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return page


def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ignore = SCREENSHOTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return SCREENSHOTS


async def screenshot(page: Page, name: str) -> None:
    await page.screenshot(path=str(screenshots() / f"{name}.png"), full_page=True)


def keep(name: str, content: bytes) -> None:
    """A file worth looking at after the run, beside the screenshots."""
    (screenshots() / name).write_bytes(content)


async def text_of(page: Page, selector: str) -> str:
    # Babel puts a no-break space between amount and currency; a reader sees a space.
    return (await page.inner_text(selector)).replace("\xa0", " ").strip()


async def assert_no_horizontal_scroll(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the {page.viewport_size} screen"
    spilling = await page.evaluate(
        """[...document.querySelectorAll('.card')]
           .filter(card => card.scrollWidth > card.clientWidth).map(card => card.id)"""
    )
    assert spilling == [], f"content wider than its box at {page.viewport_size}: {spilling}"


async def draw(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw on the signature pad with the mouse; points are fractions of its size."""
    pad = page.locator("#signature-pad")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        await page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(
                box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6
            )
        await page.mouse.up()


async def draw_by_touch(page: Page, points: list[tuple[float, float]]) -> None:
    """One finger stroke on the signature pad, as a phone's touch events."""
    pad = page.locator("#signature-pad")
    await pad.scroll_into_view_if_needed()
    box = await pad.bounding_box()
    assert box is not None
    cdp = await page.context.new_cdp_session(page)
    for index, (x, y) in enumerate(points):
        kind = "touchStart" if index == 0 else "touchMove"
        point = {"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}
        await cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def proposal_id_of(stack: Stack, sign_path: str) -> str:
    value = await stack.db.fetchval(
        """SELECT proposal_id FROM access_tokens
           WHERE token_hash = encode(sha256($1::bytea), 'hex')""",
        sign_path.rsplit("/", 1)[1].encode(),
    )
    return str(value)


SIGNATURE_STROKES = [
    [(0.08, 0.7), (0.15, 0.3), (0.22, 0.72), (0.3, 0.35), (0.38, 0.68)],
    [(0.45, 0.6), (0.55, 0.3), (0.62, 0.65), (0.75, 0.4), (0.9, 0.55)],
]


async def test_sign_in_the_browser_from_the_emailed_link(
    stack: Stack, live_url: str, browser: Browser
) -> None:
    client_id = await create_client(stack)
    created = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    link = live_url + sign_path  # the emailed link, on the server the browser can reach
    proposal_id = await proposal_id_of(stack, sign_path)
    assert proposal_id == created["id"]

    # A phone: the page fits 375 px, and a finger can draw (and clear) a signature.
    phone = await open_page(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    await phone.goto(link)
    assert await phone.locator("html").get_attribute("lang") == "ro"
    assert await text_of(phone, "#total") == "4.114,00 RON"
    await assert_no_horizontal_scroll(phone)
    await screenshot(phone, "sign-375")
    await draw_by_touch(phone, [(0.1, 0.5), (0.3, 0.2), (0.5, 0.8), (0.8, 0.4)])
    drawn = await phone.input_value("#signature")
    assert drawn.startswith("data:image/png;base64,"), "a finger stroke fills the signature"
    await phone.click("#signature-clear")
    assert await phone.input_value("#signature") == ""
    await phone.context.close()

    # A desktop: read the totals, draw with the mouse, type the name, consent, sign.
    page = await open_page(browser, DESKTOP)
    response = await page.goto(link)
    assert response is not None and response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    await assert_no_horizontal_scroll(page)
    # 10 h x 250.00 + 1000.00 less 10 % = 3400.00 net; VAT 21 % = 714.00.
    assert await text_of(page, "#subtotal") == "3.400,00 RON"
    assert await text_of(page, "#totals .vat") == "714,00 RON"
    assert await text_of(page, "#total") == "4.114,00 RON"
    assert "Consultanță juridică" in await text_of(page, "#lines")
    assert "14 zile" in await text_of(page, "#payment-terms")
    pdf_link = await page.get_attribute("#document-pdf", "href")
    assert pdf_link == f"{sign_path}/document.pdf"
    await screenshot(page, "sign-1280")

    await draw(page, SIGNATURE_STROKES)
    signature_field = await page.input_value("#signature")
    assert signature_field.startswith("data:image/png;base64,")
    await page.fill("#signer_name", "Ana Pop")
    await page.check("#consent")
    await page.click("#sign-button")
    await page.wait_for_selector("#signed")
    assert "Ana Pop" in await text_of(page, "#signed")
    await screenshot(page, "signed-1280")

    # The workflow advanced: the proposal is signed and its draft invoice exists.
    async def signed() -> dict[str, Any] | None:
        proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return proposal if proposal["status"] == "signed" else None

    proposal = await eventually(signed, what="the proposal to be signed")
    assert proposal["invoice_id"]
    invoice = await get_json(stack, f"/api/v1/invoices/{proposal['invoice_id']}")
    assert invoice["proposal_id"] == proposal_id and invoice["total"] == "4114.00"
    assert invoice["number"] is None

    signature = await stack.db.fetchrow(
        "SELECT * FROM signatures WHERE proposal_id = $1", proposal_id
    )
    assert signature is not None and signature["signer_name"] == "Ana Pop"
    assert signature["signer_email"] == "plati@exemplu.ro"  # prefilled from the client
    assert signature["ip"] == "127.0.0.1" and "Chrome" in signature["user_agent"]
    assert signature["signature_image_key"] == f"signature/{proposal_id}.png"
    image = await stack.db.fetchrow(
        "SELECT content, content_type FROM documents WHERE key = $1",
        signature["signature_image_key"],
    )
    assert image is not None and bytes(image["content"]).startswith(PNG_MAGIC)
    assert image["content_type"] == "image/png"
    keep("signature.png", bytes(image["content"]))

    audit = await stack.api.get(f"/api/v1/proposals/{proposal_id}/audit")
    if audit.status_code == 200:  # the audit trail's own endpoint
        body = audit.json()
        assert body["chain_valid"] is True
        assert "signed" in [event["kind"] for event in body["events"]]

    # The page now says it is signed, offers no form, and links the signed PDF.
    await page.goto(link)
    assert await page.locator("#sign-form").count() == 0
    assert await page.get_attribute("#closed", "data-state") in ("signed", "pending")
    await screenshot(page, "closed-signed-1280")

    async def signed_document() -> bytes | None:
        key = await stack.db.fetchval(
            "SELECT signed_document_key FROM proposals WHERE id = $1", proposal_id
        )
        return b"ready" if key else None

    try:
        await eventually(signed_document, within=20, what="the signed PDF")
    except AssertionError:
        # Not made (yet): the link says it is being prepared, and never looks broken.
        waiting = await page.request.get(f"{link}/signed.pdf")
        assert waiting.status == 202 and "refresh" in (await waiting.text())
        return
    downloaded = await page.request.get(f"{link}/signed.pdf")
    assert downloaded.status == 200
    assert downloaded.headers["content-type"] == "application/pdf"
    content = await downloaded.body()
    keep("signed.pdf", content)
    assert pdf_text(content).startswith(pdf_text(first_page_of(await proposal_pdf(page, link))))
    certificate = PdfReader(io.BytesIO(content)).pages[-1].extract_text()
    assert "Ana Pop" in certificate


async def proposal_pdf(page: Page, link: str) -> bytes:
    response = await page.request.get(f"{link}/document.pdf")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    return await response.body()


def first_page_of(content: bytes) -> bytes:
    reader, writer = PdfReader(io.BytesIO(content)), PdfWriter()
    writer.add_page(reader.pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_decline_in_the_browser(stack: Stack, live_url: str, browser: Browser) -> None:
    await create_proposal(stack, await create_client(stack))
    _, sign_path = await proposal_email(stack)
    proposal_id = await proposal_id_of(stack, sign_path)
    link = live_url + sign_path

    page = await open_page(browser, PHONE, is_mobile=True, has_touch=True)
    await page.goto(link)
    await page.click("#decline summary")
    await page.fill("#reason", "Bugetul nu permite")
    await page.click("#decline-button")
    await page.wait_for_selector("#declined")
    await screenshot(page, "declined-375")

    async def declined() -> dict[str, Any] | None:
        proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return proposal if proposal["status"] == "declined" else None

    proposal = await eventually(declined, what="the proposal to be declined")
    assert proposal["decline_reason"] == "Bugetul nu permite"

    await page.goto(link)
    assert await page.get_attribute("#closed", "data-state") == "declined"
    assert "refuzată" in await text_of(page, "#closed")
    assert await page.locator("#sign-form").count() == 0
    assert await page.locator("#decline-form").count() == 0
    await screenshot(page, "closed-declined-375")
