"""RO e-Factura submission, durably (issue 14, points 5 and 8), on the real worker, the
time-skipping Temporal server and the SPV stand-in over HTTP: an invoice accepted within a
minute of its email, polling over days, the 4-day deadline task, a rejected upload with
ANAF's rule ids in a task, the worker that loses an upload's answer (one upload, its index
found again), q2c not connected to ANAF, and the credit note of a voided invoice."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from messages import search_attributes as sa
from messages.models import efactura_workflow_id, invoice_workflow_id
from starter.devstack.mailsink import MailSink
from starter.devstack.spv import SpvStandIn
from tests.conftest import (
    Stack,
    connect_to_spv,
    release_time_skipping,
    spv_settings,
    stack_on,
)
from tests.helpers import eventually, get_json, issued_invoice
from tests.test_replay import record, replayer


@pytest.fixture
async def spv_stack(
    env: WorkflowEnvironment,
    db: asyncpg.Pool,
    mail: MailSink,
    database_url: str,
    spv: SpvStandIn,
) -> AsyncIterator[Stack]:
    async with stack_on(env, db, mail, database_url, **spv_settings(spv)) as running:
        yield running


async def _connected(stack: Stack, spv: SpvStandIn) -> None:
    await connect_to_spv(spv, stack.db, stack.settings)


async def _efactura(stack: Stack, path: str) -> dict[str, Any]:
    body = await get_json(stack, path)
    efactura: dict[str, Any] = body["efactura"]
    return efactura


async def _status_after(stack: Stack, path: str, status: str, step: timedelta) -> dict[str, Any]:
    """Let workflow time pass in steps until the document's e-Factura status is `status`."""

    async def probe() -> dict[str, Any] | None:
        efactura = await _efactura(stack, path)
        if efactura["status"] == status:
            return efactura
        await stack.env.sleep(step)
        return None

    return await eventually(probe, within=60, what=f"e-Factura {status}")


async def _tasks(stack: Stack, invoice_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await get_json(stack, f"/api/v1/tasks?invoice_id={invoice_id}"))[
        "items"
    ]
    return items


async def _audit_kinds(stack: Stack, invoice_id: str) -> list[str]:
    rows = await stack.db.fetch(
        "SELECT kind FROM audit_events WHERE invoice_id = $1 ORDER BY id", invoice_id
    )
    return [row["kind"] for row in rows]


async def test_an_invoice_is_accepted_within_a_minute_of_its_email(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"
    accepted = await _status_after(spv_stack, path, "accepted", timedelta(seconds=20))
    now = await spv_stack.env.get_current_time()
    assert accepted["upload_index"] and accepted["download_id"] and accepted["errors"] == []
    assert accepted["uploaded_at"] and accepted["answered_at"]
    assert spv.upload_count == 1

    xml = (await spv_stack.api.get(f"{path}/efactura.xml")).content
    answer = await spv_stack.api.get(f"{path}/efactura-answer.zip")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/zip")
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        # ANAF's answer holds the very document uploaded, and ANAF's signature of it.
        assert f"{accepted['upload_index']}.xml" in names
        assert archive.read(f"{accepted['upload_index']}.xml") == xml
        assert any(name.startswith("semnatura_") for name in names)

    kinds = await _audit_kinds(spv_stack, invoice["id"])
    assert kinds.index("efactura_uploaded") < kinds.index("efactura_accepted")
    assert [t for t in await _tasks(spv_stack, invoice["id"]) if "e-Factura" in t["title"]] == []

    handle = spv_stack.env.client.get_workflow_handle(
        efactura_workflow_id("invoice", invoice["id"])
    )
    assert await handle.result() == "accepted"
    described = await handle.describe()
    assert described.typed_search_attributes[sa.EFACTURA_STATUS] == "accepted"
    assert described.typed_search_attributes[sa.INVOICE_NUMBER] == invoice["number"]
    assert now - described.start_time < timedelta(minutes=2)
    # Within a minute of the invoice's email (its first status poll is 20 s after upload).
    sent_at = await spv_stack.db.fetchval(
        "SELECT sent_at FROM invoices WHERE id = $1", invoice["id"]
    )
    answered = datetime.fromisoformat(accepted["answered_at"]) - sent_at
    assert timedelta(0) < answered < timedelta(minutes=1)

    # The submission's history and the invoice's (which started it, patch `efactura`)
    # replay; with Q2C_RECORD_HISTORIES=1 they are kept for later versions.
    invoice_handle = spv_stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"]))
    histories = [await handle.fetch_history(), await invoice_handle.fetch_history()]
    for history in histories:
        await replayer().replay_workflow(history)
    record(histories)


async def test_polling_goes_on_for_days_until_anaf_answers(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    # ANAF still processing for 30 polls: about a day of polls backing off to hourly.
    spv.processing_polls = 30
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"
    uploaded = await _status_after(spv_stack, path, "uploaded", timedelta(seconds=20))
    assert uploaded["upload_index"] and uploaded["answered_at"] is None
    await spv_stack.env.sleep(timedelta(hours=6))
    assert (await _efactura(spv_stack, path))["status"] == "uploaded"
    accepted = await _status_after(spv_stack, path, "accepted", timedelta(hours=6))
    assert accepted["upload_index"] == uploaded["upload_index"]
    assert spv.upload_count == 1
    # Accepted well within the 4 days: no deadline task.
    await spv_stack.env.sleep(timedelta(days=5))
    assert [t for t in await _tasks(spv_stack, invoice["id"]) if "e-Factura" in t["title"]] == []


async def test_an_invoice_not_accepted_after_four_days_opens_one_task(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    spv.processing_polls = 1_000_000
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"
    await _status_after(spv_stack, path, "uploaded", timedelta(seconds=20))
    await spv_stack.env.sleep(timedelta(days=3, hours=20))
    assert [t for t in await _tasks(spv_stack, invoice["id"]) if "e-Factura" in t["title"]] == []

    async def deadline_task() -> list[dict[str, Any]] | None:
        found = [t for t in await _tasks(spv_stack, invoice["id"]) if "e-Factura" in t["title"]]
        if not found:
            await spv_stack.env.sleep(timedelta(hours=1))
        return found or None

    [task] = await eventually(deadline_task, what="the deadline task")
    assert invoice["number"] in task["title"] and "not accepted by ANAF" in task["title"]
    issued = (await spv_stack.env.get_current_time()).date()
    assert task["due_date"] >= issued.isoformat()
    await spv_stack.env.sleep(timedelta(days=2))
    found = [t for t in await _tasks(spv_stack, invoice["id"]) if "e-Factura" in t["title"]]
    assert [t["id"] for t in found] == [task["id"]]
    assert (await _efactura(spv_stack, path))["status"] == "uploaded"


async def test_not_connected_then_a_rejected_upload_opens_tasks_with_anafs_errors(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    # Not connected to ANAF yet: one task, the upload waits.
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"

    async def connect_task() -> list[dict[str, Any]] | None:
        found = [t for t in await _tasks(spv_stack, invoice["id"]) if "ANAF" in t["title"]]
        return found or None

    [task] = await eventually(connect_task, what="the connect-to-ANAF task")
    assert "q2c efactura connect" in task["title"]
    assert (await _efactura(spv_stack, path))["status"] == "pending"

    # A stored XML broken after its check (a Cluj county code no one has), as a document
    # ANAF's rules refuse: ANAF answers nok with the rule id.
    key = await spv_stack.db.fetchval(
        "SELECT xml_key FROM efactura_submissions WHERE document_id = $1", invoice["id"]
    )
    broken = await spv_stack.db.fetchval("SELECT content FROM documents WHERE key = $1", key)
    broken = bytes(broken).replace(b">RO-CJ<", b">RO-XX<")
    await spv_stack.db.execute(
        "UPDATE documents SET content = $2, sha256 = $3 WHERE key = $1",
        key,
        broken,
        hashlib.sha256(broken).hexdigest(),
    )
    await _connected(spv_stack, spv)
    rejected = await _status_after(spv_stack, path, "rejected", timedelta(minutes=20))
    assert rejected["errors"] and any("BR-RO-111" in error for error in rejected["errors"])
    assert rejected["download_id"]
    answer = await spv_stack.api.get(f"{path}/efactura-answer.zip")
    assert answer.status_code == 200
    tasks = [t for t in await _tasks(spv_stack, invoice["id"]) if "rejected" in t["title"]]
    assert len(tasks) == 1 and "BR-RO-111" in tasks[0]["title"]
    assert tasks[0]["kind"] == "efactura_rejected" and not tasks[0]["done"]
    # Connected and uploaded: the connect task closed itself.
    done = await get_json(spv_stack, f"/api/v1/tasks?invoice_id={invoice['id']}&done=true")
    [connect] = [t for t in done["items"] if t["id"] == task["id"]]
    assert connect["done"] and connect["kind"] == "efactura_not_connected"
    assert "efactura_rejected" in await _audit_kinds(spv_stack, invoice["id"])
    handle = spv_stack.env.client.get_workflow_handle(
        efactura_workflow_id("invoice", invoice["id"])
    )
    assert await handle.result() == "rejected"
    described = await handle.describe()
    assert described.typed_search_attributes[sa.EFACTURA_STATUS] == "rejected"


async def test_an_upload_whose_answer_was_lost_is_found_not_uploaded_again(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    spv.drop_next_upload = True
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"
    accepted = await _status_after(spv_stack, path, "accepted", timedelta(minutes=1))
    assert spv.upload_count == 1
    [upload_index] = list(spv.uploads)
    assert accepted["upload_index"] == upload_index
    found = await spv_stack.db.fetchval(
        "SELECT data->>'found_again' FROM audit_events WHERE invoice_id = $1 AND kind = $2",
        invoice["id"],
        "efactura_uploaded",
    )
    assert found == "true"


async def test_the_credit_note_of_a_voided_invoice_is_submitted_too(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    invoice = await issued_invoice(spv_stack)
    await _status_after(
        spv_stack, f"/api/v1/invoices/{invoice['id']}", "accepted", timedelta(seconds=20)
    )
    voided = await spv_stack.api.post(
        f"/api/v1/invoices/{invoice['id']}/void", json={"reason": "anulată"}
    )
    assert voided.status_code == 202

    async def credit_note() -> str | None:
        current = await get_json(spv_stack, f"/api/v1/invoices/{invoice['id']}")
        note_id: str | None = current["credit_note_id"]
        return note_id

    credit_note_id = await eventually(credit_note, what="the credit note")
    # The voided invoice's run ends (a child of its proposal's, abandoned): see
    # release_time_skipping.
    await spv_stack.env.client.get_workflow_handle(invoice_workflow_id(invoice["id"])).result()
    await release_time_skipping(spv_stack.env)
    path = f"/api/v1/credit-notes/{credit_note_id}"
    accepted = await _status_after(spv_stack, path, "accepted", timedelta(seconds=20))
    assert accepted["upload_index"] and spv.upload_count == 2
    upload = spv.uploads[accepted["upload_index"]]
    xml = (await spv_stack.api.get(f"{path}/efactura.xml")).content
    assert upload.standard == "CN" and b"<cbc:CreditNoteTypeCode>381" in xml
    answer = await spv_stack.api.get(f"{path}/efactura-answer.zip")
    assert answer.status_code == 200
    handle = spv_stack.env.client.get_workflow_handle(
        efactura_workflow_id("credit_note", credit_note_id)
    )
    assert handle.id == f"efactura-credit-note-{credit_note_id}"
    assert await handle.result() == "accepted"


async def test_a_lost_upload_not_found_in_anafs_messages_is_uploaded_again_once_audited(
    spv_stack: Stack, spv: SpvStandIn
) -> None:
    await _connected(spv_stack, spv)
    # The answer to the first upload is lost, and ANAF keeps processing it, so its message
    # never appears in the list: after 30 minutes of looking, it is uploaded again.
    spv.drop_next_upload = True
    spv.processing_polls = 1_000_000
    invoice = await issued_invoice(spv_stack)
    path = f"/api/v1/invoices/{invoice['id']}"

    async def first_upload() -> bool:
        return spv.upload_count == 1

    await eventually(first_upload, what="the first upload")
    await spv_stack.env.sleep(timedelta(minutes=20))
    assert spv.upload_count == 1
    assert (await _efactura(spv_stack, path))["status"] == "pending"
    uploaded = await _status_after(spv_stack, path, "uploaded", timedelta(minutes=5))
    assert spv.upload_count == 2 and uploaded["upload_index"] in spv.uploads
    kinds = await _audit_kinds(spv_stack, invoice["id"])
    assert kinds.count("efactura_upload_repeated") == 1
    assert kinds.count("efactura_uploaded") == 1
