"""The Temporal UI shows the business (issue 15, point 1): each proposal and invoice workflow
starts with a static summary (number or id, client, total), keeps Markdown current details
up to date, and its steps carry summaries for the timeline. Read back from the real dev
server (describe, the `__temporal_workflow_metadata` query, the history's user metadata);
with the payload codec configured, what Temporal stores of it is ciphertext, and q2c's
codec endpoint opens it for the UI."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.converter import default as default_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from domain.ui_summary import (
    MAX_DETAIL_LINES,
    STEP_SUMMARIES,
    document_summary,
    invoice_actions,
    invoice_details,
    money,
    proposal_details,
    step_summary,
)
from messages import activity_names, search_attributes
from messages.models import (
    InvoiceSnapshot,
    InvoiceView,
    LineView,
    ProposalView,
    ReminderPlan,
    efactura_workflow_id,
    invoice_workflow_id,
    proposal_workflow_id,
)
from settings import DEFAULT_TEMPORAL_UI_ORIGIN, Settings
from starter.api.app import create_app
from starter.cli.demo import ui_view, ui_view_lines
from starter.devstack.mailsink import MailSink
from starter.devstack.spv import SpvStandIn
from temporal_connection import ENCRYPTED_ENCODING, connect_arguments
from tests.conftest import (
    API_KEY,
    PUBLIC_URL,
    WEBHOOK_SECRETS,
    Stack,
    binary,
    build_test_worker,
    connect_to_spv,
    spv_settings,
    stack_on,
)
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
from tests.test_contracts import create_contract, invoice_from
from worker import services_for

NBSP = "\xa0"
# create_proposal's lines: 10 h × 250 + 1 × 1000 less 10 %, VAT 21 %; the seller writes
# Romanian (its default locale).
TOTAL_RO = f"4.114,00{NBSP}RON"
# Never in a summary or details: the operator sees them in q2c, but they stay out of
# Temporal (and its UI's list) whatever the codec.
PRIVATE = (CLIENT["email"], CLIENT["tax_id"], "RO49AAAA1B31007593840000")


# --- the pure formatter ------------------------------------------------------------------


def _snapshot(status: str, **more: Any) -> InvoiceSnapshot:
    fields: dict[str, Any] = {
        "invoice_id": "0b8f2a6c-1d2e-4f00-9a41-5e1f7f3c9d10",
        "client_id": "c",
        "status": status,
        "currency": "RON",
        "total": "4477.00",
        "amount_paid": "0.00",
        "amount_due": "4477.00",
    }
    return InvoiceSnapshot(**(fields | more))


def _view(lines: int) -> InvoiceView:
    shown = [
        LineView(f"Consultanță {n} | urgent", "2", "h", f"100,00{NBSP}RON", "21")
        for n in range(1, min(lines, MAX_DETAIL_LINES) + 1)
    ]
    return InvoiceView(
        client_name="Exemplu SRL",
        subtotal=f"3.700,00{NBSP}RON",
        vat_total=f"777,00{NBSP}RON",
        total=f"4.477,00{NBSP}RON",
        amount_paid=f"0,00{NBSP}RON",
        amount_due=f"4.477,00{NBSP}RON",
        lines=shown,
        line_count=lines,
    )


def test_the_summary_line_names_number_client_and_total() -> None:
    total = f"4.477,00{NBSP}RON"
    numbered = document_summary(
        number="INV-2026-00012", document_id="x", client_name="Exemplu SRL", total_text=total
    )
    assert numbered == f"INV-2026-00012 · Exemplu SRL · {total}"
    draft = document_summary(
        number=None,
        document_id="0b8f2a6c-1d2e-4f00-9a41-5e1f7f3c9d10",
        client_name="Exemplu   SRL\nCluj " + "x" * 80,
        total_text=total,
        kind="proposal",
    )
    assert draft.startswith("draft proposal 0b8f2a6c · Exemplu SRL Cluj ")
    assert "\n" not in draft and "…" in draft and len(draft) <= 110


def test_money_is_written_in_the_company_language() -> None:
    assert money("4477", "RON", "ro") == f"4.477,00{NBSP}RON"
    assert money("4477", "RON", "ru") == f"4{NBSP}477,00{NBSP}RON"
    assert money("4477", "EUR", "en") == "€4,477.00"


def test_details_of_an_invoice_in_review() -> None:
    details = invoice_details(_snapshot("awaiting_review"), _view(2), None, date(2026, 12, 3))
    assert details.startswith("**Invoice draft 0b8f2a6c** — awaiting review")
    assert "Client: Exemplu SRL" in details
    assert "| 1 | Consultanță 1 \\| urgent | 2 h |" in details, "a | in a line is escaped"
    assert f"VAT: 777,00{NBSP}RON" in details and f"**Total: 4.477,00{NBSP}RON**" in details
    assert "Due date: —" in details and "Next reminder: none planned" in details
    assert "- Signal `approve` — number, issue and email it: `{}`" in details
    assert 'Update `edit` — change it while in review: `{"due_date": "2026-12-03"}`' in details
    assert "Signal `void`" in details
    assert "record_payment" not in details and "pause_reminders" not in details


def test_details_of_a_sent_invoice_name_the_payment_to_paste() -> None:
    reminder = ReminderPlan(2, datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    invoice = _snapshot(
        "partially_paid",
        number="INV-2026-00012",
        amount_paid="1000.00",
        amount_due="3477.00",
        due_date="2026-12-17",
    )
    details = invoice_details(invoice, _view(1), reminder, date(2026, 12, 3))
    assert details.startswith("**Invoice INV-2026-00012** — partially paid")
    assert "Due date: 2026-12-17" in details
    assert "Next reminder: 2026-12-20 09:00 UTC (step 2)" in details
    payment = '{"amount": "3477.00", "paid_at": "2026-12-03", "reference": "<bank reference>"}'
    assert f"Update `record_payment` — a payment received: `{payment}`" in details
    assert 'Update `reschedule` — a new due date: `{"due_date": "2026-12-17"}`' in details
    assert "Signal `pause_reminders`" in details
    refund = '"payment_reference": "<the payment\'s reference>", "amount": "1000.00"'
    assert refund in details
    assert "approve" not in details and "`edit`" not in details
    paused = dataclasses.replace(invoice, reminders_paused=True)
    assert "Signal `resume_reminders`" in invoice_details(paused, None, None, date(2026, 12, 3))


def test_a_closed_invoice_offers_nothing() -> None:
    details = invoice_details(_snapshot("paid", amount_due="0.00"), None, None, date(2026, 1, 1))
    assert "Nothing to send now" in details
    assert invoice_actions(_snapshot("void"), date(2026, 1, 1)) == []
    assert "**Total: 4477.00 RON**" in details, "without a view: plain figures"


def test_an_invoice_of_500_lines_shows_the_first_few() -> None:
    details = invoice_details(_snapshot("awaiting_review"), _view(500), None, date(2026, 1, 1))
    assert f"| {MAX_DETAIL_LINES} | Consultanță {MAX_DETAIL_LINES} " in details
    assert f"| {MAX_DETAIL_LINES + 1} |" not in details
    assert f"… and {500 - MAX_DETAIL_LINES} more lines" in details
    assert len(details) < 3000


def test_proposal_details() -> None:
    view = ProposalView("PRO-2026-00003", "Exemplu SRL", f"4.114,00{NBSP}RON", "2026-12-31")
    followup = datetime(2026, 12, 6, 9, tzinfo=UTC)
    sent = proposal_details("p-1", "sent", view, followup, None)
    assert sent.startswith("**Proposal PRO-2026-00003** — sent")
    assert "Valid until: 2026-12-31" in sent and "Next follow-up: 2026-12-06 09:00 UTC" in sent
    assert "Signal `convert`" in sent and "`{}`" in sent
    signed = proposal_details("p-1", "signed", view, None, "inv-1")
    assert "Nothing to send now" in signed and "`invoice-inv-1`" in signed


def test_every_activity_has_a_business_summary() -> None:
    names = {
        value
        for key, value in vars(activity_names).items()
        if key.isupper() and isinstance(value, str)
    }
    assert names <= set(STEP_SUMMARIES), names - set(STEP_SUMMARIES)
    assert step_summary("send_reminder", "INV-1, reminder 2") == (
        "Email a payment reminder (INV-1, reminder 2)"
    )


# --- against the dev server --------------------------------------------------------------


async def _dev_environment() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=list(search_attributes.ALL),
        dev_server_log_level="error",
    )


@pytest.fixture
async def dev_stack(db: asyncpg.Pool, mail: MailSink, database_url: str) -> AsyncIterator[Stack]:
    """As tests/test_search_attributes.py's: the dev server keeps user metadata and answers
    describe() with it (the time-skipping server does not)."""
    environment = await _dev_environment()
    async with environment, stack_on(environment, db, mail, database_url) as running:
        yield running


async def _details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert isinstance(metadata, WorkflowMetadata)
    return metadata.current_details


async def _details_containing(handle: WorkflowHandle[Any, Any], text: str) -> str:
    async def probe() -> str | None:
        details = await _details(handle)
        return details if text in details else None

    return await eventually(probe, what=f"details with {text!r} in {handle.id}")


def _no_private_data(text: str) -> None:
    for secret in PRIVATE:
        assert secret not in text, f"{secret!r} in {text!r}"


async def _step_summaries(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The summaries of the history's events (activities, local activities' markers, child
    workflows), decoded by the handle's client's converter."""
    history = await handle.fetch_history()
    converter = default_converter().payload_converter
    found = []
    for event in history.events:
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
            found.append(converter.from_payload(event.user_metadata.summary, str))
    return found


async def test_proposal_and_invoice_read_as_the_business_in_the_ui(dev_stack: Stack) -> None:
    stack = dev_stack
    client = stack.env.client
    client_id = await create_client(stack)
    proposal = await create_proposal(stack, client_id)
    proposal_handle = client.get_workflow_handle(proposal_workflow_id(proposal["id"]))

    described = await proposal_handle.describe()
    summary = await described.static_summary()
    assert summary is not None
    assert summary.endswith(f" · Exemplu SRL · {TOTAL_RO}"), summary
    assert summary.startswith(("draft proposal ", proposal.get("number") or "PRO")), summary

    _, sign_path = await proposal_email(stack)
    details = await _details_containing(proposal_handle, "— sent")
    number = (await get_json(stack, f"/api/v1/proposals/{proposal['id']}"))["number"]
    assert details.startswith(f"**Proposal {number}** — sent"), details
    assert "Client: Exemplu SRL" in details and f"**Total: {TOTAL_RO}**" in details
    assert "Signal `convert`" in details
    _no_private_data(details)

    invoice_id = await sign_and_get_invoice(stack, sign_path)
    details = await _details_containing(proposal_handle, "— signed")
    assert f"`invoice-{invoice_id}`" in details and "Nothing to send now" in details

    # The invoice, started by the proposal's workflow as its child.
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    handle = client.get_workflow_handle(invoice_workflow_id(invoice_id))
    described = await handle.describe()
    short = invoice_id.replace("-", "")[:8]
    assert await described.static_summary() == (f"draft invoice {short} · Exemplu SRL · {TOTAL_RO}")
    review = await _details_containing(handle, "— awaiting review")
    assert review.startswith(f"**Invoice draft {short}** — awaiting review")
    assert "| 1 | Consultanță juridică | 10 h | 2.500,00" in review, review
    assert "| 2 | Redactare contract | 1 buc | 900,00" in review
    assert f"VAT: 714,00{NBSP}RON" in review and f"**Total: {TOTAL_RO}**" in review
    assert "- Signal `approve` — number, issue and email it: `{}`" in review
    assert "Update `edit`" in review and "Signal `void`" in review
    _no_private_data(review)

    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    invoice = await wait_invoice_status(stack, invoice_id, "sent")
    sent = await _details_containing(handle, "— sent")
    assert sent.startswith(f"**Invoice {invoice['number']}** — sent")
    assert f"Due date: {invoice['due_date']}" in sent
    assert "Next reminder: " in sent and "none planned" not in sent, sent
    today = datetime.now(UTC).date().isoformat()
    payment = f'{{"amount": "4114.00", "paid_at": "{today}", "reference": "<bank reference>"}}'
    assert f"Update `record_payment` — a payment received: `{payment}`" in sent
    assert "approve" not in sent
    _no_private_data(sent)

    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "4114.00", "paid_at": today, "reference": "OP-77"},
    )
    assert paid.status_code == 201, paid.text
    await wait_invoice_status(stack, invoice_id, "paid")
    closed = await _details_containing(handle, "— paid")
    assert f"**Amount due: 0,00{NBSP}RON**" in closed and "Nothing to send now" in closed

    # The timeline: every step names its business step.
    steps = await _step_summaries(handle)
    label = f"draft {short}"
    assert f"Render the draft invoice for review ({label})" in steps, steps
    assert f"Number and issue the approved invoice ({label})" in steps
    assert f"Email the invoice to the client ({invoice['number']})" in steps
    assert "Record a payment" in steps
    proposal_steps = await _step_summaries(proposal_handle)
    assert "Email the proposal to the client" in proposal_steps, proposal_steps
    assert "Record the signature and make the draft invoice" in proposal_steps
    for text in steps + proposal_steps:
        _no_private_data(text)

    # `q2c demo` prints the same, read back from Temporal, with the UI's link.
    summary, details = await ui_view(client, invoice_workflow_id(invoice_id))
    assert summary == f"draft invoice {short} · Exemplu SRL · {TOTAL_RO}"
    assert details == closed
    printed = ui_view_lines(summary, details, "http://localhost:8233/x")
    assert printed[1:3] == ["In the Temporal UI:", f"  summary: {summary}"]
    assert f"    **Invoice {invoice['number']}** — paid" in printed
    assert printed[-1] == "  open: http://localhost:8233/x"


# --- with the payload codec ----------------------------------------------------------------

K1 = ("k1", bytes(range(32)))


@pytest.fixture
async def codec_dev_stack(
    db: asyncpg.Pool, mail: MailSink, database_url: str
) -> AsyncIterator[Stack]:
    """Worker and API with the codec (as tests/test_codec.py's codec_stack), on the dev
    server; `env.client` stays without it, as anyone reading Temporal directly."""
    environment = await _dev_environment()
    async with environment:
        settings = Settings(
            database_url=database_url,
            temporal_address="unused",
            temporal_namespace=environment.client.namespace,
            smtp_url=f"smtp://127.0.0.1:{mail.port}",
            public_url=PUBLIC_URL,
            api_key=API_KEY,
            api_url=PUBLIC_URL,
            mail_from="q2c tests <invoices@q2c.test>",
            task_queue=f"q2c-test-{uuid.uuid4()}",
            webhook_secrets=dict(WEBHOOK_SECRETS),
            payload_keys=(K1,),
        )
        arguments = connect_arguments(settings)
        client = Client(
            environment.client.service_client,
            namespace=arguments.namespace,
            data_converter=arguments.data_converter,
        )
        async with services_for(settings) as services:
            async with build_test_worker(client, services, settings.task_queue):
                app = create_app(settings, pool=db, temporal=client)
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
                    async with httpx.AsyncClient(
                        transport=transport,
                        base_url=PUBLIC_URL,
                        headers={"Authorization": f"Bearer {API_KEY}"},
                    ) as api:
                        yield Stack(environment, api, mail, db, settings, services, app)


async def test_under_the_codec_the_ui_metadata_is_ciphertext(codec_dev_stack: Stack) -> None:
    stack = codec_dev_stack
    client_name = "Zamfirescu Cifrat SRL"
    client_id = await create_client(stack, name=client_name, email="zamfir@exemplu.ro")
    await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, "zamfir@exemplu.ro")
    invoice_id = await sign_and_get_invoice(stack, sign_path)
    await wait_invoice_status(stack, invoice_id, "awaiting_review")

    raw = stack.env.client  # no codec: what Temporal stores
    handle = raw.get_workflow_handle(invoice_workflow_id(invoice_id))
    # q2c's own processes (with the codec) read the details in clear.
    codec_client = Client(
        raw.service_client,
        namespace=raw.namespace,
        data_converter=connect_arguments(stack.settings).data_converter,
    )
    codec_handle = codec_client.get_workflow_handle(invoice_workflow_id(invoice_id))
    clear = await _details_containing(codec_handle, "— awaiting review")
    assert f"Client: {client_name}" in clear
    described = await handle.describe()
    stored = described.raw_description.execution_config.user_metadata.summary
    assert stored.metadata["encoding"] == ENCRYPTED_ENCODING
    assert client_name.encode() not in stored.SerializeToString()

    # The history: every step's summary, and the child's static summary, sealed.
    history = await handle.fetch_history()
    summaries = [
        e.user_metadata.summary
        for e in history.events
        if e.HasField("user_metadata") and e.user_metadata.HasField("summary")
    ]
    assert summaries
    assert all(p.metadata["encoding"] == ENCRYPTED_ENCODING for p in summaries)
    for event in history.events:
        assert client_name.encode() not in event.SerializeToString()

    # The current details come back (metadata query) sealed to a reader without the codec...
    answer = await raw.workflow_service.query_workflow(_query_request(stack, invoice_id))
    [sealed] = answer.query_result.payloads
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert client_name.encode() not in sealed.SerializeToString()

    # ...and the codec endpoint opens the summary and the details for the Temporal UI.
    ui = {"Origin": DEFAULT_TEMPORAL_UI_ORIGIN, "X-Namespace": stack.settings.temporal_namespace}
    decoded = await stack.api.post(
        "/codec/decode", json={"payloads": [_json(stored), _json(sealed)]}, headers=ui
    )
    assert decoded.status_code == 200, decoded.text
    summary_text, details_text = (
        base64.b64decode(p["data"]).decode() for p in decoded.json()["payloads"]
    )
    assert client_name in summary_text and "draft invoice" in summary_text
    assert client_name in details_text and "awaiting review" in details_text


def _query_request(stack: Stack, invoice_id: str) -> QueryWorkflowRequest:
    return QueryWorkflowRequest(
        namespace=stack.settings.temporal_namespace,
        execution=WorkflowExecution(workflow_id=invoice_workflow_id(invoice_id)),
        query=WorkflowQuery(query_type="__temporal_workflow_metadata"),
    )


def _json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def test_a_contract_invoice_and_a_refund_run_start_with_their_summary(
    dev_stack: Stack,
) -> None:
    """The API's other start sites: an invoice from a contract (a draft: its id), and the
    run a refund starts on a paid invoice (update-with-start: numbered by then)."""
    stack = dev_stack
    client = stack.env.client
    contract = await create_contract(stack, await create_client(stack))
    invoice = await invoice_from(stack, contract["id"], quantities=["1", "12.5"])
    invoice_id = invoice["id"]
    handle = client.get_workflow_handle(invoice_workflow_id(invoice_id))
    short = invoice_id.replace("-", "")[:8]
    total = f"6.957,50{NBSP}RON"  # 2000 + 12.5 × 300, VAT 21 %
    assert await (await handle.describe()).static_summary() == (
        f"draft invoice {short} · Exemplu SRL · {total}"
    )
    review = await _details_containing(handle, "— awaiting review")
    assert "| 2 | Ore suplimentare | 12.5 h |" in review, review

    approved = await stack.api.post(f"/api/v1/invoices/{invoice_id}/approve")
    assert approved.status_code == 202, approved.text
    number = (await wait_invoice_status(stack, invoice_id, "sent"))["number"]
    today = datetime.now(UTC).date().isoformat()
    paid = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/payments",
        json={"amount": "6957.50", "paid_at": today, "reference": "OP-1"},
    )
    assert paid.status_code == 201, paid.text
    await wait_invoice_status(stack, invoice_id, "paid")
    await eventually(lambda: _closed(handle), what="the paid invoice's run to end")
    first_run = (await handle.describe()).run_id

    refund = await stack.api.post(
        f"/api/v1/invoices/{invoice_id}/refunds",
        json={"payment_reference": "OP-1", "amount": "1000.00", "reference": "RF-1"},
    )
    assert refund.status_code == 201, refund.text
    reopened = client.get_workflow_handle(invoice_workflow_id(invoice_id))
    described = await reopened.describe()
    assert described.run_id != first_run, "a new run"
    assert await described.static_summary() == f"{number} · Exemplu SRL · {total}"
    details = await _details_containing(reopened, f"**Amount due: 1.000,00{NBSP}RON**")
    assert details.startswith(f"**Invoice {number}** — ")
    assert "Update `record_payment`" in details


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool | None:
    described = await handle.describe()
    return True if described.status == WorkflowExecutionStatus.COMPLETED else None


async def test_a_converted_proposal_starts_its_invoice_with_the_summary(dev_stack: Stack) -> None:
    """The proposal's workflow starts the converted draft's workflow as its child, with the
    summary made from what the send step read (no step of its own)."""
    stack = dev_stack
    client = stack.env.client
    proposal = await create_proposal(stack, await create_client(stack))
    handle = client.get_workflow_handle(proposal_workflow_id(proposal["id"]))
    await _details_containing(handle, "— sent")
    converted = await stack.api.post(f"/api/v1/proposals/{proposal['id']}/invoice")
    assert converted.status_code in (200, 201), converted.text
    invoice_id = converted.json()["invoice_id"]
    details = await _details_containing(handle, "— converted")
    assert f"`invoice-{invoice_id}`" in details and "Nothing to send now" in details
    invoice = client.get_workflow_handle(invoice_workflow_id(invoice_id))
    short = invoice_id.replace("-", "")[:8]
    assert await (await invoice.describe()).static_summary() == (
        f"draft invoice {short} · Exemplu SRL · {TOTAL_RO}"
    )
    assert "Convert the unsigned proposal into a draft invoice" in await _step_summaries(handle)

    # 500 lines (the API's most): the details show the first few and how many more.
    await wait_invoice_status(stack, invoice_id, "awaiting_review")
    lines = [
        {"description": f"Ședința {n}", "quantity": "1", "unit_price": "10.00", "vat_rate": "21"}
        for n in range(1, 501)
    ]
    edited = await stack.api.patch(f"/api/v1/invoices/{invoice_id}", json={"lines": lines})
    assert edited.status_code == 200, edited.text
    details = await _details_containing(invoice, f"… and {500 - MAX_DETAIL_LINES} more lines")
    assert f"| {MAX_DETAIL_LINES} | Ședința {MAX_DETAIL_LINES} |" in details
    assert "Ședința 11" not in details
    assert f"**Total: 6.050,00{NBSP}RON**" in details and len(details) < 3000


@pytest.fixture
async def dev_spv_stack(
    db: asyncpg.Pool, mail: MailSink, database_url: str, spv: SpvStandIn
) -> AsyncIterator[Stack]:
    environment = await _dev_environment()
    async with (
        environment,
        stack_on(environment, db, mail, database_url, **spv_settings(spv)) as running,
    ):
        yield running


async def test_the_efactura_submission_names_its_document_and_steps(
    dev_spv_stack: Stack, spv: SpvStandIn
) -> None:
    stack = dev_spv_stack
    await connect_to_spv(spv, stack.db, stack.settings)
    invoice = await issued_invoice(stack)
    number = invoice["number"]
    handle = stack.env.client.get_workflow_handle(efactura_workflow_id("invoice", invoice["id"]))

    async def uploaded() -> list[str] | None:
        try:
            steps = await _step_summaries(handle)
        except RPCError:
            return None  # not started yet
        return steps if f"Upload to ANAF e-Factura ({number})" in steps else None

    await eventually(uploaded, what="the e-Factura upload")
    assert await (await handle.describe()).static_summary() == f"e-Factura: invoice {number}"
    invoice_steps = await _step_summaries(
        stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"]))
    )
    assert f"Check whether the document goes to e-Factura ({number})" in invoice_steps
