"""Outbound events: what business code calls to emit them, the activities that deliver
them, and what starts each delivery's workflow once the emitting transaction committed.

Emitting (`emit_invoice`, `emit_proposal`, `emit_payment`, `emit_reminder_sent`,
`emit_task_created`) writes an `events` row and its `webhook_deliveries` rows in the
caller's transaction (store.emit_event): the event exists if and only if the change it
reports does. A workflow cannot be started inside that transaction, so the deliveries
created are collected (store.created_deliveries) and their `delivery-<id>` workflows
started right after: by `StartDeliveriesInterceptor` when an activity returns, and by
starter.api.routers.events' middleware when an HTTP request is answered. If the process dies in
between, the delivery stays `pending` with no workflow; `start_pending_deliveries` (behind
`POST /api/v1/webhook-deliveries/retry-pending`) starts those. Starting is idempotent (a
fixed workflow id, "use existing"), so starting twice does no harm.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any

import asyncpg
import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.services import Services
from db import events, invoices, payments, proposals, store, tasks
from db.rows import InvoiceRow
from domain.events import body_bytes, envelope
from domain.hmac_signature import SIGNATURE_HEADER, signature_header
from domain.money import amount_due, round_money
from domain.webhook_targets import (
    AllowList,
    IPAddress,
    RefusedTarget,
    Target,
    allow_list,
    check_addresses,
    parse_target,
)
from messages.activity_names import DELIVER_WEBHOOK, MARK_DELIVERY_FAILED
from messages.models import DeliveryFailure, DeliveryInput, delivery_workflow_id
from workflows.events import EventDeliveryWorkflow

log = logging.getLogger("q2c.events")

POST_TIMEOUT_SECONDS = 10
RESOLVE_TIMEOUT_SECONDS = 5
USER_AGENT = "q2c-webhooks/1"


# --- emitting ------------------------------------------------------------------------------


def _money(value: Any, currency: str) -> str:
    return str(round_money(value, currency))


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def invoice_data(row: InvoiceRow) -> dict[str, Any]:
    """What a receiver learns about an invoice: ids, number, status and amounts."""
    currency = row.currency.strip()
    return {
        "id": str(row.id),
        "number": row.number,
        "status": row.status,
        "overdue": row.overdue,
        "client_id": str(row.client_id),
        "proposal_id": str(row.proposal_id) if row.proposal_id else None,
        "currency": currency,
        "total": _money(row.total, currency),
        "amount_paid": _money(row.amount_paid, currency),
        "amount_due": _money(amount_due(row.total, row.amount_paid), currency),
        "issue_date": _day(row.issue_date),
        "due_date": _day(row.due_date),
    }


async def emit_invoice(
    conn: store.Connection,
    event_type: str,
    invoice_id: Any,
    *,
    at: datetime | None = None,
    key: str | None = None,
    row: InvoiceRow | None = None,
    **data: Any,
) -> None:
    """An invoice.* event (or another one about an invoice, with more `data`), with the
    invoice as it is in this transaction (`row`, if the caller has it so)."""
    if row is None:
        row = await invoices.get(conn, invoice_id)
    await store.emit_event(
        conn,
        event_type,
        {"invoice": invoice_data(row), **data},
        invoice_id=row.id,
        key=key,
        at=at,
    )


async def emit_proposal(
    conn: store.Connection, event_type: str, proposal_id: Any, *, at: datetime | None = None
) -> None:
    row = await proposals.get(conn, proposal_id)
    currency = row.currency.strip()
    proposal = {
        "id": str(row.id),
        "status": row.status,
        "client_id": str(row.client_id),
        "external_id": row.external_id,
        "currency": currency,
        "total": _money(row.total, currency),
        "valid_until": _day(row.valid_until),
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
    }
    await store.emit_event(conn, event_type, {"proposal": proposal}, proposal_id=row.id, at=at)


async def emit_payment(
    conn: store.Connection, invoice_id: Any, reference: str, *, at: datetime | None = None
) -> None:
    """payment.recorded, then invoice.paid if nothing is left to pay or
    invoice.partially_paid if something is (also on an overdue invoice, which stays
    overdue): each once per payment reference."""
    payment = await payments.find(conn, invoice_id, reference)
    assert payment is not None, f"no payment {reference!r} on invoice {invoice_id}"
    currency = payment.currency.strip()
    await emit_invoice(
        conn,
        "payment.recorded",
        invoice_id,
        at=at,
        key=f"payment.recorded:{invoice_id}:{reference}",
        payment={
            "reference": reference,
            "amount": _money(payment.amount, currency),
            "currency": currency,
            "paid_at": _day(payment.paid_at),
            "source": payment.source,
        },
    )
    row = await invoices.get(conn, invoice_id)
    settled = amount_due(row.total, row.amount_paid) == 0
    event_type = "invoice.paid" if settled else "invoice.partially_paid"
    await emit_invoice(
        conn,
        event_type,
        invoice_id,
        at=at,
        key=f"{event_type}:{invoice_id}:{reference}",
        payment_reference=reference,
    )


async def emit_reminder_sent(
    conn: store.Connection, invoice: InvoiceRow, step: int, scheduled_for: datetime
) -> None:
    """Once per (invoice, step), after SMTP took the reminder."""
    await emit_invoice(
        conn,
        "reminder.sent",
        invoice.id,
        row=invoice,
        key=f"reminder.sent:{invoice.id}:{step}",
        reminder={"step": step, "scheduled_for": scheduled_for.isoformat()},
    )


async def emit_task_created(
    conn: store.Connection, task_id: Any = None, *, invoice_id: Any = None, kind: str = ""
) -> None:
    """task.created, once per task: by its id, or for the automatic task of `kind` on an
    invoice (one per invoice and kind). An automatic task opened again emits nothing
    more; so does a call that follows an insert which did nothing, or a retry of one."""
    if task_id is None:
        task_id = await tasks.automatic_task_id(conn, invoice_id, kind)
        if task_id is None:
            return
    row = await tasks.get(conn, task_id)
    task = {
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "assignee": row.assignee,
        "due_date": _day(row.due_date),
        "invoice_id": str(row.invoice_id) if row.invoice_id else None,
        "client_id": str(row.client_id) if row.client_id else None,
    }
    await store.emit_event(
        conn,
        "task.created",
        {"task": task},
        invoice_id=row.invoice_id,
        key=f"task.created:{row.id}",
        at=row.created_at,
    )


# --- starting deliveries -------------------------------------------------------------------


@contextmanager
def collecting_deliveries() -> Iterator[list[str]]:
    """Collect the ids of the deliveries emitted inside the block (this task and the tasks
    it starts)."""
    created: list[str] = []
    token = store.created_deliveries.set(created)
    try:
        yield created
    finally:
        store.created_deliveries.reset(token)


async def start_deliveries(client: Client, task_queue: str, delivery_ids: Iterable[str]) -> int:
    """Start `delivery-<id>` for each delivery; one already running is left as it is. A
    failure is logged, not raised: the change is committed, and the delivery stays pending
    for `start_pending_deliveries`. The number started (or found running)."""
    ids = list(dict.fromkeys(delivery_ids))

    async def start(delivery_id: str) -> bool:
        try:
            await client.start_workflow(
                EventDeliveryWorkflow.run,
                DeliveryInput(delivery_id),
                id=delivery_workflow_id(delivery_id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except Exception:
            log.exception("could not start the workflow of webhook delivery %s", delivery_id)
            return False
        return True

    started = 0
    for chunk in range(0, len(ids), 20):
        started += sum(await asyncio.gather(*(start(i) for i in ids[chunk : chunk + 20])))
    return started


async def start_pending_deliveries(
    pool: asyncpg.Pool,
    client: Client,
    task_queue: str,
    *,
    include_failed: bool = False,
    limit: int = 1000,
) -> list[str]:
    """The safety net: start the workflow of every pending delivery (those whose emitter
    died between its commit and the start, and any other: one running is left alone).
    With `include_failed`, failed deliveries are made pending again and retried, their
    attempt count kept. Deliveries of a deleted subscription are never restarted."""
    async with pool.acquire() as conn, conn.transaction():
        if include_failed:
            await events.make_failed_deliveries_pending(conn)
        ids = await events.pending_delivery_ids(conn, limit)
    await start_deliveries(client, task_queue, ids)
    return ids


class StartDeliveriesInterceptor(Interceptor):
    """Starts the deliveries an activity emitted once it has returned (or failed: what it
    committed before failing stays committed). The activity's own code only emits."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _StartDeliveries(next)


class _StartDeliveries(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with collecting_deliveries() as created:
            try:
                return await super().execute_activity(input)
            finally:
                if created:
                    await start_deliveries(activity.client(), activity.info().task_queue, created)


# --- delivering ----------------------------------------------------------------------------


class DeliveryActivities:
    def __init__(self, services: Services) -> None:
        self._s = services

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver_webhook(self, ref: DeliveryInput) -> str:
        """POST the event to the subscription's URL, signed; 2xx is delivered, anything
        else raises to be retried, except a URL that reaches an address webhooks may not
        go to (domain.webhook_targets), which fails at once. Every attempt is logged. A
        delivery no longer pending (delivered, cancelled with its subscription) is not
        posted again."""
        async with self._s.pool.acquire() as conn:
            row = await events.delivery_to_post(conn, ref.delivery_id)
            if row is None:
                # The transaction that emitted it rolled back: there is nothing to deliver.
                return "missing"
            if row.status != "pending":
                return row.status
            if row.subscription_disabled_at is not None:
                await events.cancel_pending_delivery(conn, ref.delivery_id)
                return "cancelled"
        allowed = allow_list(self._s.webhook_allow_hosts)
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        resolve_error = ""
        try:
            target, addresses = await resolve_webhook_target(row.url, allowed)
        except RefusedTarget as refused:
            # Not a receiver having a bad day: retrying would only be refused again.
            error = f"refused: {refused}"
            async with self._s.pool.acquire() as conn, conn.transaction():
                await events.record_attempt(
                    conn,
                    ref.delivery_id,
                    started_at=started_at,
                    duration_ms=int((time.monotonic() - clock) * 1000),
                    status_code=None,
                    error=error,
                    delivered=False,
                )
            log.warning("webhook delivery %s %s", ref.delivery_id, error)
            raise ApplicationError(
                error, type="WebhookTargetRefused", non_retryable=True
            ) from refused
        except TargetUnresolved as unresolved:
            target, addresses = parse_target(row.url), []
            resolve_error = str(unresolved)
        event_id = row.event_id
        body = body_bytes(
            envelope(event_id, row.event_type, row.occurred_at, row.seq, json.loads(row.payload))
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # Signed at each attempt: a retry hours later is inside the receiver's window.
            SIGNATURE_HEADER: signature_header(row.secret, body, now=time.time()),
            "Q2C-Event-Id": event_id,
            "Q2C-Event-Type": row.event_type,
            "Q2C-Delivery-Id": ref.delivery_id,
            "Q2C-Delivery-Attempt": str(row.attempts + 1),
        }
        if addresses:
            status_code, error = await post_webhook(target, addresses, row.url, body, headers)
        else:
            status_code, error = None, resolve_error
        duration_ms = int((time.monotonic() - clock) * 1000)
        delivered = status_code is not None and 200 <= status_code < 300
        async with self._s.pool.acquire() as conn, conn.transaction():
            attempt = await events.record_attempt(
                conn,
                ref.delivery_id,
                started_at=started_at,
                duration_ms=duration_ms,
                status_code=status_code,
                error=error,
                delivered=delivered,
            )
        if delivered:
            return "delivered"
        log.warning(
            "webhook delivery %s (event %s %s) attempt %s: %s",
            ref.delivery_id,
            row.event_type,
            event_id,
            attempt,
            error,
        )
        # Expected now and then (a receiver down): retried without a traceback in the log.
        raise ApplicationError(
            error, type="WebhookDeliveryFailed", category=ApplicationErrorCategory.BENIGN
        )

    @activity.defn(name=MARK_DELIVERY_FAILED)
    async def mark_delivery_failed(self, failure: DeliveryFailure) -> None:
        async with self._s.pool.acquire() as conn:
            await events.mark_delivery_failed(conn, failure.delivery_id)
        log.error("webhook delivery %s failed for good: %s", failure.delivery_id, failure.error)


class TargetUnresolved(Exception):
    """The host name has no address now: maybe a passing DNS failure, so retried."""


async def resolve_webhook_target(url: str, allowed: AllowList) -> tuple[Target, list[IPAddress]]:
    """The URL's host resolved, every address checked (RefusedTarget if one may not
    receive webhooks); the caller connects to these very addresses, so a name that
    resolves elsewhere a moment later (DNS rebinding) changes nothing."""
    target = parse_target(url)
    if target.address is not None:
        return target, check_addresses(target, [target.address], allowed)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            found = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as failed:
        raise TargetUnresolved(f"cannot resolve {target.host}: {failed}") from failed
    # An IPv6 link-local answer carries its zone ("fe80::1%eth0"); the address decides.
    addresses = list(dict.fromkeys(ip_address(str(info[4][0]).split("%")[0]) for info in found))
    return target, check_addresses(target, addresses, allowed)


async def post_webhook(
    target: Target, addresses: list[IPAddress], url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str]:
    """POST to the first checked address that takes the connection, naming the host in
    `Host` and, over TLS, in SNI and the certificate check. The HTTP status (None if there
    was none) and what went wrong ('' on a 2xx); a refusing receiver's body is not read
    nor kept, only its status. Redirects are not followed: a receiver answers at the URL
    it subscribed. The environment's proxy settings are ignored: the connection must go
    to the address that was checked."""
    default_port = 443 if target.scheme == "https" else 80
    named = f"[{target.host}]" if ":" in target.host else target.host  # IPv6 in brackets
    host_header = named if target.port == default_port else f"{named}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.address is None else {}
    try:
        async with (
            asyncio.timeout(POST_TIMEOUT_SECONDS),
            httpx.AsyncClient(
                timeout=POST_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            ) as http,
        ):
            for index, address in enumerate(addresses):
                pinned = httpx.URL(url).copy_with(host=str(address))
                request = http.build_request(
                    "POST",
                    pinned,
                    content=body,
                    headers=headers | {"Host": host_header},
                    extensions=extensions,
                )
                try:
                    # Streamed and closed unread: only the status line and headers come in.
                    response = await http.send(request, stream=True)
                except httpx.ConnectError:
                    if index + 1 < len(addresses):
                        continue
                    raise
                await response.aclose()
                if 200 <= response.status_code < 300:
                    return response.status_code, ""
                return response.status_code, f"HTTP {response.status_code}"
            raise AssertionError("no address to post to")  # resolve_webhook_target gives one
    except TimeoutError:
        return None, f"no answer within {POST_TIMEOUT_SECONDS} s"
    except (httpx.HTTPError, httpx.InvalidURL) as failed:
        return None, f"{type(failed).__name__}: {failed}".rstrip(": ")
