"""Steps the end-to-end tests share: they drive the product the way its users do."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar

from pypdf import PdfReader
from stdnum.ro import cui as ro_cui

from tests.conftest import PUBLIC_URL, Stack

T = TypeVar("T")

SIGN_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/sign/[A-Za-z0-9_\-]+)")

CLIENT = {
    "name": "Exemplu SRL",
    "email": "plati@exemplu.ro",
    "country": "RO",
    "locale": "ro",
    "tax_id": "RO18547290",
    "address": "Str. Memorandumului 28, Cluj-Napoca",
    "street": "Str. Memorandumului 28",
    "city": "Cluj-Napoca",
    "postal_code": "400114",
    "county": "RO-CJ",
}


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float = 20.0, what: str = "condition"
) -> T:
    """Poll until `probe` returns something truthy; the workflows run beside the test."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def pdf_text(content: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    # Babel puts a no-break space between amount and currency; a reader sees a space.
    return text.replace("\xa0", " ")


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return part.get_filename() or "", payload
    raise AssertionError(f"no attachment in {message['Subject']!r}")


async def create_client(stack: Stack, **overrides: Any) -> str:
    body = CLIENT | overrides
    if "tax_id" not in overrides and body["country"] == "RO":
        # A company's clients have distinct tax ids (409 otherwise): the first keeps
        # CLIENT's, each further one gets a CUI of its own.
        count = await stack.db.fetchval("SELECT count(*) FROM clients")
        if count:
            digits = str(3000000 + count)
            body["tax_id"] = "RO" + digits + ro_cui.calc_check_digit(digits)
    response = await stack.api.post("/api/v1/clients", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def create_proposal(
    stack: Stack, client_id: str, valid_until: date | None = None, **overrides: Any
) -> dict[str, Any]:
    today = (await stack.env.get_current_time()).date()
    body = {
        "client_id": client_id,
        "currency": "RON",
        "valid_until": (valid_until or today + timedelta(days=30)).isoformat(),
        "payment_terms_days": 14,
        "lines": [
            {
                "description": "Consultanță juridică",
                "quantity": "10",
                "unit": "h",
                "unit_price": "250.00",
                "vat_rate": "21",
            },
            {
                "description": "Redactare contract",
                "quantity": "1",
                "unit": "buc",
                "unit_price": "1000.00",
                "vat_rate": "21",
                "discount_percent": "10",
            },
        ],
    } | overrides
    response = await stack.api.post("/api/v1/proposals", json=body)
    assert response.status_code == 201, response.text
    proposal: dict[str, Any] = response.json()
    return proposal


async def proposal_email(
    stack: Stack, to: str = CLIENT["email"], skip: int = 0
) -> tuple[EmailMessage, str]:
    """The proposal email (after `skip` earlier ones to the same address) and the signing
    path its link points to."""
    seen: list[EmailMessage] = []

    def wanted(message: EmailMessage) -> bool:
        if message["To"] != to or "Ofert" not in str(message["Subject"]):
            return False
        if message not in seen:
            seen.append(message)
        return seen.index(message) >= skip

    message = await stack.mail.wait_for(wanted, timeout=20)
    body = message.get_body(("plain",))
    assert body is not None
    match = SIGN_LINK.search(body.get_content())
    assert match, "the proposal email carries a signing link"
    return message, match.group(1)


async def get_json(stack: Stack, path: str) -> dict[str, Any]:
    response = await stack.api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_invoice_status(stack: Stack, invoice_id: str, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
        return invoice if invoice["status"] == status else None

    return await eventually(probe, what=f"invoice {invoice_id} to be {status}")


async def sign_and_get_invoice(stack: Stack, sign_path: str, signer: str = "Ana Pop") -> str:
    response = await stack.api.post(sign_path, data={"signer_name": signer, "consent": "yes"})
    assert response.status_code == 200, response.text
    return await invoice_of_proposal(stack, sign_path)


async def invoice_of_proposal(stack: Stack, sign_path: str) -> str:
    proposal_id = await stack.db.fetchval(
        """SELECT proposal_id FROM access_tokens WHERE token_hash = encode(sha256($1::bytea),
           'hex')""",
        sign_path.rsplit("/", 1)[1].encode(),
    )

    async def probe() -> str | None:
        proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return proposal["invoice_id"] if proposal["status"] == "signed" else None

    return await eventually(probe, what="the signed proposal's invoice")


async def issued_invoice(stack: Stack, **client_overrides: Any) -> dict[str, Any]:
    """A proposal created, signed and its invoice approved and emailed: the invoice JSON."""
    client_id = await create_client(stack, **client_overrides)
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, client_overrides.get("email", CLIENT["email"]))
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    response = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert response.status_code == 202, response.text
    return await wait_invoice_status(stack, invoice_id, "sent")


async def make_seller_russian(stack: Stack) -> None:
    """The seller becomes a Russian legal entity (ИНН, КПП, ОГРН; no IBAN) writing in Russian."""
    moved = await stack.api.patch(
        "/api/v1/company",
        json={
            "country": "RU",
            "tax_id": "7707083893",
            "kpp": "773601001",
            "registration_number": "1027700132195",
            "iban": "",
            "locale": "ru",
            "street": "ул. Тверская, 1",
            "city": "Москва",
            "postal_code": "125009",
            "county": "",
        },
    )
    assert moved.status_code == 200, moved.text
