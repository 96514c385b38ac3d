"""A signature nobody can forge (issue 13, point 1).

Anyone who reaches the Temporal UI can send `sign` or `decline` to `proposal-<id>`. Such a
signal is only a claim: it is applied only if it names an answer the signing page (with
the link it claimed) or a verified e-sign webhook recorded, repeats it exactly, and that
answer was never used. Anything else changes nothing, is kept as a refused event in a
still-valid audit chain, and the real client can still answer.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from db import audit, signing
from domain import answers
from domain.audit import verify_chain
from messages.models import SignProposal, proposal_workflow_id
from tests.conftest import Stack
from tests.helpers import (
    create_client,
    create_proposal,
    eventually,
    get_json,
    invoice_of_proposal,
    proposal_email,
)
from tests.test_replay import record, replayer

CLIENT_EMAIL = "plati@exemplu.ro"

# The signal from the issue, exactly as `temporal workflow signal --input` sends it.
FORGED_SIGN = {
    "signer_name": "Nobody Signed This",
    "signed_at": "2026-12-01T10:00:00Z",
    "document_sha256": "00",
    "consent_text": "forged",
    "ip": "10.9.8.7",
    "user_agent": "forger",
}
FORGED_DECLINE = {
    "reason": "forged",
    "declined_at": "2026-12-01T10:00:00Z",
    "ip": "10.9.8.7",
    "user_agent": "forger",
}


async def sent_proposal(stack: Stack, email: str = CLIENT_EMAIL) -> tuple[str, str]:
    """A new proposal to a new client, emailed: (its id, the signing path from the email)."""
    proposal = await create_proposal(stack, await create_client(stack, email=email))
    _, path = await proposal_email(stack, email)
    return proposal["id"], path


async def signal(stack: Stack, proposal_id: str, name: str, payload: Any) -> None:
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal_id))
    await handle.signal(name, payload)


async def events(stack: Stack, proposal_id: str) -> list[dict[str, Any]]:
    async with stack.db.acquire() as conn:
        return [asdict(row) for row in await audit.events_of_proposal(conn, proposal_id)]


def data(event: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(event["data"])
    return loaded


async def refused_event(stack: Stack, proposal_id: str, kind: str, count: int = 1) -> Any:
    async def probe() -> list[dict[str, Any]] | None:
        found = [e for e in await events(stack, proposal_id) if e["kind"] == kind]
        return found if len(found) >= count else None

    return (await eventually(probe, what=f"{count} {kind} event(s)"))[-1]


async def assert_untouched(stack: Stack, proposal_id: str) -> None:
    """Still sent, no signature, no invoice, and the client got nothing but the proposal."""
    proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    assert proposal["status"] == "sent" and proposal["invoice_id"] is None
    assert (
        await stack.db.fetchval("SELECT count(*) FROM invoices WHERE proposal_id = $1", proposal_id)
        == 0
    )
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM signatures WHERE proposal_id = $1", proposal_id
        )
        == 0
    )
    to_client = [m for m in stack.mail.messages if m["To"] == CLIENT_EMAIL]
    assert [str(m["X-Q2C-Key"]) for m in to_client] == [f"proposal:{proposal_id}:proposal:1"]
    rows = await events(stack, proposal_id)
    assert verify_chain(rows) == (True, None)
    assert "signed" not in {e["kind"] for e in rows} and "declined" not in {e["kind"] for e in rows}


async def test_the_forged_sign_signal_from_the_issue_is_refused_and_the_client_still_signs(
    stack: Stack,
) -> None:
    proposal_id, path = await sent_proposal(stack)
    await signal(stack, proposal_id, "sign", FORGED_SIGN)

    refused = await refused_event(stack, proposal_id, "signature_refused")
    assert data(refused)["reason"] == answers.UNKNOWN
    assert data(refused)["claimed"]["signer_name"] == "Nobody Signed This"
    assert data(refused)["claimed"]["ip"] == "10.9.8.7"
    # The forger's IP is a claim, not where the event came from.
    assert refused["ip"] == "" and refused["actor"] == "unverified signal"
    await assert_untouched(stack, proposal_id)

    # The workflow kept waiting: the real client signs through the page.
    signed = await stack.api.post(path, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert signed.status_code == 200, signed.text
    invoice_id = await invoice_of_proposal(stack, path)
    assert invoice_id
    mail = await stack.mail.wait_for(
        lambda m: str(m["X-Q2C-Key"]) == f"proposal:{proposal_id}:signed:1", timeout=30
    )
    assert mail["To"] == CLIENT_EMAIL
    signature = await stack.db.fetchrow(
        "SELECT * FROM signatures WHERE proposal_id = $1", proposal_id
    )
    assert signature is not None
    assert signature["signer_name"] == "Ana Pop" and signature["ip"] == "203.0.113.7"
    rows = await events(stack, proposal_id)
    assert verify_chain(rows) == (True, None)
    kinds = [e["kind"] for e in rows]
    assert kinds.index("signature_refused") < kinds.index("signed")

    # The refusal path replays (and, recorded, guards later versions: tests/histories).
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal_id))
    assert (await handle.result())["status"] == "signed"
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    record([history])


async def test_a_forged_decline_is_refused_and_the_client_can_still_decline(
    stack: Stack,
) -> None:
    proposal_id, path = await sent_proposal(stack)
    await signal(stack, proposal_id, "decline", FORGED_DECLINE)

    refused = await refused_event(stack, proposal_id, "decline_refused")
    assert data(refused)["reason"] == answers.UNKNOWN
    assert data(refused)["claimed"]["reason"] == "forged"
    await assert_untouched(stack, proposal_id)
    proposal = await stack.db.fetchrow("SELECT * FROM proposals WHERE id = $1", proposal_id)
    assert proposal is not None and proposal["decline_reason"] is None

    declined = await stack.api.post(f"{path}/decline", data={"reason": "Too expensive"})
    assert declined.status_code == 200, declined.text

    async def closed() -> dict[str, Any] | None:
        shown = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
        return shown if shown["status"] == "declined" else None

    await eventually(closed, what="the real decline")
    row = await stack.db.fetchrow("SELECT * FROM proposals WHERE id = $1", proposal_id)
    assert row is not None and row["decline_reason"] == "Too expensive"
    assert verify_chain(await events(stack, proposal_id)) == (True, None)


async def test_a_genuine_answer_replayed_is_refused(stack: Stack) -> None:
    first_id, first_path = await sent_proposal(stack)
    signed = await stack.api.post(first_path, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert signed.status_code == 200, signed.text
    await invoice_of_proposal(stack, first_path)
    answer = await stack.db.fetchrow(
        "SELECT * FROM proposal_answers WHERE proposal_id = $1", first_id
    )
    assert answer is not None and answer["consumed_at"] is not None
    # Exactly the signal the page sent, every detail as recorded.
    genuine = SignProposal(
        signer_name=answer["signer_name"],
        signed_at=answer["answered_at"],
        document_sha256=answer["document_sha256"],
        consent_text=answer["consent_text"],
        signer_email=answer["signer_email"],
        ip=answer["ip"],
        user_agent=answer["user_agent"],
        source=answer["source"],
        signature_image_key=answer["signature_image_key"],
        answer_id=str(answer["id"]),
    )

    second_id, second_path = await sent_proposal(stack, "second@exemplu.ro")
    await signal(stack, second_id, "sign", genuine)
    refused = await refused_event(stack, second_id, "signature_refused")
    assert data(refused)["reason"] == answers.USED
    assert data(refused)["answer_id"] == str(answer["id"])
    await assert_untouched_besides(stack, second_id)

    # The same proposal's own link still works.
    again = await stack.api.post(second_path, data={"signer_name": "Ion Pop", "consent": "yes"})
    assert again.status_code == 200, again.text
    await invoice_of_proposal(stack, second_path)


async def assert_untouched_besides(stack: Stack, proposal_id: str) -> None:
    proposal = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    assert proposal["status"] == "sent" and proposal["invoice_id"] is None
    assert (
        await stack.db.fetchval("SELECT count(*) FROM invoices WHERE proposal_id = $1", proposal_id)
        == 0
    )
    assert not [
        m for m in stack.mail.messages if str(m["X-Q2C-Key"]) == f"proposal:{proposal_id}:signed:1"
    ]
    assert verify_chain(await events(stack, proposal_id)) == (True, None)


async def test_a_recorded_answer_applies_only_as_recorded(stack: Stack) -> None:
    """A signal naming a real, unused answer but changing a detail is refused; the answer
    itself, repeated exactly, is then applied (it was not used up by the refusal)."""
    # A second proposal whose answer was recorded as the signing page records it, but whose
    # signal a forger rewrote (here: sent by hand with another IP).
    other_id, other_path = await sent_proposal(stack)
    sha256 = await stack.db.fetchval(
        "SELECT d.sha256 FROM documents d JOIN proposals p ON p.document_key = d.key "
        "WHERE p.id = $1",
        other_id,
    )
    recorded = SignProposal(
        signer_name="Ion Pop",
        signed_at=datetime.now(UTC),
        document_sha256=sha256,
        consent_text="I accept.",
        ip="198.51.100.20",
        user_agent="browser/1",
    )
    token_hash = await stack.db.fetchval(
        "SELECT token_hash FROM access_tokens WHERE proposal_id = $1", other_id
    )
    async with stack.db.acquire() as conn:
        recorded.answer_id = await signing.record_signature(
            conn, other_id, recorded, token_hash=token_hash
        )
    tampered = SignProposal(**(asdict(recorded) | {"ip": "10.9.8.7"}))
    await signal(stack, other_id, "sign", tampered)
    refused = await refused_event(stack, other_id, "signature_refused")
    assert data(refused)["reason"] == answers.DIFFERENT
    await assert_untouched_besides(stack, other_id)

    await signal(stack, other_id, "sign", recorded)
    await invoice_of_proposal(stack, other_path)
    signature = await stack.db.fetchrow("SELECT * FROM signatures WHERE proposal_id = $1", other_id)
    assert signature is not None and signature["ip"] == "198.51.100.20"


# --- the rule itself (domain.answers) --------------------------------------------------


AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RECORDED = answers.Answer(
    proposal_id="p1",
    kind="sign",
    source="page",
    answered_at=AT,
    signer_name="Ana Pop",
    document_sha256="ab" * 32,
    consent_text="I accept.",
    ip="203.0.113.7",
)


def test_refusal_accepts_only_the_recorded_unused_answer_for_the_sent_document() -> None:
    assert answers.refusal(RECORDED, False, RECORDED, "ab" * 32) is None
    assert answers.refusal(None, False, RECORDED, "ab" * 32) == answers.UNKNOWN
    assert answers.refusal(RECORDED, True, RECORDED, "ab" * 32) == answers.USED
    other = answers.Answer(**(asdict(RECORDED) | {"proposal_id": "p2"}))
    assert answers.refusal(RECORDED, False, other, "ab" * 32) == answers.OTHER_PROPOSAL
    decline = answers.Answer(**(asdict(RECORDED) | {"kind": "decline"}))
    assert answers.refusal(RECORDED, False, decline, "ab" * 32) == answers.OTHER_KIND
    for field, value in (("ip", "10.9.8.7"), ("answered_at", AT.replace(second=1))):
        changed = answers.Answer(**(asdict(RECORDED) | {field: value}))
        assert answers.refusal(RECORDED, False, changed, "ab" * 32) == answers.DIFFERENT
        assert answers.differing_fields(RECORDED, changed) == [field]
    assert answers.refusal(RECORDED, False, RECORDED, "cd" * 32) == answers.DOCUMENT
    assert answers.refusal(RECORDED, False, RECORDED, None) == answers.DOCUMENT


def test_claimed_details_are_bounded() -> None:
    huge = answers.Answer(**(asdict(RECORDED) | {"user_agent": "x" * 100_000}))
    details = answers.claimed_details(huge)
    assert details["user_agent"] == "x" * answers.CLAIM_MAX_CHARS
    assert details["answered_at"] == AT.isoformat()
    assert "reason" not in details
