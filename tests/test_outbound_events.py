"""Outbound events on real parts: signed webhooks POSTed over real HTTP to a receiver that
verifies them the way the README tells integrators to, retried on the time-skipping server,
with the delivery log and the subscriptions through the API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.events import emit_task_created
from db import store
from starter.devstack.mailsink import MailSink
from tests.conftest import PUBLIC_URL, Stack, release_time_skipping, stack_on
from tests.helpers import (
    CLIENT,
    create_client,
    create_proposal,
    eventually,
    get_json,
    issued_invoice,
    proposal_email,
    sign_and_get_invoice,
    wait_invoice_status,
)

INVOICE_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/i/[A-Za-z0-9_\-]+)")
BUCHAREST = ZoneInfo("Europe/Bucharest")


# --- a receiver, as an integrator would write it ------------------------------------------


def verify(header: str, body: bytes, secret: str, tolerance: int = 300) -> bool:
    """Written from the README, not from q2c's code: HMAC-SHA256 over "{t}.{body}"."""
    fields = dict(part.strip().split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return hmac.compare_digest(expected, fields.get("v1", "")) and fresh


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1: per path a secret to verify with and answers to give
    first (then 200); it de-duplicates by event id as the README asks receivers to."""

    secrets: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    hits: list[Hit] = field(default_factory=list)
    accepted: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    duplicates: list[Hit] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits_at(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def events_at(self, path: str) -> list[dict[str, Any]]:
        """Accepted events, in the order of their sequence numbers."""
        return sorted(self.accepted[path].values(), key=lambda e: int(e["sequence"]))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1")
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = request_line.split(" ")[1]
        status = self.answer(path, headers, body)
        self.hits.append(Hit(path, headers, body, status))
        reply = b"ok" if status < 300 else b"receiver says no"
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n".encode()
            + reply
        )
        await writer.drain()
        writer.close()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        secret = self.secrets.get(path)
        signature = headers.get("q2c-signature", "")
        if secret is None or not signature or not verify(signature, body, secret):
            return 401
        if self.scripts[path]:
            return self.scripts[path].pop(0)
        event = json.loads(body)
        if event["id"] in self.accepted[path]:
            self.duplicates.append(Hit(path, headers, body, 200))
        else:
            self.accepted[path][event["id"]] = event
        return 200


@pytest.fixture(name="stack")
async def stack_allowing_local_receivers(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> AsyncIterator[Stack]:
    """The stack, with the receiver's 127.0.0.1 allowed: webhooks go to public addresses
    only, unless allowed on purpose (tests/test_web_edges.py shows the refusals). Import it
    into another test module that delivers to a Receiver."""
    async with stack_on(env, db, mail, database_url, webhook_allow_hosts=("127.0.0.1",)) as on:
        yield on


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    server = await asyncio.start_server(hooks.serve, "127.0.0.1", 0)
    hooks.port = server.sockets[0].getsockname()[1]
    async with server:
        yield hooks


async def subscribe(
    stack: Stack, receiver: Receiver, path: str, event_types: list[str] | str
) -> dict[str, Any]:
    response = await stack.api.post(
        "/api/v1/webhook-subscriptions",
        json={"url": receiver.url(path), "event_types": event_types, "description": path},
    )
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()
    assert subscription["secret"].startswith("whsec_")
    receiver.secrets[path] = subscription["secret"]
    return subscription


async def deliveries(stack: Stack, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    items: list[dict[str, Any]] = (await get_json(stack, f"/api/v1/webhook-deliveries?{query}"))[
        "items"
    ]
    return items


async def all_delivered(stack: Stack, subscription_id: str, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await deliveries(stack, subscription_id=subscription_id)
        done = len(found) == count and all(d["status"] == "delivered" for d in found)
        return found if done else None

    return await eventually(probe, what=f"{count} deliveries to {subscription_id}")


async def hosted_link(stack: Stack, number: str) -> str:
    message = await stack.mail.wait_for(lambda m: number in str(m["Subject"]))
    body = message.get_body(("plain",))
    assert body is not None
    match = INVOICE_LINK.search(body.get_content())
    assert match
    return match.group(1)


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["type"]) for event in events]


# --- the whole life of a paid proposal --------------------------------------------------


LIFE_OF_A_PAID_PROPOSAL = [
    "proposal.sent",
    "proposal.viewed",
    "proposal.signed",
    "invoice.created",
    "invoice.approved",
    "invoice.sent",
    "invoice.viewed",
    "payment.recorded",
    "invoice.partially_paid",
    "task.created",
    "payment.recorded",
    "invoice.paid",
]


async def test_each_subscriber_gets_each_event_once_signed_with_its_own_secret(
    stack: Stack, receiver: Receiver
) -> None:
    everything = await subscribe(stack, receiver, "/all", "*")
    money = await subscribe(stack, receiver, "/money", ["payment.recorded", "invoice.paid"])
    unmatched = await subscribe(stack, receiver, "/none", ["proposal.declined", "invoice.voided"])

    proposal = await create_proposal(stack, await create_client(stack))
    _, sign_path = await proposal_email(stack)
    for _ in range(2):  # the second view is no event
        assert (await stack.api.get(sign_path)).status_code == 200
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    invoice = await wait_invoice_status(stack, invoice_id, "sent")
    link = await hosted_link(stack, invoice["number"])
    for _ in range(2):
        assert (await stack.api.get(link)).status_code == 200
    pay = f"/api/v1/invoices/{invoice_id}/payments"
    first = await stack.api.post(
        pay, json={"amount": "1000.00", "paid_at": "2026-12-01", "reference": "P-1"}
    )
    assert first.status_code == 201 and first.json()["status"] == "partially_paid", first.text
    task = await stack.api.post(
        "/api/v1/tasks", json={"title": "Confirmă restul plății", "invoice_id": invoice_id}
    )
    assert task.status_code == 201, task.text
    rest = {"amount": "3114.00", "paid_at": "2026-12-05", "reference": "P-2"}
    assert (await stack.api.post(pay, json=rest)).json()["status"] == "paid"
    again = await stack.api.post(pay, json=rest)  # a retried payment: no new event
    assert again.status_code == 200 and again.json()["payment_recorded"] is False

    await all_delivered(stack, everything["id"], len(LIFE_OF_A_PAID_PROPOSAL))
    await all_delivered(stack, money["id"], 3)

    # Everything, in the order it happened; the narrower subscription only its types.
    everything_got = receiver.events_at("/all")
    assert types_of(everything_got) == LIFE_OF_A_PAID_PROPOSAL
    money_got = receiver.events_at("/money")
    assert types_of(money_got) == ["payment.recorded", "payment.recorded", "invoice.paid"]
    # The same events (ids, bodies) to both; each POSTed once, accepted at the first try.
    by_id = {event["id"]: event for event in everything_got}
    assert all(by_id[event["id"]] == event for event in money_got)
    assert receiver.duplicates == []
    assert len(receiver.hits_at("/all")) == len(LIFE_OF_A_PAID_PROPOSAL)
    assert len(receiver.hits_at("/money")) == 3
    assert {hit.answered for hit in receiver.hits} == {200}
    # Nothing for a subscription to types that did not happen: no request, no delivery.
    assert receiver.hits_at("/none") == []
    assert await deliveries(stack, subscription_id=unmatched["id"]) == []

    for hit in receiver.hits:
        assert hit.headers["q2c-event-id"] == hit.event["id"]
        assert hit.headers["q2c-event-type"] == hit.event["type"]
        assert hit.headers["content-type"] == "application/json"
        other = receiver.secrets["/money" if hit.path == "/all" else "/all"]
        assert not verify(hit.headers["q2c-signature"], hit.body, other), "per-subscription"
        # Ids, numbers, statuses and amounts; not the client's email or the signer's name.
        assert CLIENT["email"] not in hit.body.decode() and "Ana Pop" not in hit.body.decode()

    events = {event["type"]: event["data"] for event in everything_got}
    assert events["proposal.signed"]["proposal"] == {
        "id": proposal["id"],
        "status": "signed",
        "client_id": proposal["client_id"],
        "external_id": None,
        "currency": "RON",
        "total": "4114.00",
        "valid_until": proposal["valid_until"],
        "invoice_id": invoice_id,
    }
    assert events["invoice.approved"]["invoice"]["number"] == invoice["number"]
    assert events["invoice.sent"]["invoice"]["due_date"] == invoice["due_date"]
    partial = events["invoice.partially_paid"]
    assert partial["invoice"]["status"] == "partially_paid"
    assert partial["invoice"]["amount_due"] == "3114.00" and partial["payment_reference"] == "P-1"
    paid = events["invoice.paid"]["invoice"]
    assert (paid["status"], paid["amount_paid"], paid["amount_due"]) == ("paid", "4114.00", "0.00")
    payments = [e["data"]["payment"] for e in everything_got if e["type"] == "payment.recorded"]
    assert payments == [
        {
            "reference": "P-1",
            "amount": "1000.00",
            "currency": "RON",
            "paid_at": "2026-12-01",
            "source": "transfer",
        },
        {
            "reference": "P-2",
            "amount": "3114.00",
            "currency": "RON",
            "paid_at": "2026-12-05",
            "source": "transfer",
        },
    ]
    made = events["task.created"]["task"]
    assert made["id"] == task.json()["id"] and made["kind"] == "manual"
    assert made["title"] == "Confirmă restul plății" and made["invoice_id"] == invoice_id

    # The event feed and the delivery log.
    feed = (await get_json(stack, "/api/v1/events?limit=500"))["items"]
    assert [e["id"] for e in feed] == [e["id"] for e in everything_got]
    assert [e["data"] for e in feed] == [e["data"] for e in everything_got]
    recorded = await get_json(stack, "/api/v1/events?type=payment.recorded")
    assert [e["data"]["payment"]["reference"] for e in recorded["items"]] == ["P-1", "P-2"]
    of_invoice = await get_json(stack, f"/api/v1/events?invoice_id={invoice_id}")
    assert types_of(of_invoice["items"]) == LIFE_OF_A_PAID_PROPOSAL[3:]
    since = feed[5]["occurred_at"]
    later = await stack.api.get("/api/v1/events", params={"since": since})
    assert later.status_code == 200, later.text
    expected_later = [
        e["id"]
        for e in feed
        if datetime.fromisoformat(e["occurred_at"]) > datetime.fromisoformat(since)
    ]
    assert [e["id"] for e in later.json()["items"]] == expected_later
    assert feed[5]["id"] not in expected_later
    page = await get_json(stack, f"/api/v1/events?after={feed[3]['sequence']}&limit=2")
    assert [e["id"] for e in page["items"]] == [feed[4]["id"], feed[5]["id"]]
    assert page["next_after"] == feed[5]["sequence"]
    unknown = await stack.api.get("/api/v1/events?type=invoice.exploded")
    assert unknown.status_code == 422

    log = await deliveries(stack, subscription_id=everything["id"], status="delivered")
    assert len(log) == len(LIFE_OF_A_PAID_PROPOSAL)
    for delivery in log:
        assert delivery["attempts"] == 1 and delivery["last_status_code"] == 200
        assert delivery["delivered_at"] and delivery["last_error"] == ""
        assert delivery["url"] == receiver.url("/all")
    assert await deliveries(stack, subscription_id=money["id"], status="pending") == []
    listed = (await get_json(stack, "/api/v1/webhook-subscriptions"))["items"]
    assert [s["id"] for s in listed] == [everything["id"], money["id"], unmatched["id"]]
    assert all("secret" not in s for s in listed), "the secret is shown once, at creation"
    assert listed[1]["event_types"] == ["invoice.paid", "payment.recorded"]
    assert listed[0]["event_types"] == ["*"] and listed[0]["active"] is True


# --- retries --------------------------------------------------------------------------------


async def test_a_receiver_failing_twice_gets_the_event_once_at_the_third_attempt(
    stack: Stack, receiver: Receiver
) -> None:
    subscription = await subscribe(stack, receiver, "/flaky", ["proposal.sent"])
    receiver.scripts["/flaky"] = [500, 500]
    await create_proposal(stack, await create_client(stack))

    async def hits(count: int) -> list[Hit]:
        return await hits_at_least(receiver, "/flaky", count)

    await hits(1)
    # Retries wait on server timers (5 s, then 10 s), which only time skipping advances.
    await asyncio.sleep(1)
    assert len(receiver.hits_at("/flaky")) == 1, "no retry before the backoff interval"
    await stack.env.sleep(timedelta(seconds=6))
    await hits(2)
    await stack.env.sleep(timedelta(seconds=6))
    await asyncio.sleep(0.5)
    assert len(receiver.hits_at("/flaky")) == 2, "the second interval is twice the first"
    await stack.env.sleep(timedelta(seconds=6))
    attempts = await hits(3)

    assert [hit.answered for hit in attempts] == [500, 500, 200]
    assert len({hit.event["id"] for hit in attempts}) == 1, "one event, its id kept"
    assert len({hit.body for hit in attempts}) == 1, "the same body each time"
    assert [hit.headers["q2c-delivery-attempt"] for hit in attempts] == ["1", "2", "3"]
    assert len(receiver.accepted["/flaky"]) == 1 and receiver.duplicates == []

    [delivery] = await all_delivered(stack, subscription["id"], 1)
    result = await stack.env.client.get_workflow_handle(delivery["workflow_id"]).result()
    assert result == "delivered"
    detail = await get_json(stack, f"/api/v1/webhook-deliveries/{delivery['id']}")
    assert detail["attempts"] == 3 and detail["last_status_code"] == 200
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 200]
    assert [a["attempt"] for a in detail["attempt_log"]] == [1, 2, 3]
    # The status is kept, not what the receiver answered with it.
    assert detail["attempt_log"][0]["error"] == "HTTP 500"
    assert detail["attempt_log"][2]["error"] == ""
    await asyncio.sleep(0.5)
    assert len(receiver.hits_at("/flaky")) == 3, "nothing after the success"


async def finished(handle: WorkflowHandle[Any, Any]) -> Any:
    """The result of a workflow once it has closed (waiting on an open one would skip time)."""

    async def closed() -> bool:
        status = (await handle.describe()).status
        return status is not None and status != WorkflowExecutionStatus.RUNNING

    await eventually(closed, what=f"{handle.id} to close")
    return await handle.result()


async def hits_at_least(receiver: Receiver, path: str, count: int) -> list[Hit]:
    async def probe() -> list[Hit] | None:
        hits = receiver.hits_at(path)
        return hits if len(hits) >= count else None

    return await eventually(probe, what=f"{count} requests to {path}")


async def test_spent_attempts_mark_the_delivery_failed_and_an_operator_can_retry_it(
    stack: Stack, receiver: Receiver
) -> None:
    subscription = await subscribe(stack, receiver, "/down", ["proposal.sent"])
    receiver.scripts["/down"] = [503] * 20
    await create_proposal(stack, await create_client(stack))
    [delivery] = await eventually(
        lambda: deliveries(stack, subscription_id=subscription["id"]), what="the delivery"
    )
    # About 10 hours of backoff, skipped: each hour of server time is past the next retry.
    for attempt in range(1, 21):
        await hits_at_least(receiver, "/down", attempt)
        await stack.env.sleep(timedelta(hours=1))
    handle = stack.env.client.get_workflow_handle(delivery["workflow_id"])
    assert await finished(handle) == "failed"
    failed = await get_json(stack, f"/api/v1/webhook-deliveries/{delivery['id']}")
    assert failed["status"] == "failed" and failed["failed_at"]
    assert failed["attempts"] == 20 and failed["last_status_code"] == 503
    assert len(failed["attempt_log"]) == 20 and len(receiver.hits_at("/down")) == 20
    assert await deliveries(stack, subscription_id=subscription["id"], status="failed")

    # The receiver is back. Pending-only retries leave a failed delivery alone...
    nothing = await stack.api.post("/api/v1/webhook-deliveries/retry-pending")
    assert nothing.status_code == 200 and nothing.json()["started"] == 0
    # ...an operator asks for failed ones too.
    retried = await stack.api.post(
        "/api/v1/webhook-deliveries/retry-pending", params={"include_failed": "true"}
    )
    assert retried.json()["delivery_ids"] == [delivery["id"]]
    [done] = await all_delivered(stack, subscription["id"], 1)
    assert done["attempts"] == 21 and done["last_status_code"] == 200
    assert len(receiver.accepted["/down"]) == 1


# --- subscriptions --------------------------------------------------------------------------


async def test_deleting_a_subscription_stops_its_deliveries(
    stack: Stack, receiver: Receiver
) -> None:
    doomed = await subscribe(stack, receiver, "/doomed", ["proposal.sent", "proposal.viewed"])
    kept = await subscribe(stack, receiver, "/kept", ["proposal.viewed"])
    receiver.scripts["/doomed"] = [500] * 10
    await create_proposal(stack, await create_client(stack))
    _, sign_path = await proposal_email(stack)
    await hits_at_least(receiver, "/doomed", 1)
    [pending] = await deliveries(stack, subscription_id=doomed["id"], status="pending")

    deleted = await stack.api.delete(f"/api/v1/webhook-subscriptions/{doomed['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["active"] is False and deleted.json()["cancelled_deliveries"] == 1
    # The delivery being retried stops at its next attempt, without posting.
    await stack.env.sleep(timedelta(seconds=6))
    handle = stack.env.client.get_workflow_handle(pending["workflow_id"])
    assert await finished(handle) == "cancelled"
    assert len(receiver.hits_at("/doomed")) == 1

    # A later event goes to the subscriptions still there, not to the deleted one.
    assert (await stack.api.get(sign_path)).status_code == 200
    await all_delivered(stack, kept["id"], 1)
    assert types_of(receiver.events_at("/kept")) == ["proposal.viewed"]
    assert [d["status"] for d in await deliveries(stack, subscription_id=doomed["id"])] == [
        "cancelled"
    ]
    assert len(receiver.hits_at("/doomed")) == 1

    active = (await get_json(stack, "/api/v1/webhook-subscriptions"))["items"]
    assert [s["id"] for s in active] == [kept["id"]]
    every = (await get_json(stack, "/api/v1/webhook-subscriptions?include_deleted=true"))["items"]
    assert {s["id"]: s["active"] for s in every} == {doomed["id"]: False, kept["id"]: True}
    again = await stack.api.delete(f"/api/v1/webhook-subscriptions/{doomed['id']}")
    assert again.status_code == 200 and again.json()["cancelled_deliveries"] == 0
    assert (
        await stack.api.delete(f"/api/v1/webhook-subscriptions/{kept['id'][:-4]}beef")
    ).status_code == 404


async def test_subscriptions_are_validated_and_need_the_api_key(
    stack: Stack, receiver: Receiver
) -> None:
    url = "/api/v1/webhook-subscriptions"
    for body, field_name in (
        ({"url": "ftp://example.test/hook", "event_types": "*"}, "url"),
        ({"url": "/relative", "event_types": "*"}, "url"),
        ({"url": receiver.url("/x"), "event_types": ["invoice.exploded"]}, "event_types"),
        ({"url": receiver.url("/x"), "event_types": []}, "event_types"),
        ({"url": receiver.url("/x"), "event_types": "all"}, "event_types"),
        ({"url": receiver.url("/x")}, "event_types"),
    ):
        refused = await stack.api.post(url, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert field_name in json.dumps(refused.json()["detail"])
    assert await get_json(stack, url) == {"items": []}

    anonymous = await stack.api.post(
        url, json={"url": receiver.url("/x"), "event_types": "*"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    for path in (url, "/api/v1/events", "/api/v1/webhook-deliveries"):
        assert (
            await stack.api.get(path, headers={"Authorization": "Bearer nope"})
        ).status_code == 401

    made = await subscribe(stack, receiver, "/x", ["task.created", "*"])
    assert made["event_types"] == ["*"]
    shown = await get_json(stack, f"{url}/{made['id']}")
    assert "secret" not in shown and shown["url"] == receiver.url("/x")
    other = await subscribe(stack, receiver, "/y", "*")
    assert other["secret"] != made["secret"]


# --- the safety net -------------------------------------------------------------------------


async def test_a_delivery_left_without_its_workflow_is_started_by_retry_pending(
    stack: Stack, receiver: Receiver
) -> None:
    """The emitter committed its event, then died before starting the delivery workflow."""
    subscription = await subscribe(stack, receiver, "/late", "*")
    client_id = await create_client(stack)
    async with stack.db.acquire() as conn, conn.transaction():
        task_id = await conn.fetchval(
            """INSERT INTO tasks (company_id, client_id, kind, title)
               VALUES ($1, $2, 'manual', 'Sună notarul') RETURNING id""",
            await store.default_company_id(conn),
            client_id,
        )
        await emit_task_created(conn, task_id)
    [pending] = await deliveries(stack, subscription_id=subscription["id"])
    assert pending["status"] == "pending"
    await asyncio.sleep(0.5)
    with pytest.raises(RPCError) as missing:
        await stack.env.client.get_workflow_handle(pending["workflow_id"]).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    assert receiver.hits == []

    started = await stack.api.post("/api/v1/webhook-deliveries/retry-pending")
    assert started.status_code == 200, started.text
    assert started.json() == {"started": 1, "delivery_ids": [pending["id"]]}
    await all_delivered(stack, subscription["id"], 1)
    [event] = receiver.events_at("/late")
    assert event["type"] == "task.created" and event["data"]["task"]["id"] == str(task_id)
    assert event["data"]["task"]["client_id"] == client_id
    # Once delivered, nothing is pending: a second sweep starts nothing, posts nothing.
    assert (await stack.api.post("/api/v1/webhook-deliveries/retry-pending")).json()["started"] == 0
    await asyncio.sleep(0.3)
    assert len(receiver.hits_at("/late")) == 1


# --- the rest of an invoice's life ----------------------------------------------------------


async def test_reminders_overdue_tasks_void_decline_and_expiry_are_events_too(
    stack: Stack, receiver: Receiver
) -> None:
    subscription = await subscribe(stack, receiver, "/all", "*")
    today = (await stack.env.get_current_time()).astimezone(BUCHAREST).date()

    declined_client = await create_client(stack, email="refuz@exemplu.ro")
    declined = await create_proposal(stack, declined_client)
    _, declined_path = await proposal_email(stack, "refuz@exemplu.ro")
    refusal = await stack.api.post(f"{declined_path}/decline", data={"reason": "Prea scump"})
    assert refusal.status_code == 200
    expiring = await create_proposal(
        stack, await create_client(stack, email="tacut@exemplu.ro"), valid_until=today
    )
    await proposal_email(stack, "tacut@exemplu.ro")

    invoice = await issued_invoice(stack)
    invoice_id = invoice["id"]
    due = date.fromisoformat(invoice["due_date"])
    # Past the reminders at -3 and 0 days and the overdue instant (the day after the due date).
    noon_after_due = datetime.combine(due + timedelta(days=1), clock(12), tzinfo=BUCHAREST)
    await stack.env.sleep(noon_after_due.astimezone(UTC) - await stack.env.get_current_time())
    await wait_invoice_status(stack, invoice_id, "overdue")
    voided = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/void", json={"reason": "emisă greșit"}
    )
    assert voided.status_code == 202, voided.text
    await wait_invoice_status(stack, invoice_id, "void")
    await release_time_skipping(stack.env)

    expected = Counter(
        {
            "proposal.sent": 3,
            "proposal.declined": 1,
            "proposal.expired": 1,
            "proposal.signed": 1,
            "invoice.created": 1,
            "invoice.approved": 1,
            "invoice.sent": 1,
            "reminder.sent": 2,
            "invoice.overdue": 1,
            "task.created": 1,
            "invoice.voided": 1,
            # The invoice had been issued: its void is followed by a credit note.
            "credit_note.issued": 1,
        }
    )
    await all_delivered(stack, subscription["id"], sum(expected.values()))
    got = receiver.events_at("/all")
    assert Counter(types_of(got)) == expected

    def of(document: str, key: str) -> list[str]:
        return [e["type"] for e in got if e["data"].get(document, {}).get("id") == key]

    assert of("proposal", declined["id"]) == ["proposal.sent", "proposal.declined"]
    assert of("proposal", expiring["id"]) == ["proposal.sent", "proposal.expired"]
    assert of("invoice", invoice_id) == [
        "invoice.created",
        "invoice.approved",
        "invoice.sent",
        "reminder.sent",
        "reminder.sent",
        "invoice.overdue",
        "invoice.voided",
        "credit_note.issued",
    ]
    credit_note = next(e for e in got if e["type"] == "credit_note.issued")["data"]
    assert credit_note["credit_note"]["invoice_number"] == invoice["number"]
    assert "emisă greșit" not in json.dumps(credit_note, ensure_ascii=False)
    reminders = [e["data"] for e in got if e["type"] == "reminder.sent"]
    assert [r["reminder"]["step"] for r in reminders] == [1, 2]
    assert all(r["invoice"]["amount_due"] == "4114.00" for r in reminders)
    [task] = [e["data"]["task"] for e in got if e["type"] == "task.created"]
    assert task["kind"] == "check_payment" and task["invoice_id"] == invoice_id
    overdue = next(e for e in got if e["type"] == "invoice.overdue")["data"]["invoice"]
    assert overdue["status"] == "overdue" and overdue["overdue"] is True
    declined_event = next(e for e in got if e["type"] == "proposal.declined")["data"]
    assert "Prea scump" not in json.dumps(declined_event), "free text stays in q2c"
    assert receiver.duplicates == []
