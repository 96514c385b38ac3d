"""Proposal follow-ups and conversion (issue 15, points 6 and 3): an unsigned proposal is
followed up on its schedule until it is signed, declined, expired or made an invoice by an
operator; each follow-up once. On the time-skipping server with the real worker; every
email is read back from the SMTP sink."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.proposals import ProposalActivities
from domain import followups
from domain.followups import (
    AFTER_SENT,
    BEFORE_EXPIRY,
    FollowupError,
    FollowupSchedule,
    PlannedFollowup,
    days_text,
    followups_to_send,
    plan_followups,
    resolve,
)
from domain.i18n import format_day
from messages.models import FollowupInput, proposal_workflow_id
from starter.cli.main import main
from tests.conftest import PUBLIC_URL, TEST_WORKFLOW_RUNNER, Stack
from tests.helpers import (
    SIGN_LINK,
    create_client,
    create_proposal,
    eventually,
    get_json,
    pdf_text,
    proposal_email,
    wait_invoice_status,
)
from worker import WORKFLOWS
from workflows.proposal import ProposalWorkflow

HISTORIES = Path(__file__).parent / "histories"

BUCHAREST = ZoneInfo("Europe/Bucharest")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUCHAREST).astimezone(UTC)


# --- the schedule, pure -----------------------------------------------------------------


def test_the_default_plan_is_3_and_7_days_after_sending_and_2_before_expiry() -> None:
    sent = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)  # 16:30 in Bucharest
    plan = plan_followups(
        FollowupSchedule(),
        sent_at=sent,
        valid_until=date(2026, 12, 31),
        time_zone="Europe/Bucharest",
        hour=9,
    )
    assert plan == [
        PlannedFollowup(1, AFTER_SENT, 3, local(date(2026, 12, 4), 9)),
        PlannedFollowup(2, AFTER_SENT, 7, local(date(2026, 12, 8), 9)),
        PlannedFollowup(3, BEFORE_EXPIRY, 2, local(date(2026, 12, 29), 9)),
    ]


def test_two_follow_ups_on_one_day_are_one_and_late_or_expired_ones_are_skipped() -> None:
    sent = datetime(2026, 12, 1, 8, tzinfo=UTC)
    plan = plan_followups(
        FollowupSchedule(days_after_sent=(3, 7), days_before_expiry=(2, 0)),
        sent_at=sent,
        valid_until=date(2026, 12, 10),
        time_zone="Europe/Bucharest",
        hour=9,
    )
    # Day 7 after sending is the 8th, 2 days before the 10th: one email, the one that says
    # the offer is ending.
    assert [(f.step, f.kind, f.days, f.send_at.date()) for f in plan] == [
        (1, AFTER_SENT, 3, date(2026, 12, 4)),
        (2, BEFORE_EXPIRY, 2, date(2026, 12, 8)),
        (3, BEFORE_EXPIRY, 0, date(2026, 12, 10)),
    ]
    expires_at = local(date(2026, 12, 11), 0)
    planned_at = local(date(2026, 12, 5), 0)
    assert [
        f.step for f in followups_to_send(plan, planned_at=planned_at, expires_at=expires_at)
    ] == [2, 3]
    # The last valid day at 09:00 is before the expiry at midnight; an hour past it is not.
    late_hour = plan_followups(
        FollowupSchedule(days_after_sent=(), days_before_expiry=(0,)),
        sent_at=sent,
        valid_until=date(2026, 12, 10),
        time_zone="America/Los_Angeles",  # 09:00 there is 19:00 in Bucharest
        hour=23,
    )
    assert followups_to_send(late_hour, planned_at=sent, expires_at=expires_at) == []


def test_a_proposal_replaces_the_company_schedule_kind_by_kind() -> None:
    company = FollowupSchedule(days_after_sent=(2, 5), days_before_expiry=(1,))
    assert resolve(company) == company
    assert resolve(company, [1]) == FollowupSchedule((1,), (1,))
    assert resolve(company, None, []) == FollowupSchedule((2, 5), ())
    assert resolve(company, [7, 3, 3], [2]) == FollowupSchedule((3, 7), (2,))


@pytest.mark.parametrize(
    ("after", "before", "message"),
    [
        ([0], None, "followup_days_after_sent[0]: must be from 1 to 365 days"),
        ([3, 400], None, "followup_days_after_sent[1]: must be from 1 to 365 days"),
        (None, [-1], "followup_days_before_expiry[0]: must be from 0 to 365 days"),
        (list(range(1, 12)), None, "followup_days_after_sent: at most 10 follow-ups"),
        ([True], None, "followup_days_after_sent[0]: must be a whole number of days"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    after: list[int] | None, before: list[int] | None, message: str
) -> None:
    with pytest.raises(FollowupError, match=re.escape(message)):
        resolve(FollowupSchedule(), after, before)


def test_days_left_in_words() -> None:
    assert [days_text(n, "en") for n in (1, 2)] == ["1 day", "2 days"]
    assert [days_text(n, "ro") for n in (1, 2, 19, 20, 27, 100, 101)] == [
        "1 zi", "2 zile", "19 zile", "20 de zile", "27 de zile", "100 de zile", "101 zile",
    ]  # fmt: skip
    assert [days_text(n, "ru") for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "1 день", "2 дня", "5 дней", "11 дней", "21 день", "22 дня", "112 дней",
    ]  # fmt: skip


# --- end to end ---------------------------------------------------------------------------


async def skip_to(stack: Stack, moment: datetime) -> None:
    now = await stack.env.get_current_time()
    assert moment > now, f"cannot skip back to {moment} from {now}"
    await stack.env.sleep(moment - now)


def followup_mails(stack: Stack, proposal_id: str) -> list[EmailMessage]:
    prefix = f"proposal:{proposal_id}:followup:"
    return [m for m in stack.mail.messages if str(m["X-Q2C-Key"]).startswith(prefix)]


async def wait_followups(stack: Stack, proposal_id: str, count: int) -> list[EmailMessage]:
    async def probe() -> list[EmailMessage] | None:
        found = followup_mails(stack, proposal_id)
        return found if len(found) >= count else None

    return await eventually(probe, what=f"{count} follow-ups")


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def sign_path_of(message: EmailMessage) -> str:
    match = SIGN_LINK.search(text_of(message))
    assert match, "the follow-up carries a signing link"
    return match.group(1)


async def sent_proposal(stack: Stack, valid_days: int = 30, **overrides: Any) -> dict[str, Any]:
    """A proposal emailed to the client: its JSON (with its send date) and first sign path."""
    today = (await stack.env.get_current_time()).astimezone(BUCHAREST).date()
    proposal = await create_proposal(
        stack,
        await create_client(stack),
        valid_until=today + timedelta(days=valid_days),
        **overrides,
    )
    _, sign_path = await proposal_email(stack)
    stored = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
    return stored | {"sign_path": sign_path, "sent_on": date.fromisoformat(stored["issue_date"])}


async def workflow_result(stack: Stack, proposal_id: str) -> str:
    handle = stack.env.client.get_workflow_handle_for(
        ProposalWorkflow.run, proposal_workflow_id(proposal_id)
    )
    return (await handle.result()).status


async def replay_and_record(stack: Stack, proposal_id: str, name: str) -> None:
    """The run replays on the current code; with Q2C_RECORD_HISTORIES=1 it is kept in
    tests/histories/ for the replay test of later versions."""
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal_id))
    history = await handle.fetch_history()
    await Replayer(workflows=WORKFLOWS, workflow_runner=TEST_WORKFLOW_RUNNER).replay_workflow(
        history
    )
    if os.environ.get("Q2C_RECORD_HISTORIES"):
        path = HISTORIES / f"proposal-{name}-{len(history.events)}.json"
        path.write_text(history.to_json())


async def audit_kinds(stack: Stack, proposal_id: str) -> list[str]:
    return list(
        await stack.db.fetchval(
            "SELECT array_agg(kind ORDER BY id) FROM audit_events WHERE proposal_id = $1",
            proposal_id,
        )
    )


async def test_signed_after_the_first_follow_up_gets_no_other(stack: Stack) -> None:
    proposal = await sent_proposal(stack)
    proposal_id, sent_on = proposal["id"], proposal["sent_on"]
    valid_until = date.fromisoformat(proposal["valid_until"])

    await skip_to(stack, local(sent_on + timedelta(days=2), 12))
    assert followup_mails(stack, proposal_id) == [], "nothing before the third day"
    await skip_to(stack, local(sent_on + timedelta(days=3), 12))
    [first] = await wait_followups(stack, proposal_id, 1)
    number = proposal["number"]
    assert first["Subject"] == (
        f"Reamintire: oferta {number} de la q2c Demo SRL așteaptă semnătura dvs."
    )
    assert first["To"] == "plati@exemplu.ro"
    body = text_of(first)
    left = (valid_until - (sent_on + timedelta(days=3))).days
    assert f"Oferta este valabilă până la {format_day(valid_until, 'ro')}" in body
    assert f"încă {days_text(left, 'ro')}" in body
    # A fresh link of its own, which signs like the first.
    fresh = sign_path_of(first)
    assert fresh != proposal["sign_path"] and f"{PUBLIC_URL}{fresh}" in body
    signed = await stack.api.post(fresh, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert signed.status_code == 200, signed.text
    assert await workflow_result(stack, proposal_id) == "signed"

    await skip_to(stack, local(valid_until + timedelta(days=3), 12))
    assert len(followup_mails(stack, proposal_id)) == 1, "none after the signature"
    kinds = await audit_kinds(stack, proposal_id)
    assert kinds.count("followup_sent") == 1
    assert kinds.index("followup_sent") < kinds.index("signed")

    async def signed_pdf() -> bytes | None:
        got = await stack.api.get(f"/api/v1/proposals/{proposal_id}/signed.pdf")
        return got.content if got.status_code == 200 else None

    certificate = pdf_text(await eventually(signed_pdf, what="the signed copy"))
    assert "Reamintire trimisă pe email" in certificate, "the certificate names the follow-up"


async def test_declined_after_a_follow_up_gets_no_other(stack: Stack) -> None:
    proposal = await sent_proposal(stack, valid_days=20)
    proposal_id, sent_on = proposal["id"], proposal["sent_on"]
    await skip_to(stack, local(sent_on + timedelta(days=3), 12))
    [first] = await wait_followups(stack, proposal_id, 1)
    declined = await stack.api.post(
        f"{sign_path_of(first)}/decline", data={"reason": "Am ales altă ofertă"}
    )
    assert declined.status_code == 200
    assert await workflow_result(stack, proposal_id) == "declined"
    await skip_to(stack, local(sent_on + timedelta(days=25), 12))
    assert len(followup_mails(stack, proposal_id)) == 1


async def test_an_expiring_proposal_gets_each_follow_up_then_none(stack: Stack) -> None:
    proposal = await sent_proposal(stack, valid_days=12)
    proposal_id, sent_on = proposal["id"], proposal["sent_on"]
    valid_until = date.fromisoformat(proposal["valid_until"])
    await skip_to(stack, local(valid_until + timedelta(days=1), 12))
    assert await workflow_result(stack, proposal_id) == "expired"
    mails = await wait_followups(stack, proposal_id, 3)
    rows = await stack.db.fetch(
        """SELECT idempotency_key, scheduled_for FROM email_outbox
           WHERE proposal_id = $1 AND idempotency_key LIKE '%:followup:%'
           ORDER BY scheduled_for""",
        proposal_id,
    )
    assert [(r["idempotency_key"].rsplit(":", 1)[1], r["scheduled_for"]) for r in rows] == [
        ("1", local(sent_on + timedelta(days=3), 9)),
        ("2", local(sent_on + timedelta(days=7), 9)),
        ("3", local(valid_until - timedelta(days=2), 9)),
    ]
    last = text_of(mails[-1])
    assert f"{format_day(valid_until, 'ro')}, încă 2 zile" in last
    await skip_to(stack, local(valid_until + timedelta(days=20), 12))
    assert len(followup_mails(stack, proposal_id)) == 3, "none after the expiry"
    assert (await audit_kinds(stack, proposal_id)).count("followup_sent") == 3
    await replay_and_record(stack, proposal_id, "followups-expired")


async def test_a_converted_proposal_is_an_invoice_at_review_and_gets_no_follow_up(
    stack: Stack,
) -> None:
    proposal = await sent_proposal(stack)
    proposal_id, sent_on = proposal["id"], proposal["sent_on"]
    await skip_to(stack, local(sent_on + timedelta(days=3), 12))
    await wait_followups(stack, proposal_id, 1)

    converted = await stack.api.post(f"/api/v1/proposals/{proposal_id}/invoice")
    assert converted.status_code == 201, converted.text
    answer = converted.json()
    assert answer["proposal_status"] == "converted"
    assert answer["converted_by"] == "operator:admin"
    invoice_id = answer["invoice_id"]
    invoice = await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert invoice["proposal_id"] == proposal_id
    assert (invoice["total"], invoice["currency"]) == (proposal["total"], "RON")
    assert invoice["lines"] and len(invoice["lines"]) == 2
    assert await workflow_result(stack, proposal_id) == "converted"

    again = await stack.api.post(f"/api/v1/proposals/{proposal_id}/invoice")
    assert again.status_code == 200 and again.json()["invoice_id"] == invoice_id
    assert (
        await stack.db.fetchval("SELECT count(*) FROM invoices WHERE proposal_id = $1", proposal_id)
        == 1
    )

    event = await stack.db.fetchrow(
        "SELECT actor, data FROM audit_events WHERE proposal_id = $1 AND kind = 'converted'",
        proposal_id,
    )
    assert event is not None and event["actor"] == "operator:admin"
    assert await stack.db.fetchval("SELECT count(*) FROM signatures") == 0
    stored = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    assert (stored["status"], stored["invoice_id"]) == ("converted", invoice_id)
    page = await stack.api.get(proposal["sign_path"])
    assert 'name="signer_name"' not in page.text, "the client can no longer sign it"
    assert "Această ofertă a fost închisă: factura vă va fi trimisă pe email." in page.text
    late = await stack.api.post(
        proposal["sign_path"], data={"signer_name": "Ana Pop", "consent": "yes"}
    )
    assert late.status_code == 409

    await skip_to(stack, local(date.fromisoformat(proposal["valid_until"]) + timedelta(days=2), 12))
    assert len(followup_mails(stack, proposal_id)) == 1, "none after the conversion"
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    await replay_and_record(stack, proposal_id, "followups-converted")


async def test_an_expired_proposal_is_converted_by_the_api_itself(stack: Stack) -> None:
    proposal = await sent_proposal(stack, valid_days=1, followup_days_before_expiry=[])
    proposal_id = proposal["id"]
    await skip_to(stack, local(date.fromisoformat(proposal["valid_until"]) + timedelta(days=1), 12))
    assert await workflow_result(stack, proposal_id) == "expired"
    converted = await stack.api.post(f"/api/v1/proposals/{proposal_id}/invoice")
    assert converted.status_code == 201, converted.text
    invoice_id = converted.json()["invoice_id"]
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    assert converted.json()["converted_by"] == "operator:admin"
    assert (await get_json(stack, f"/api/v1/proposals/{proposal_id}"))["status"] == "converted"


async def test_a_convert_signal_from_the_temporal_ui_is_recorded_as_such(stack: Stack) -> None:
    proposal = await sent_proposal(stack)
    proposal_id = proposal["id"]
    handle = stack.env.client.get_workflow_handle(proposal_workflow_id(proposal_id))
    await handle.signal("convert")  # as typed in the Temporal UI: no input
    assert await workflow_result(stack, proposal_id) == "converted"
    stored = await get_json(stack, f"/api/v1/proposals/{proposal_id}")
    await wait_invoice_status(stack, stored["invoice_id"], "awaiting_review")
    assert (
        await stack.db.fetchval(
            "SELECT actor FROM audit_events WHERE proposal_id = $1 AND kind = 'converted'",
            proposal_id,
        )
        == "temporal-ui"
    )


async def test_conversion_is_refused_for_declined_signed_and_draft(stack: Stack) -> None:
    client_id = await create_client(stack)
    draft = await create_proposal(stack, client_id, send=False)
    refused = await stack.api.post(f"/api/v1/proposals/{draft['id']}/invoice")
    assert refused.status_code == 409 and "draft" in refused.json()["detail"]

    declined = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    assert (await stack.api.post(f"{sign_path}/decline", data={"reason": "nu"})).status_code == 200
    assert await workflow_result(stack, declined["id"]) == "declined"
    refused = await stack.api.post(f"/api/v1/proposals/{declined['id']}/invoice")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "the client declined the proposal; it cannot be made an invoice"
    )

    signed = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, skip=1)
    ok = await stack.api.post(sign_path, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert ok.status_code == 200
    assert await workflow_result(stack, signed["id"]) == "signed"
    refused = await stack.api.post(f"/api/v1/proposals/{signed['id']}/invoice")
    assert refused.status_code == 409 and "signed" in refused.json()["detail"]
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM invoices WHERE proposal_id = $1", declined["id"]
        )
        == 0
    )


async def test_company_schedule_and_a_proposals_own(stack: Stack) -> None:
    bad = await stack.api.patch(
        "/api/v1/company", json={"proposal_followup_days_after_sent": [2, 0]}
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "proposal_followup_days_after_sent"]
    company = await stack.api.patch(
        "/api/v1/company",
        json={
            "proposal_followup_days_after_sent": [5, 2],
            "proposal_followup_days_before_expiry": [1],
        },
    )
    assert company.status_code == 200, company.text
    assert company.json()["proposal_followup_days_after_sent"] == [2, 5]
    assert (await get_json(stack, "/api/v1/company"))["proposal_followup_days_before_expiry"] == [1]

    client_id = await create_client(stack)
    today = (await stack.env.get_current_time()).astimezone(BUCHAREST).date()
    refused = await stack.api.post(
        "/api/v1/proposals",
        json={
            "client_id": client_id, "currency": "RON",
            "valid_until": (today + timedelta(days=9)).isoformat(),
            "lines": [{"description": "x", "quantity": "1", "unit": "h", "unit_price": "1.00",
                       "vat_rate": "21"}],
            "followup_days_before_expiry": [500],
        },
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "followup_days_before_expiry"]

    # Its own days after sending (the 1st), the company's before expiry (1 day before).
    proposal = await sent_proposal(stack, valid_days=9, followup_days_after_sent=[1])
    assert proposal["followup_days_after_sent"] == [1]
    assert proposal["followup_days_before_expiry"] is None
    proposal_id, sent_on = proposal["id"], proposal["sent_on"]
    valid_until = date.fromisoformat(proposal["valid_until"])
    await skip_to(stack, local(valid_until + timedelta(days=1), 12))
    assert await workflow_result(stack, proposal_id) == "expired"
    scheduled = await stack.db.fetchval(
        """SELECT array_agg(scheduled_for ORDER BY scheduled_for) FROM email_outbox
           WHERE proposal_id = $1 AND idempotency_key LIKE '%:followup:%'""",
        proposal_id,
    )
    assert scheduled == [
        local(sent_on + timedelta(days=1), 9),
        local(valid_until - timedelta(days=1), 9),
    ]
    assert "încă 1 zi" in text_of(followup_mails(stack, proposal_id)[-1])


async def test_a_retried_follow_up_sends_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox row is written, then the worker dies before SMTP: the retried activity
    sends it; further retries send nothing more and audit nothing more."""
    proposal = await sent_proposal(
        stack, followup_days_after_sent=[], followup_days_before_expiry=[]
    )
    proposal_id = proposal["id"]
    activities = ProposalActivities(stack.services)
    followup = FollowupInput(proposal_id, 1, local(proposal["sent_on"] + timedelta(days=3), 9))

    async def killed(*_: object, **__: object) -> bool:
        raise ConnectionResetError("worker killed mid-send")

    monkeypatch.setattr(stack.services.mailer, "deliver_on", killed)
    with pytest.raises(ConnectionResetError):
        await ActivityEnvironment().run(activities.send_proposal_followup, followup)
    monkeypatch.undo()
    key = followups.step_key(proposal_id, 1)
    assert (
        await stack.db.fetchval("SELECT status FROM email_outbox WHERE idempotency_key = $1", key)
        == "pending"
    )
    for _ in range(3):
        assert (
            await ActivityEnvironment().run(activities.send_proposal_followup, followup) == "sent"
        )
    await eventually(lambda: _count(stack, key, 1), what="the follow-up delivered")
    await asyncio.sleep(0.3)
    assert len([m for m in stack.mail.messages if m["X-Q2C-Key"] == key]) == 1
    assert (await audit_kinds(stack, proposal_id)).count("followup_sent") == 1


async def _count(stack: Stack, key: str, count: int) -> bool:
    return len([m for m in stack.mail.messages if m["X-Q2C-Key"] == key]) == count


def test_the_cli_converts_through_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", "cli-key")
    monkeypatch.setenv("Q2C_API_URL", "http://q2c-cli.test")
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    proposal_id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    answer = {
        "proposal_id": proposal_id,
        "proposal_status": "converted",
        "invoice_id": "7c0e3f64-5717-4562-b3fc-2c963f66afa6",
        "invoice_status": "draft",
        "converted_by": "operator:admin",
        "converted_at": "2026-12-04T10:00:00+00:00",
        "workflow_id": "invoice-7c0e3f64-5717-4562-b3fc-2c963f66afa6",
    }
    sent: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json=answer)

    code = main(["--json", "proposals", "invoice", proposal_id], transport=httpx.MockTransport(api))
    assert code == 0
    [request] = sent
    assert request.method == "POST"
    assert request.url == f"http://q2c-cli.test/api/v1/proposals/{proposal_id}/invoice"
    assert json.loads(capsys.readouterr().out) == answer
