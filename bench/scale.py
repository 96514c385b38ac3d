"""Scale: many open invoices waiting on reminder timers, then all their reminders due at once.

Seeding 10,000 invoices through the whole pipeline would take longer than the rest of the
bench, so the invoices are written straight into PostgreSQL as sent invoices (numbered,
due in 10 days, each with the same frozen reminder plan as a sent invoice has) and their
InvoiceWorkflows are started the way a continue-as-new starts them: with the invoice's
snapshot, whose first reminder (step 1, "3 days before due") is set to one instant a few
minutes ahead instead of a morning days away. That compression of the schedule is the only
difference from production: the reminder activity, the outbox, SMTP, timers and workflow
tasks are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from bench.pipeline import CLIENT
from bench.stack import Stack
from bench.stats import mib
from domain.ui_summary import document_summary
from messages.models import (
    InvoiceSnapshot,
    InvoiceWorkflowInput,
    ReminderPlan,
    invoice_workflow_id,
)

# Starts in flight at once, and the start rate the due instant is planned for (measured
# here well above it); a start later than the due instant fires at once and counts against
# the figure, so the plan errs on the late side.
CONCURRENT_STARTS = 64
PLANNED_STARTS_PER_S = 120
SETTLE_SECONDS = 20
TIME_ZONE = "Europe/Bucharest"


async def _seed_rows(db: asyncpg.Pool, http: httpx.AsyncClient, count: int) -> list[str]:
    # A client of its own: one client per tax id and company, and the pipeline's exists.
    scale_client = CLIENT | {"email": "scale@bench.example", "tax_id": "RO30405065"}
    response = await http.post("/api/v1/clients", json=scale_client)
    response.raise_for_status()
    client_id = response.json()["id"]
    today = date.today()
    plan = json.dumps(
        {
            "offsets_days": [-3, 0, 7],
            "hour": 9,
            "repeat_every_days": 0,
            "repeat_max": 0,
            "time_zone": TIME_ZONE,
            "step_base": 0,
            "planned_from": datetime.now(UTC).isoformat(),
        }
    )
    async with db.acquire() as conn:
        company_id = await conn.fetchval("SELECT company_id FROM clients WHERE id = $1", client_id)
        rows = await conn.fetch(
            """INSERT INTO invoices (company_id, client_id, series, number, status, currency,
                   payment_terms_days, issue_date, due_date, subtotal, vat_total, total,
                   approved_at, sent_at, reminder_plan)
               SELECT $1, $2, 'SCALE', 'SCALE-' || lpad(n::text, 6, '0'), 'sent', 'RON', 14,
                   $3::date, $3::date + 10, 1000, 210, 1210, now(), now(), $4::jsonb
               FROM generate_series(1, $5) AS n
               RETURNING id""",
            company_id,
            client_id,
            today,
            plan,
            count,
        )
    return [str(row["id"]) for row in rows]


async def _start(client: Client, invoice_ids: list[str], due: datetime, task_queue: str) -> float:
    today = date.today()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for invoice_id in invoice_ids:
        queue.put_nowait(invoice_id)

    async def starter() -> None:
        while not queue.empty():
            invoice_id = queue.get_nowait()
            snapshot = InvoiceSnapshot(
                invoice_id=invoice_id,
                client_id="",
                status="sent",
                currency="RON",
                total="1210.00",
                amount_paid="0.00",
                amount_due="1210.00",
                number=None,
                due_date=(today + timedelta(days=10)).isoformat(),
                reminders=[ReminderPlan(step=1, send_at=due)],
            )
            await client.start_workflow(
                "InvoiceWorkflow",
                InvoiceWorkflowInput(invoice_id=invoice_id, snapshot=snapshot),
                id=invoice_workflow_id(invoice_id),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # As every invoice start (issue 15): the Temporal UI's list line.
                static_summary=document_summary(
                    number=None,
                    document_id=invoice_id,
                    client_name="bench",
                    total_text="1210.00 RON",
                ),
            )

    started = time.time()
    await asyncio.gather(*(starter() for _ in range(CONCURRENT_STARTS)))
    return time.time() - started


async def scale_section(
    stack: Stack, db: asyncpg.Pool, http: httpx.AsyncClient, count: int, task_queue: str
) -> dict[str, Any]:
    assert stack.client is not None
    seeded_at = time.time()
    invoice_ids = await _seed_rows(db, http, count)
    rows_seconds = time.time() - seeded_at
    due = datetime.now(UTC) + timedelta(seconds=count / PLANNED_STARTS_PER_S + SETTLE_SECONDS + 10)
    start_seconds = await _start(stack.client, invoice_ids, due, task_queue)
    # Let the worker run every first workflow task, then measure the waiting state.
    wait_until = due.timestamp() - 5
    await asyncio.sleep(max(0.0, min(SETTLE_SECONDS, wait_until - time.time())))
    worker_rss, render_rss = stack.worker_rss()
    temporal_rss = stack.temporal_rss()
    pg_bytes = stack.postgres_disk_bytes()
    open_invoices = await db.fetchval(
        "SELECT count(*) FROM invoices WHERE series = 'SCALE' AND status = 'sent'"
    )
    overran = max(0.0, time.time() - due.timestamp())
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    cpu_before = stack.cpu_seconds()
    deadline = due.timestamp() + 600
    # The SMTP peer runs on its own thread: poll its count.
    while stack.smtp.count("invoice:", ":reminder:") < count and time.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    cpu_after = stack.cpu_seconds()
    reminders = [a for a in stack.smtp.accepted if ":reminder:" in a.key]
    last = max((a.at for a in reminders), default=float("nan"))
    return {
        "open_invoices": open_invoices,
        "seeding": "rows inserted in SQL as sent invoices; workflows started with a snapshot "
        "whose first reminder is compressed to one instant minutes ahead",
        "rows_seconds": round(rows_seconds, 2),
        "workflow_starts_seconds": round(start_seconds, 2),
        "workflow_starts_per_s": round(count / start_seconds, 1) if start_seconds else None,
        "due_overran_by_seconds": round(overran, 2),
        "worker_rss_mib": round(mib(worker_rss), 1),
        "render_processes_rss_mib": round(mib(render_rss), 1),
        "worker_total_rss_mib": round(mib(worker_rss + render_rss), 1),
        "temporal_rss_mib": round(mib(temporal_rss), 1),
        "postgres_disk_mib": round(mib(pg_bytes), 1),
        "reminders_due": count,
        "reminders_accepted": len(reminders),
        "reminders_seconds": round(last - due.timestamp(), 2) if reminders else None,
        "cpu_ms_per_reminder": {
            part: round((cpu_after[part] - cpu_before.get(part, 0.0)) * 1000 / count, 2)
            for part in cpu_after
        },
        "reminders_per_s": (
            round(len(reminders) / (last - due.timestamp()), 1)
            if reminders and last > due.timestamp()
            else None
        ),
    }
