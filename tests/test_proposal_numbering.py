"""Proposals are numbered in their own series when first sent: gapless under concurrent
sends, kept on a resend, none for a draft; the number is on the PDF, the email, the signing
page and the API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from typing import Any

from tests.conftest import Stack
from tests.helpers import (
    SIGN_LINK,
    attachment,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    pdf_text,
)

SENDS = 20


def _proposal_mails(stack: Stack) -> list[EmailMessage]:
    return [m for m in stack.mail.messages if str(m["X-Q2C-Key"] or "").startswith("proposal:")]


async def _send(stack: Stack, proposal_id: str) -> dict[str, Any]:
    response = await stack.api.post(f"/api/v1/proposals/{proposal_id}/send")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _numbered(stack: Stack, proposal_id: str) -> str:
    """The proposal's number, once its workflow's send has given it one."""

    async def probe() -> str | None:
        number = (await get_json(stack, f"/api/v1/proposals/{proposal_id}"))["number"]
        return str(number) if number else None

    return await eventually(probe, what=f"proposal {proposal_id}'s number")


async def test_concurrent_sends_get_gapless_unique_numbers_printed_and_emailed(
    stack: Stack,
) -> None:
    client_id = await create_client(stack)
    drafts = [(await create_proposal(stack, client_id, send=False))["id"] for _ in range(SENDS)]
    kept_back = (await create_proposal(stack, client_id, send=False))["id"]
    unsent = [await get_json(stack, f"/api/v1/proposals/{pid}") for pid in drafts]
    assert [p["number"] for p in unsent] == [None] * SENDS

    await asyncio.gather(*(_send(stack, pid) for pid in drafts))

    async def all_emailed() -> bool:
        return len(_proposal_mails(stack)) == SENDS

    await eventually(all_emailed, within=120, what=f"{SENDS} proposal emails")
    proposals = [await get_json(stack, f"/api/v1/proposals/{pid}") for pid in drafts]
    year = date.fromisoformat(proposals[0]["issue_date"]).year
    numbers = [p["number"] for p in proposals]
    pattern = re.compile(rf"OF-{year}-(\d{{5}})")
    sequence = sorted(int(pattern.fullmatch(n).group(1)) for n in numbers)  # type: ignore[union-attr]
    assert sequence == list(range(1, SENDS + 1))

    # Each email carries its own proposal's number, in the subject, the body and the PDF.
    by_key = {str(m["X-Q2C-Key"]): m for m in _proposal_mails(stack)}
    for proposal in proposals:
        message = by_key[f"proposal:{proposal['id']}:proposal:1"]
        number = proposal["number"]
        assert f"Ofertă {number} de la q2c Demo SRL" in message["Subject"]
        body = message.get_body(("plain",))
        assert body is not None and f"oferta nr. {number}." in body.get_content()
        text = pdf_text(attachment(message)[1])
        assert f"Numărul: {number} din" in text

    # A draft nobody sent has no number; sending it later takes the next one.
    assert (await get_json(stack, f"/api/v1/proposals/{kept_back}"))["number"] is None
    await _send(stack, kept_back)
    assert await _numbered(stack, kept_back) == f"OF-{year}-{SENDS + 1:05}"


async def test_a_resend_keeps_the_number_and_the_signing_page_shows_it(stack: Stack) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    message = await stack.mail.wait_for(lambda m: bool(_proposal_mails(stack)), timeout=20)
    first = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
    number = first["number"]
    assert number is not None and number.startswith("OF-")

    again = await _send(stack, proposal["id"])
    assert again["number"] == number
    await asyncio.sleep(0.5)
    assert len(_proposal_mails(stack)) == 1

    body = message.get_body(("plain",))
    assert body is not None
    link = SIGN_LINK.search(body.get_content())
    assert link is not None
    page = await stack.api.get(link.group(1))
    assert page.status_code == 200
    assert f'<strong id="proposal-number">{number}</strong>' in page.text


async def test_proposal_series_is_its_own_and_can_move_forward(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    year = date.fromisoformat(invoice["issue_date"]).year
    # The proposal behind the invoice took OF-…-00001; the invoice series is untouched.
    assert invoice["number"] == f"INV-{year}-00001"
    proposal = await get_json(stack, f"/api/v1/proposals/{invoice['proposal_id']}")
    assert proposal["number"] == f"OF-{year}-00001"

    moved = await stack.api.put(
        "/api/v1/number-series/proposal/OF",
        json={"pattern": "{series}/{year}/{seq:04}", "next_seq": 40},
    )
    assert moved.status_code == 200, moved.text
    client_id = await create_client(stack, email="alt@exemplu.ro")
    created = await create_proposal(stack, client_id, send=False)
    await _send(stack, created["id"])
    assert await _numbered(stack, created["id"]) == f"OF/{year}/0040"


def _to(address: str) -> Callable[[EmailMessage], bool]:
    return lambda message: bool(message["To"] == address)


async def test_russian_and_english_proposals_print_their_number(stack: Stack) -> None:
    for email, locale, expected in (
        ("oplata@primer.ru", "ru", "Коммерческое предложение № {number} от"),
        ("billing@example.com", "en", "Proposal {number} from"),
    ):
        proposal = await create_proposal(
            stack, await create_client(stack, email=email, locale=locale)
        )
        message = await stack.mail.wait_for(_to(email), timeout=20)
        number = (await get_json(stack, f"/api/v1/proposals/{proposal['id']}"))["number"]
        assert expected.format(number=number) in message["Subject"]
        text = pdf_text(attachment(message)[1])
        if locale == "ru":
            assert f"Номер: № {number} от" in text
        else:
            assert f"Number: {number} of" in text
