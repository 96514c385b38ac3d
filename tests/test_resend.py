"""Send again (issue 15, point 4): an issued invoice or a sent proposal emailed once more,
read back from the mail sink: the same PDF bytes and number, a new link that works, one
email per Idempotency-Key, an audit event with the operator, nothing else changed."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from messages.models import InvoiceSnapshot, invoice_workflow_id, resend_workflow_id
from starter.api.routers import resend as resend_route
from starter.cli.main import main
from tests.conftest import PUBLIC_URL, Stack
from tests.helpers import (
    CLIENT,
    SIGN_LINK,
    attachment,
    create_client,
    create_proposal,
    get_json,
    invoice_of_proposal,
    issued_invoice,
    pdf_text,
    proposal_email,
    wait_invoice_status,
)
from tests.test_operators import add_operator, as_key
from tests.test_replay import record, replayer
from workflows.invoice import InvoiceWorkflow

INVOICE_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/i/[A-Za-z0-9_\-]+)")


@pytest.fixture(autouse=True)
def held(stack: Stack) -> Iterator[Stack]:
    """The stack with time standing still while a request waits: the API awaits the resend
    workflow's result, and the time-skipping server would jump to the next timer meanwhile
    (a reminder would go out); a real server's clock does not."""
    with stack.env.auto_time_skipping_disabled():
        yield stack


def keyed(stack: Stack, key: str) -> list[EmailMessage]:
    """The messages the sink received under one outbox key."""
    return [m for m in list(stack.mail.messages) if m["X-Q2C-Key"] == key]


def link_in(message: EmailMessage, pattern: re.Pattern[str]) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = pattern.search(body.get_content())
    assert found, "the email carries its link"
    return found.group(1)


async def workflow_state(stack: Stack, invoice_id: str) -> InvoiceSnapshot:
    handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
    snapshot: InvoiceSnapshot = await handle.query(InvoiceWorkflow.status)
    return snapshot


async def resend(stack: Stack, path: str, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await stack.api.post(f"{path}/resend", json=body or None, headers=headers)


async def test_an_issued_invoice_is_sent_again_once_per_key(stack: Stack) -> None:
    invoice = await issued_invoice(stack)
    invoice_id, number = invoice["id"], invoice["number"]
    first = await stack.mail.wait_for(lambda m: m["X-Q2C-Key"] == f"invoice:{invoice_id}:invoice:1")
    first_name, first_pdf = attachment(first)
    first_link = link_in(first, INVOICE_LINK)
    plan_before = await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders")
    state_before = await workflow_state(stack, invoice_id)
    assert state_before.reminders, "the reminder plan is under way"

    answer = await resend(stack, f"/api/v1/invoices/{invoice_id}", key="retry-1")
    assert answer.status_code == 200, answer.text
    key = f"invoice:{invoice_id}:resend:retry-1"
    assert answer.json() == {"resent_to": CLIENT["email"], "outbox_key": key, "sent": True}
    [again] = keyed(stack, key)
    assert again["To"] == CLIENT["email"] and number in str(again["Subject"])
    name, pdf = attachment(again)
    assert (name, pdf) == (first_name, first_pdf) == (f"{number}.pdf", first_pdf)
    assert number in pdf_text(pdf)
    link = link_in(again, INVOICE_LINK)
    assert link != first_link, "a fresh link"
    page = await stack.api.get(link)
    assert page.status_code == 200 and number in page.text
    assert (await stack.api.get(f"{link}/pdf")).content == first_pdf

    # Its run replays on the current code (and is kept for later versions' replay test).
    run = stack.env.client.get_workflow_handle(resend_workflow_id(key))
    assert await (await run.describe()).static_summary() == f"Send invoice {number} again"
    history = await run.fetch_history()
    await replayer().replay_workflow(history)
    record([history])

    # The same request again (a client's retry): the first answer, no second email.
    retried = await resend(stack, f"/api/v1/invoices/{invoice_id}", key="retry-1")
    assert retried.status_code == 200 and retried.json() == answer.json()
    await asyncio.sleep(0.3)
    assert len(keyed(stack, key)) == 1

    # Another key, to another address: sent again.
    other = await resend(
        stack, f"/api/v1/invoices/{invoice_id}", key="retry-2", to="contabil@exemplu.ro"
    )
    assert other.status_code == 200, other.text
    assert other.json()["resent_to"] == "contabil@exemplu.ro"
    [to_other] = keyed(stack, f"invoice:{invoice_id}:resend:retry-2")
    assert to_other["To"] == "contabil@exemplu.ro" and attachment(to_other)[1] == first_pdf
    # No key: the API makes one per request, so each such request is a resend of its own.
    unnamed = await resend(stack, f"/api/v1/invoices/{invoice_id}")
    assert unnamed.status_code == 200
    assert unnamed.json()["outbox_key"].startswith(f"invoice:{invoice_id}:resend:")
    assert unnamed.json()["outbox_key"] not in (key, other.json()["outbox_key"])

    after = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert (after["status"], after["due_date"], after["number"]) == (
        "sent",
        invoice["due_date"],
        number,
    )
    assert await get_json(stack, f"/api/v1/invoices/{invoice_id}/reminders") == plan_before
    state_after = await workflow_state(stack, invoice_id)
    assert (state_after.status, state_after.due_date, state_after.reminders) == (
        state_before.status,
        state_before.due_date,
        state_before.reminders,
    )

    events = await stack.db.fetch(
        """SELECT actor, data FROM audit_events WHERE invoice_id = $1 AND kind = 'resent'
           ORDER BY id""",
        invoice_id,
    )
    assert [(e["actor"], json.loads(e["data"])["to"]) for e in events] == [
        ("operator:admin", CLIENT["email"]),
        ("operator:admin", "contabil@exemplu.ro"),
        ("operator:admin", CLIENT["email"]),
    ]
    assert json.loads(events[0]["data"])["outbox_key"] == key

    # Paid, it is still the same document to send again; it stays paid.
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": invoice["amount_due"], "paid_at": "2026-12-01", "reference": "P-1"},
    )
    assert paid.json()["status"] == "paid", paid.text
    receipt = await resend(stack, f"/api/v1/invoices/{invoice_id}", key="after-paid")
    assert receipt.status_code == 200, receipt.text
    assert attachment(keyed(stack, receipt.json()["outbox_key"])[0])[1] == first_pdf
    assert (await get_json(stack, f"/api/v1/invoices/{invoice_id}"))["status"] == "paid"


async def test_a_sent_proposal_is_sent_again_with_a_new_signing_link(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    first, first_sign = await proposal_email(stack)
    _, first_pdf = attachment(first)
    path = f"/api/v1/proposals/{proposal['id']}"
    number = (await get_json(stack, path))["number"]

    answer = await resend(stack, path, key="p-1")
    assert answer.status_code == 200, answer.text
    key = f"proposal:{proposal['id']}:resend:p-1"
    assert answer.json() == {"resent_to": CLIENT["email"], "outbox_key": key, "sent": True}
    [again] = keyed(stack, key)
    assert attachment(again)[1] == first_pdf and number in pdf_text(first_pdf)
    sign_path = link_in(again, SIGN_LINK)
    assert sign_path != first_sign
    assert (await resend(stack, path, key="p-1")).json() == answer.json()
    await asyncio.sleep(0.3)
    assert len(keyed(stack, key)) == 1
    audit = await get_json(stack, f"{path}/audit")
    [resent] = [e for e in audit["events"] if e["kind"] == "resent"]
    assert resent["actor"] == "operator:admin" and resent["data"]["to"] == CLIENT["email"]
    assert audit["chain_valid"]
    assert (await get_json(stack, path))["status"] == "sent"

    # Not out within the request's wait: 202, still going out; the same key later says sent.
    monkeypatch.setattr(resend_route, "WAIT_SECONDS", 0.0)
    slow = await resend(stack, path, key="slow")
    assert slow.status_code == 202, slow.text
    assert slow.json() | {"sent": None} == {
        "resent_to": CLIENT["email"],
        "outbox_key": f"proposal:{proposal['id']}:resend:slow",
        "sent": None,
    }
    assert slow.json()["sent"] is False
    monkeypatch.undo()
    done = await resend(stack, path, key="slow")
    assert done.status_code == 200 and done.json() == slow.json() | {"sent": True}
    assert len(keyed(stack, slow.json()["outbox_key"])) == 1

    # The new link is the one the client signs with.
    assert (await stack.api.get(sign_path)).status_code == 200
    assert (await stack.api.get(f"{sign_path}/document.pdf")).content == first_pdf
    signed = await stack.api.post(sign_path, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert signed.status_code == 200, signed.text
    invoice_id = await invoice_of_proposal(stack, sign_path)

    # Signed: no longer sent again; nor its invoice while it is a draft in review, or void.
    refused = await resend(stack, path, key="p-2")
    assert refused.status_code == 409 and "signed" in refused.json()["detail"]
    # A retry of the request made before the signature still gets its first answer.
    assert (await resend(stack, path, key="p-1")).json() == answer.json()
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    in_review = await resend(stack, f"/api/v1/invoices/{invoice_id}")
    assert in_review.status_code == 409 and "awaiting_review" in in_review.json()["detail"]
    voided = await stack.api.post(f"/api/v1/invoices/{invoice_id}/void", json={"reason": "x"})
    assert voided.status_code == 202
    await wait_invoice_status(stack, invoice_id, "void")
    void = await resend(stack, f"/api/v1/invoices/{invoice_id}")
    assert void.status_code == 409 and "void" in void.json()["detail"]
    resent = [
        m["X-Q2C-Key"] for m in list(stack.mail.messages) if ":resend:" in str(m["X-Q2C-Key"])
    ]
    assert sorted(resent) == sorted([key, slow.json()["outbox_key"]]), "nothing else was sent"


@pytest.mark.parametrize(
    ("body", "headers", "loc"),
    [
        ({"to": "not-an-address"}, {}, ["body", "to"]),
        ({"to": "a@b.ro", "cc": "x@y.ro"}, {}, ["body", "cc"]),
        (None, {"Idempotency-Key": "has space"}, ["header", "Idempotency-Key"]),
        (None, {"Idempotency-Key": "k" * 101}, ["header", "Idempotency-Key"]),
    ],
)
async def test_bad_input_is_refused_with_the_field(
    stack: Stack, body: dict[str, str] | None, headers: dict[str, str], loc: list[str]
) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    await proposal_email(stack)
    for path in (f"/api/v1/proposals/{proposal['id']}", f"/api/v1/invoices/{proposal['id']}"):
        refused = await stack.api.post(f"{path}/resend", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == loc
    missing = await stack.api.post(f"/api/v1/invoices/{proposal['id']}/resend")
    assert missing.status_code == 404
    assert not [m for m in list(stack.mail.messages) if ":resend:" in str(m["X-Q2C-Key"])]


async def test_the_cli_sends_again(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    invoice = await issued_invoice(stack)
    loop = asyncio.get_running_loop()
    seen: list[httpx.Request] = []

    def to_the_stack(request: httpx.Request) -> httpx.Response:
        """The CLI (in a thread) talking to the real API in this loop."""
        seen.append(request)
        answered = asyncio.run_coroutine_threadsafe(
            stack.api.request(
                request.method,
                request.url.path,
                content=request.content,
                headers={k: v for k, v in request.headers.items() if k != "authorization"},
            ),
            loop,
        ).result()
        return httpx.Response(answered.status_code, content=answered.content)

    monkeypatch.setenv("Q2C_API_KEY", "k")
    transport = httpx.MockTransport(to_the_stack)
    argv = ["invoices", "resend", invoice["id"], "--to", "contabil@exemplu.ro"]
    assert await asyncio.to_thread(main, argv, transport=transport) == 0
    printed = capsys.readouterr().out
    assert f"invoice {invoice['id']} sent again to contabil@exemplu.ro" in printed
    [request] = seen
    assert json.loads(request.content) == {"to": "contabil@exemplu.ro"}
    cli_key = request.headers["idempotency-key"]
    [message] = keyed(stack, f"invoice:{invoice['id']}:resend:{cli_key}")
    assert message["To"] == "contabil@exemplu.ro"

    proposal = await create_proposal(stack, invoice["client_id"])
    await proposal_email(stack, skip=1)
    argv = ["--json", "proposals", "resend", proposal["id"]]
    assert await asyncio.to_thread(main, argv, transport=transport) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["resent_to"] == CLIENT["email"] and answer["sent"] is True
    assert keyed(stack, answer["outbox_key"])


async def test_the_operator_who_asked_is_recorded_and_a_viewer_may_not(stack: Stack) -> None:
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    await proposal_email(stack)
    path = f"/api/v1/proposals/{proposal['id']}"
    viewer = await add_operator(stack, "victor", "viewer")
    async with as_key(stack, viewer["key"]) as api:
        refused = await api.post(f"{path}/resend")
        assert refused.status_code == 403
    olga = await add_operator(stack, "olga", "operator")
    async with as_key(stack, olga["key"]) as api:
        answer = await api.post(f"{path}/resend", json={"to": "olga.client@exemplu.ro"})
        assert answer.status_code == 200, answer.text
    [message] = keyed(stack, answer.json()["outbox_key"])
    assert message["To"] == "olga.client@exemplu.ro"
    audit = await get_json(stack, f"{path}/audit")
    [resent] = [e for e in audit["events"] if e["kind"] == "resent"]
    assert resent["actor"] == "operator:olga"
    assert resent["data"] == {
        "to": "olga.client@exemplu.ro",
        "outbox_key": answer.json()["outbox_key"],
    }
