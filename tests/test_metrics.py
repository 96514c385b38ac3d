"""Metrics (issue 16 point 5), read as Prometheus reads them: after a proposal is signed, its
invoice approved, emailed, reminded once and paid through the payments webhook, the
worker's endpoint (over real HTTP) shows what happened, beside the Temporal SDK's own
metrics, and the API's `GET /metrics` shows the routes called by their templates."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from activities import metrics
from messages.models import invoice_workflow_id
from settings import Settings
from starter.devstack.stack import _banner, ensure_search_attributes
from tests.conftest import Stack, binary
from tests.helpers import (
    create_client,
    eventually,
    get_json,
    issued_invoice,
    wait_invoice_status,
)
from tests.test_contracts import create_contract, invoice_from
from tests.test_reminders import local, skip_to
from tests.test_webhooks import PAYMENTS, payment_event, send, signed

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping server, with the SDK's metrics going into q2c's registry (as the
    worker's `start_metrics` does for the default runtime)."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        runtime=metrics.temporal_runtime(),
    )
    async with environment:
        await ensure_search_attributes(environment.client)
        yield environment


@pytest.fixture
def metrics_port() -> Iterator[int]:
    port = metrics.serve(0)
    yield port
    metrics.stop_serving(port)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


async def test_the_worker_and_the_api_count_a_pipeline_run(stack: Stack, metrics_port: int) -> None:
    watcher = asyncio.create_task(metrics.watch_outbox(stack.db, interval=0.05))
    try:
        before = await scrape(metrics_port)
        # The API's counters live in this process's registry: earlier tests moved them too.
        api_before = parse((await stack.api.get("/metrics")).text)
        invoice = await issued_invoice(stack)
        invoice_id = invoice["id"]
        due = date.fromisoformat(invoice["due_date"])
        await skip_to(stack, local(due - timedelta(days=3), 9, 30))
        await eventually(
            lambda: stack.db.fetchval(
                "SELECT 1 FROM email_outbox WHERE kind = 'reminder' AND status = 'sent'"
            ),
            what="the first reminder",
        )

        event = payment_event(invoice_id=invoice_id, amount=invoice["amount_due"])
        paid = await send(stack, PAYMENTS, "payments", event)
        assert paid.status_code == 200 and paid.json()["outcome"] == "payment_recorded"
        assert (await send(stack, PAYMENTS, "payments", event)).json()["duplicate"] is True
        forged = json.dumps(payment_event(invoice_id=invoice_id)).encode()
        headers = signed("payments", forged) | {"Q2C-Signature": "t=1,v1=00"}
        refused = await stack.api.post(PAYMENTS, content=forged, headers=headers)
        assert refused.status_code == 401
        await wait_invoice_status(stack, invoice_id, "paid")
        handle = stack.env.client.get_workflow_handle(invoice_workflow_id(invoice_id))
        await handle.result()

        async def outbox_read_after_payment() -> Samples | None:
            samples = await scrape(metrics_port)
            read = value(samples, "q2c_outbox_read_timestamp_seconds")
            return samples if read > value(before, "q2c_outbox_read_timestamp_seconds") else None

        after = await eventually(outbox_read_after_payment, what="the outbox gauges")
    finally:
        watcher.cancel()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # One draft and one final invoice PDF, the proposal and its signature certificate.
    rendered = "q2c_documents_rendered_total"
    assert moved(rendered, kind="invoice") == 1
    assert moved(rendered, kind="draft") == 1
    assert moved(rendered, kind="proposal") == 1
    assert moved(rendered, kind="certificate") == 1
    assert moved("q2c_document_render_seconds_count", kind="invoice") == 1
    assert moved("q2c_document_render_seconds_sum", kind="invoice") > 0

    # Every email the SMTP peer received, by kind, and none failed.
    kinds = [str(m["X-Q2C-Key"]).split(":")[2] for m in stack.mail.messages]
    assert sorted(kinds) == ["invoice", "proposal", "reminder", "signed"]
    for kind in kinds:
        assert moved("q2c_emails_sent_total", kind=kind) == 1, kind
    assert total(after, "q2c_emails_failed_total") == total(before, "q2c_emails_failed_total")
    assert moved("q2c_reminders_sent_total") == 1

    # The payment accepted once; its replay a duplicate; the forgery refused by reason.
    assert moved("q2c_webhooks_accepted_total", source="payments") == 1
    assert moved("q2c_webhooks_duplicate_total", source="payments") == 1
    assert moved("q2c_webhooks_refused_total", source="payments", reason="bad_signature") == 1

    # Nothing waits in the outbox.
    assert value(after, "q2c_outbox_pending_emails") == 0
    assert value(after, "q2c_outbox_oldest_pending_age_seconds") == 0

    # The SDK's metrics, under its names, with the worker's task queue.
    queue = stack.settings.task_queue
    completed = "temporal_workflow_completed_total"
    for workflow in ("ProposalWorkflow", "InvoiceWorkflow"):
        assert total(after, completed, task_queue=queue, workflow_type=workflow) == 1, workflow
    assert total(after, "temporal_request_total", operation="StartWorkflowExecution") >= 1
    assert total(after, "temporal_activity_execution_latency_count", task_queue=queue) > 0
    schedule_to_start = "temporal_workflow_task_schedule_to_start_latency_count"
    assert total(after, schedule_to_start, task_queue=queue) > 0

    # The API's own, on its GET /metrics (an operator's key): templates, never paths.
    anonymous = await stack.api.get("/metrics", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    answer = await stack.api.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    api = parse(answer.text)

    def api_moved(name: str, **labels: str) -> float:
        return value(api, name, **labels) - value(api_before, name, **labels)

    approve = {"method": "POST", "route": "/api/v1/invoices/{invoice_id}/approve"}
    assert api_moved("q2c_http_requests_total", **approve, status="2xx") == 1
    assert api_moved("q2c_http_request_duration_seconds_count", **approve, status="2xx") == 1
    webhook = {"method": "POST", "route": PAYMENTS}
    assert api_moved("q2c_http_requests_total", **webhook, status="2xx") == 2
    assert api_moved("q2c_http_requests_total", **webhook, status="4xx") == 1
    signing = [
        labels
        for (name, labels), _ in api.items()
        if name == "q2c_http_requests_total" and ("route", "/sign/{token}") in labels
    ]
    assert signing, "the signing page is counted under its template"
    assert invoice_id not in answer.text
    counted = {dict(labels)["route"] for (n, labels) in api if n == "q2c_http_requests_total"}
    assert all(route.startswith("/") or route == "unmatched" for route in counted)
    assert not [route for route in counted if invoice_id in route]
    invoice_now = await get_json(stack, f"/api/v1/invoices/{invoice_id}")
    assert invoice_now["status"] == "paid"


async def test_a_refused_approval_is_counted(stack: Stack) -> None:
    before = REGISTRY.get_sample_value("q2c_approvals_refused_total") or 0.0
    client_id = await create_client(stack)
    lines = [{"description": "Consultanță", "quantity": "1", "unit_price": "100", "vat_rate": "21"}]
    contract = await create_contract(stack, client_id, number="M-1", currency="EUR", lines=lines)
    created = await invoice_from(stack, contract["id"])
    await wait_invoice_status(stack, created["id"], "awaiting_review")
    # A Romanian invoice in EUR without its exchange rate: refused at numbering.
    assert (await stack.api.post(f"/api/v1/invoices/{created['id']}/approve")).status_code == 202

    async def refused() -> dict[str, object] | None:
        invoice = await get_json(stack, f"/api/v1/invoices/{created['id']}")
        return invoice if invoice["approval_error"] else None

    await eventually(refused, what="the approval to be refused")
    assert REGISTRY.get_sample_value("q2c_approvals_refused_total") == before + 1


def test_the_metrics_port_is_a_setting_and_make_run_prints_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("Q2C_METRICS_PORT", raising=False)
    assert Settings.from_env().metrics_port is None
    monkeypatch.setenv("Q2C_METRICS_PORT", "9464")
    settings = Settings.from_env()
    assert settings.metrics_port == 9464
    banner = _banner(settings, "http://localhost:8000", "db", "ui", "mail")
    assert "http://localhost:9464/metrics" in banner


def test_a_metrics_port_in_use_is_named_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"Q2C_METRICS_PORT: cannot listen on .*:{port}"):
            metrics.serve(port)
