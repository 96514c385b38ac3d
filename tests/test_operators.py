"""Operators with their own keys and roles, and who did what (issue 13, point 2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db import operators as operator_store
from domain.errors import InvalidInput
from domain.operators import (
    REQUEST_VALID_FOR,
    TEMPORAL_UI,
    Role,
    allows,
    check_name,
    operator_actor,
    required_role,
    should_record_use,
)
from starter.api.app import create_app
from starter.cli.main import main
from tests.conftest import API_KEY, PUBLIC_URL, Stack
from tests.helpers import (
    CLIENT,
    create_client,
    create_proposal,
    eventually,
    get_json,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)


@asynccontextmanager
async def as_key(stack: Stack, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The stack's API, called with another operator's key."""
    transport = httpx.ASGITransport(app=stack.app, client=("203.0.113.8", 50001))
    async with httpx.AsyncClient(
        transport=transport, base_url=PUBLIC_URL, headers={"Authorization": f"Bearer {key}"}
    ) as api:
        yield api


async def add_operator(stack: Stack, name: str, role: str) -> dict[str, Any]:
    response = await stack.api.post("/api/v1/operators", json={"name": name, "role": role})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_added_operators_key_works_and_the_list_never_shows_keys(stack: Stack) -> None:
    alice = await add_operator(stack, "alice", "operator")
    assert alice["name"] == "alice" and alice["role"] == "operator" and alice["active"]
    key = alice["key"]
    assert len(key) >= 40
    async with as_key(stack, key) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 200
        created = await api.post("/api/v1/clients", json=CLIENT)
        assert created.status_code == 201, created.text
        # Operators are the admin's business.
        refused = await api.post("/api/v1/operators", json={"name": "mallory", "role": "admin"})
        assert refused.status_code == 403
        assert "admin role" in refused.json()["detail"]

    listing = await stack.api.get("/api/v1/operators")
    assert listing.status_code == 200
    by_name = {op["name"]: op for op in listing.json()["items"]}
    # The bootstrap key (the settings' API key) is the first admin.
    assert by_name["admin"]["role"] == "admin"
    assert by_name["alice"]["role"] == "operator"
    assert by_name["alice"]["last_used_at"] is not None
    stored_hash = await stack.db.fetchval("SELECT key_hash FROM operators WHERE name = 'alice'")
    assert stored_hash != key
    assert key not in listing.text and stored_hash not in listing.text
    assert "key" not in by_name["alice"] and "key_hash" not in by_name["alice"]
    # A second active operator of the same name would make records ambiguous.
    again = await stack.api.post("/api/v1/operators", json={"name": "alice", "role": "viewer"})
    assert again.status_code == 409


async def test_a_viewer_reads_but_every_write_is_refused_with_403(stack: Stack) -> None:
    viewer = await add_operator(stack, "victor", "viewer")
    async with as_key(stack, viewer["key"]) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 200
        assert (await api.get("/api/v1/tasks")).status_code == 200
        refused = await api.post("/api/v1/clients", json=CLIENT)
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "this needs the operator role; your key has the viewer role"
        )
        assert (await api.post("/api/v1/tasks", json={"title": "x"})).status_code == 403
        assert (await api.patch("/api/v1/company", json={"name": "X"})).status_code == 403
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0
    assert await stack.db.fetchval("SELECT count(*) FROM tasks") == 0


async def test_company_settings_are_the_admins(stack: Stack) -> None:
    operator = await add_operator(stack, "olga", "operator")
    async with as_key(stack, operator["key"]) as api:
        refused = await api.patch("/api/v1/company", json={"name": "Other SRL"})
        assert refused.status_code == 403
        assert "admin role" in refused.json()["detail"]
        assert (await api.get("/api/v1/company")).status_code == 200
    changed = await stack.api.patch("/api/v1/company", json={"name": "Other SRL"})
    assert changed.status_code == 200, changed.text


async def test_a_revoked_or_unknown_key_gets_401(stack: Stack) -> None:
    bob = await add_operator(stack, "bob", "operator")
    revoked = await stack.api.post(f"/api/v1/operators/{bob['id']}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False and "key" not in revoked.json()
    async with as_key(stack, bob["key"]) as api:
        answer = await api.get("/api/v1/invoices")
        assert answer.status_code == 401
        assert answer.json()["detail"] == "this API key has been revoked"
    async with as_key(stack, "q2c_not-a-key") as api:
        assert (await api.get("/api/v1/invoices")).status_code == 401
    # A revoked operator cannot be given a new key.
    assert (await stack.api.post(f"/api/v1/operators/{bob['id']}/rotate")).status_code == 404


async def test_rotating_a_key_retires_the_old_one(stack: Stack) -> None:
    carol = await add_operator(stack, "carol", "viewer")
    rotated = await stack.api.post(f"/api/v1/operators/{carol['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["key"]
    assert new_key != carol["key"]
    async with as_key(stack, carol["key"]) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 401
    async with as_key(stack, new_key) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 200


async def test_last_use_is_written_at_most_once_a_minute(stack: Stack) -> None:
    dan = await add_operator(stack, "dan", "viewer")
    async with as_key(stack, dan["key"]) as api:
        await api.get("/api/v1/invoices")
        first = await stack.db.fetchval("SELECT last_used_at FROM operators WHERE name = 'dan'")
        assert first is not None
        for _ in range(3):
            assert (await api.get("/api/v1/invoices")).status_code == 200
    assert await stack.db.fetchval("SELECT last_used_at FROM operators WHERE name = 'dan'") == first


async def test_the_bootstrap_key_is_registered_once_and_not_again_once_rotated(
    stack: Stack,
) -> None:
    async def admins() -> list[dict[str, Any]]:
        listing = (await stack.api.get("/api/v1/operators")).json()["items"]
        return [op for op in listing if op["name"] == "admin"]

    [admin] = await admins()
    assert admin["role"] == "admin" and admin["active"]
    # The API starts again with the same key: still one admin.
    restarted = create_app(stack.settings, pool=stack.db, temporal=stack.env.client)
    async with restarted.router.lifespan_context(restarted):
        pass
    assert len(await admins()) == 1
    # Rotated away, the bootstrap key is not brought back by the next start.
    rotated = await stack.api.post(f"/api/v1/operators/{admin['id']}/rotate")
    new_key = rotated.json()["key"]
    async with restarted.router.lifespan_context(restarted):
        pass
    async with as_key(stack, API_KEY) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 401
    async with as_key(stack, new_key) as api:
        assert (await api.get("/api/v1/operators")).status_code == 200


# --- the CLI, against the API served over real HTTP ----------------------------------------


async def test_cli_adds_lists_rotates_and_revokes_operators(
    stack: Stack,
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("Q2C_API_URL", live_url)
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))

    async def q2c(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, _ = await q2c("operators", "add", "erin", "--role", "operator")
    assert code == 0
    key = out.rstrip("\n").splitlines()[-1]
    # The last line is the key alone: `| tail -n 1` gives it.
    assert key.startswith("q2c_") and " " not in key
    assert "erin" in out
    async with as_key(stack, key) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 200

    code, out, _ = await q2c("operators", "list")
    assert code == 0
    assert "erin" in out and "operator" in out and "admin" in out
    stored_hash = await stack.db.fetchval("SELECT key_hash FROM operators WHERE name = 'erin'")
    assert key not in out and stored_hash not in out
    code, out, _ = await q2c("--json", "operators", "list")
    assert key not in out and stored_hash not in out
    erin_id = next(op["id"] for op in json.loads(out)["items"] if op["name"] == "erin")

    code, out, _ = await q2c("operators", "rotate", erin_id)
    assert code == 0
    new_key = out.rstrip("\n").splitlines()[-1]
    assert new_key.startswith("q2c_") and new_key != key
    async with as_key(stack, key) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 401

    code, out, _ = await q2c("operators", "revoke", erin_id)
    assert code == 0 and "revoked" in out
    async with as_key(stack, new_key) as api:
        assert (await api.get("/api/v1/invoices")).status_code == 401

    # An operator's key cannot manage operators: the CLI says why and exits 1.
    monkeypatch.setenv("Q2C_API_KEY", (await add_operator(stack, "fay", "operator"))["key"])
    code, _, err = await q2c("operators", "add", "gus", "--role", "admin")
    assert code == 1 and "admin role" in err


# --- the role rules (domain.operators) -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/api/v1/invoices", Role.VIEWER),
        ("GET", "/api/v1/company", Role.VIEWER),
        ("POST", "/api/v1/invoices/{invoice_id}/approve", Role.OPERATOR),
        ("POST", "/api/v1/invoices/{invoice_id}/refunds", Role.OPERATOR),
        ("POST", "/api/v1/tasks", Role.OPERATOR),
        ("PATCH", "/api/v1/company", Role.ADMIN),
        ("POST", "/api/v1/company/bank-accounts", Role.ADMIN),
        ("PUT", "/api/v1/number-series/{kind}/{series}", Role.ADMIN),
        ("PUT", "/api/v1/clients/{client_id}/reminders", Role.ADMIN),
        ("GET", "/api/v1/clients/{client_id}/reminders", Role.VIEWER),
        ("DELETE", "/api/v1/webhook-subscriptions/{subscription_id}", Role.ADMIN),
        ("GET", "/api/v1/operators", Role.ADMIN),
        ("POST", "/api/v1/operators/{operator_id}/rotate", Role.ADMIN),
        # The Temporal UI reading a payload is a read; encoding one is how it sends a signal.
        ("POST", "/codec/decode", Role.VIEWER),
        ("POST", "/codec/encode", Role.OPERATOR),
        # A prefix is a whole path segment, not any string that starts alike.
        ("POST", "/api/v1/company-other", Role.OPERATOR),
    ],
)
def test_the_role_each_request_needs(method: str, path: str, needed: Role) -> None:
    assert required_role(method, path) == needed


def test_roles_include_the_ones_below_them() -> None:
    assert allows(Role.ADMIN, Role.OPERATOR) and allows(Role.ADMIN, Role.VIEWER)
    assert allows(Role.OPERATOR, Role.VIEWER) and not allows(Role.OPERATOR, Role.ADMIN)
    assert not allows(Role.VIEWER, Role.OPERATOR)


def test_names_and_last_use() -> None:
    assert check_name(" alice ") == "alice"
    for bad in ("", "a b", "-x", "x" * 65, "al\nice", "temporal ui"):
        with pytest.raises(InvalidInput):
            check_name(bad)
    assert operator_actor("alice") == "operator:alice"
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert should_record_use(None, now)
    assert not should_record_use(now - timedelta(seconds=59), now)
    assert should_record_use(now - timedelta(minutes=1), now)


# --- who did it: from the route through the workflow into every record ---------------------


async def invoice_in_review(stack: Stack) -> str:
    client_id = await create_client(stack)
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack)
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    return invoice_id


async def audit_actors(stack: Stack, invoice_id: str) -> dict[str, str]:
    rows = await stack.db.fetch(
        "SELECT kind, actor FROM audit_events WHERE invoice_id = $1 ORDER BY id", invoice_id
    )
    return {row["kind"]: row["actor"] for row in rows}


async def history_by_target(stack: Stack, invoice_id: str) -> dict[str, str]:
    history = await get_json(stack, f"/api/v1/invoices/{invoice_id}/history")
    return {change["to"]: change["actor"] for change in history["items"]}


async def test_an_operators_approval_and_payment_are_recorded_as_theirs(stack: Stack) -> None:
    alice = await add_operator(stack, "alice", "operator")
    invoice_id = await invoice_in_review(stack)
    async with as_key(stack, alice["key"]) as api:
        edited = await api.patch(f"/api/v1/invoices/{invoice_id}", json={"notes": "Mulțumim"})
        assert edited.status_code == 200, edited.text
        approved = await api.post(f"/api/v1/invoices/{invoice_id}/approve")
        assert approved.status_code == 202, approved.text
        await wait_invoice_status(stack, invoice_id, "sent")
        paid = await api.post(
            f"/api/v1/invoices/{invoice_id}/payments",
            json={"amount": "100.00", "paid_at": "2026-12-01", "reference": "OP-1"},
        )
        assert paid.status_code == 201, paid.text
        refunded = await api.post(
            f"/api/v1/invoices/{invoice_id}/refunds",
            json={"payment_reference": "OP-1", "amount": "10.00", "reference": "RF-1"},
        )
        assert refunded.status_code == 201, refunded.text
        refunds = (await api.get(f"/api/v1/invoices/{invoice_id}/refunds")).json()["items"]
        assert [refund["recorded_by"] for refund in refunds] == ["operator:alice"]
        task = await api.post("/api/v1/tasks", json={"title": "Call", "invoice_id": invoice_id})
        assert task.json()["opened_by"] == "operator:alice"
        done = await api.post(f"/api/v1/tasks/{task.json()['id']}/done")
        assert done.status_code == 200, done.text
        assert done.json()["closed_by"] == "operator:alice"

    history = await history_by_target(stack, invoice_id)
    assert history["awaiting_review"] == "system"
    assert history["sent"] == "operator:alice"
    assert history["partially_paid"] == "operator:alice"
    actors = await audit_actors(stack, invoice_id)
    assert actors["approved"] == "operator:alice"
    assert actors["payment"] == "operator:alice"
    assert actors["edited"] == "operator:alice"
    assert actors["refund"] == "operator:alice"
    payment = await stack.db.fetchrow(
        "SELECT recorded_by FROM payments WHERE invoice_id = $1", invoice_id
    )
    assert payment is not None and payment["recorded_by"] == "operator:alice"
    task_row = await stack.db.fetchrow(
        "SELECT opened_by, closed_by FROM tasks WHERE kind = 'manual'"
    )
    assert task_row is not None
    assert (task_row["opened_by"], task_row["closed_by"]) == ("operator:alice", "operator:alice")
    # Nothing is recorded as the anonymous "api" or "operator" any more.
    assert not {"api", "operator"} & set(actors.values())


async def test_signals_sent_past_the_api_are_recorded_as_the_temporal_ui(stack: Stack) -> None:
    alice = await add_operator(stack, "alice", "operator")
    invoice_id = await invoice_in_review(stack)
    handle = stack.env.client.get_workflow_handle(f"invoice-{invoice_id}")
    # As the Temporal UI sends it: plain JSON, claiming to be alice.
    await handle.signal("approve", {"approved_by": "alice"})
    await wait_invoice_status(stack, invoice_id, "sent")
    assert (await audit_actors(stack, invoice_id))["approved"] == "temporal-ui"
    assert (await history_by_target(stack, invoice_id))["sent"] == "temporal-ui"

    # An id of a request alice made (seen in a workflow's history) cannot be used again, nor
    # for another action: the pause alice asked for is hers, a replay of its id is not.
    async with as_key(stack, alice["key"]) as api:
        paused = await api.post(f"/api/v1/invoices/{invoice_id}/reminders/pause")
        assert paused.status_code == 202, paused.text

    async def kinds() -> dict[str, str] | None:
        actors = await audit_actors(stack, invoice_id)
        return actors if "reminders_paused" in actors else None

    assert (await eventually(kinds, what="the pause"))["reminders_paused"] == "operator:alice"
    used = await stack.db.fetchval(
        "SELECT id::text FROM operator_requests WHERE action = 'pause_reminders'"
    )
    await handle.signal("resume_reminders", {"requested_by": "alice", "request_id": used})

    async def resumed() -> dict[str, str] | None:
        actors = await audit_actors(stack, invoice_id)
        return actors if "reminders_resumed" in actors else None

    assert (await eventually(resumed, what="the resume"))["reminders_resumed"] == "temporal-ui"

    await handle.signal("void", {"reason": "UI", "voided_by": "alice", "request_id": used})
    await wait_invoice_status(stack, invoice_id, "void")
    assert (await audit_actors(stack, invoice_id))["voided"] == "temporal-ui"
    assert (await history_by_target(stack, invoice_id))["void"] == "temporal-ui"


async def test_the_last_active_admin_cannot_be_revoked(stack: Stack) -> None:
    listing = (await stack.api.get("/api/v1/operators")).json()["items"]
    [admin] = [op for op in listing if op["role"] == "admin"]
    refused = await stack.api.post(f"/api/v1/operators/{admin['id']}/revoke")
    assert refused.status_code == 409
    assert "last active admin" in refused.json()["detail"]
    assert (await stack.api.get("/api/v1/operators")).status_code == 200
    second = await add_operator(stack, "root2", "admin")
    assert (await stack.api.post(f"/api/v1/operators/{admin['id']}/revoke")).status_code == 200
    async with as_key(stack, second["key"]) as api:
        assert (await api.get("/api/v1/operators")).status_code == 200


async def test_a_proposal_is_sent_in_the_name_of_who_sent_it(stack: Stack) -> None:
    alice = await add_operator(stack, "alice", "operator")
    client_id = await create_client(stack)
    async with as_key(stack, alice["key"]) as api:
        today = (await stack.env.get_current_time()).date()
        body = {
            "client_id": client_id,
            "currency": "RON",
            "valid_until": today.replace(year=today.year + 1).isoformat(),
            "send": False,
            "lines": [
                {"description": "Audit", "quantity": "1", "unit_price": "100", "vat_rate": "21"}
            ],
        }
        draft = await api.post("/api/v1/proposals", json=body)
        assert draft.status_code == 201, draft.text
        sent = await api.post(f"/api/v1/proposals/{draft.json()['id']}/send")
        assert sent.status_code == 200, sent.text
    await proposal_email(stack)
    trail = await get_json(stack, f"/api/v1/proposals/{draft.json()['id']}/audit")
    [sent_event] = [event for event in trail["events"] if event["kind"] == "sent"]
    assert sent_event["actor"] == "operator:alice"


async def test_a_stale_or_used_request_is_recorded_as_the_temporal_ui(stack: Stack) -> None:
    """A request id copied out of a history cannot be redeemed in the operator's name once
    used, nor once it is older than REQUEST_VALID_FOR."""
    async with stack.db.acquire() as conn:
        fresh = await operator_store.record_request(
            conn, actor="operator:alice", action="approve", target="inv-1"
        )
        stale = await operator_store.record_request(
            conn, actor="operator:alice", action="approve", target="inv-1"
        )
        await conn.execute(
            "UPDATE operator_requests SET created_at = now() - $2::interval WHERE id = $1::uuid",
            stale,
            REQUEST_VALID_FOR + timedelta(minutes=1),
        )
        assert await operator_store.take_request(conn, stale, "approve", "inv-1") == TEMPORAL_UI
        assert await operator_store.take_request(conn, fresh, "void", "inv-1") == TEMPORAL_UI
        taken = await operator_store.take_request(conn, fresh, "approve", "inv-1")
        assert taken == "operator:alice"
        assert await operator_store.take_request(conn, fresh, "approve", "inv-1") == TEMPORAL_UI
