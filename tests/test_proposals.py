"""A proposal that is declined, or that nobody signs before it expires."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from messages.models import proposal_workflow_id
from tests.conftest import Stack
from tests.helpers import create_client, create_proposal, get_json, proposal_email
from workflows.proposal import ProposalWorkflow


async def test_decline_is_recorded_and_the_link_stops_offering_a_form(stack: Stack) -> None:
    proposal = await create_proposal(stack, await create_client(stack))
    _, sign_path = await proposal_email(stack)

    declined = await stack.api.post(f"{sign_path}/decline", data={"reason": "Prea scump"})
    assert declined.status_code == 200
    handle = stack.env.client.get_workflow_handle_for(
        ProposalWorkflow.run, proposal_workflow_id(proposal["id"])
    )
    state = await handle.result()
    assert state.status == "declined" and state.invoice_id is None

    stored = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
    assert stored["status"] == "declined" and stored["decline_reason"] == "Prea scump"
    assert stored["invoice_id"] is None
    page = await stack.api.get(sign_path)
    assert "Această ofertă a fost refuzată." in page.text
    assert 'name="signer_name"' not in page.text
    late = await stack.api.post(sign_path, data={"signer_name": "Ana Pop", "consent": "yes"})
    assert late.status_code == 409
    assert await stack.db.fetchval("SELECT count(*) FROM invoices") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM signatures") == 0
    audit = await stack.db.fetchrow(
        "SELECT * FROM audit_events WHERE proposal_id = $1 AND kind = 'declined'", proposal["id"]
    )
    assert audit is not None and audit["ip"] == "203.0.113.7" and audit["actor"] == "client"


async def test_proposal_expires_at_the_end_of_its_last_valid_day(stack: Stack) -> None:
    now = await stack.env.get_current_time()
    bucharest = ZoneInfo("Europe/Bucharest")
    last_day = now.astimezone(bucharest).date() + timedelta(days=2)
    proposal = await create_proposal(stack, await create_client(stack), valid_until=last_day)
    _, sign_path = await proposal_email(stack)
    handle = stack.env.client.get_workflow_handle_for(
        ProposalWorkflow.run, proposal_workflow_id(proposal["id"])
    )

    just_before = datetime.combine(last_day, time(23, 50), tzinfo=bucharest).astimezone(UTC)
    await stack.env.sleep(just_before - await stack.env.get_current_time())
    assert (await handle.query(ProposalWorkflow.status)).status == "sent"

    just_after = datetime.combine(
        last_day + timedelta(days=1), time(0, 10), tzinfo=bucharest
    ).astimezone(UTC)
    await stack.env.sleep(just_after - await stack.env.get_current_time())
    state = await handle.result()
    assert state.status == "expired"
    stored = await get_json(stack, f"/api/v1/proposals/{proposal['id']}")
    assert stored["status"] == "expired"
    page = await stack.api.get(sign_path)
    assert "a expirat" in page.text and 'name="signer_name"' not in page.text
