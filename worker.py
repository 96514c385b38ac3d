"""The q2c worker: both workflows and every activity, on task queue `q2c`.

Run as many of these as you like against one Temporal namespace and one database.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from temporalio.client import Client
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import temporal_connection
from activities import metrics
from activities.credit_notes import CreditNoteActivities
from activities.documents import DocumentRenderer
from activities.efactura import EfacturaActivities
from activities.efactura_access import EfacturaAccess
from activities.events import DeliveryActivities, StartDeliveriesInterceptor
from activities.invoices import InvoiceActivities
from activities.mail import Mailer, SmtpSettings
from activities.pdf_engine import (
    FAST_PATH_PACKAGES,
    fast_font_subsetting,
    ready,
    warm_up_renderer,
)
from activities.proposals import ProposalActivities
from activities.render_failures import RenderFailureActivities
from activities.resend import ResendActivities
from activities.services import Services
from activities.signing import SigningActivities
from settings import Settings
from workflows.efactura import EfacturaSubmissionWorkflow
from workflows.events import EventDeliveryWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow
from workflows.resend import ResendWorkflow

WORKFLOWS = [
    ProposalWorkflow,
    InvoiceWorkflow,
    EventDeliveryWorkflow,
    EfacturaSubmissionWorkflow,
    ResendWorkflow,
]


def activities_of(services: Services) -> list[Callable[..., Any]]:
    proposals = ProposalActivities(services)
    invoices = InvoiceActivities(services)
    signing = SigningActivities(services)
    deliveries = DeliveryActivities(services)
    credit_notes = CreditNoteActivities(services)
    render_failures = RenderFailureActivities(services)
    efactura = EfacturaActivities(services, services.efactura)
    resend = ResendActivities(services)
    return [
        proposals.send_proposal,
        proposals.render_proposal,
        proposals.accept_proposal,
        proposals.close_proposal,
        proposals.plan_proposal_followups,
        proposals.send_proposal_followup,
        proposals.convert_proposal,
        signing.send_signed_copy,
        signing.render_signed_copy,
        invoices.prepare_invoice_draft,
        invoices.edit_invoice,
        invoices.issue_invoice,
        invoices.send_invoice,
        invoices.send_reminder,
        invoices.mark_overdue,
        invoices.record_payment,
        invoices.void_invoice,
        invoices.reschedule_invoice,
        invoices.set_reminders_paused,
        invoices.record_refund,
        deliveries.deliver_webhook,
        deliveries.mark_delivery_failed,
        credit_notes.issue_credit_note,
        credit_notes.send_credit_note,
        render_failures.open_render_task,
        render_failures.open_proposal_render_task,
        efactura.efactura_prepare,
        efactura.efactura_upload,
        efactura.efactura_poll,
        efactura.efactura_deadline,
        resend.resend_document,
    ]


# Activities run up to this many at once; each holds a database connection while it works,
# so the pool matches (PostgreSQL's default max_connections is 100, the API takes 10).
MAX_CONCURRENT_ACTIVITIES = 40
DB_POOL_SIZE = MAX_CONCURRENT_ACTIVITIES
# Workflows kept in memory between their tasks (the sticky cache). Each costs ~28 KiB for as
# long as it waits (10,000 open invoices wait for weeks); one evicted is rebuilt from its
# history on its next task (~5 ms more CPU), so a cache far smaller than the open workflows
# is enough.
MAX_CACHED_WORKFLOWS = 500
# Most workflow tasks of a reminder burst are for workflows no longer in the cache, so they
# come from the task queue itself, not the worker's sticky queue; the SDK's default (5
# pollers, 0.2 of them on the task queue) leaves about one poller there, and its round trip
# capped the burst at ~43 reminders/s while both cores idled a third of the time. Measured
# with make bench (3,000 due at once): 10 pollers at 1:1 gave 52/s, 20 at 2:1 60/s but
# workflow starts fell from ~170/s to ~70–120/s, 40 at 4:1 52/s.
WORKFLOW_TASK_POLLS = 10
NONSTICKY_TO_STICKY_POLL_RATIO = 1.0


@asynccontextmanager
async def pdf_executor(
    processes: int, templates_dir: Path | None = None
) -> AsyncIterator[Executor]:
    """Where WeasyPrint runs. It is CPU-bound Python: on threads it holds the GIL against
    the event loop that serves every other activity, and two renders never overlap; in
    processes they run on every core. Spawned, not forked (the Temporal SDK's threads are
    running), each warmed up before the worker polls so no activity pays a cold start."""
    if processes <= 0:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pdf") as threads:
            yield threads
        return
    context = multiprocessing.get_context("spawn")
    # The override folder goes to each process as an argument: settings are read from the
    # environment once, in the worker, not again in every render process.
    override = str(templates_dir) if templates_dir else None
    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=warm_up_renderer, initargs=(override,)
    ) as pool:
        loop = asyncio.get_running_loop()
        # One task per process: the executor spawns a process for each task it cannot give
        # to an idle one (synchronously, in submit), so this starts (and warms) all of them
        # now. The tasks and the initializer live in activities.pdf_engine, so that is all a
        # process imports, once it no longer imports the worker's main module too.
        with _main_module_not_inherited():
            started = [loop.run_in_executor(pool, ready) for _ in range(processes)]
        await asyncio.gather(*started)
        yield pool


@contextmanager
def _main_module_not_inherited() -> Iterator[None]:
    """A spawned process imports its parent's main module first (multiprocessing does, so
    that functions defined there can be unpickled). The worker's main module (`python -m
    worker`, or the `q2c` script) pulls in Temporal, asyncpg, Jinja2, babel and every
    activity: ~25 MiB more per render process, for nothing. While the processes are
    spawned, the main module shows neither a module name nor a file, so they skip it."""
    main = sys.modules["__main__"]
    names = ("__spec__", "__file__")
    saved = {name: main.__dict__[name] for name in names if name in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)


async def keep_session_state(connection: asyncpg.Connection) -> None:
    """The pool's reset between two activities: nothing beyond what asyncpg always does (an
    open transaction is rolled back). Its default also sends `RESET ALL; UNLISTEN *;
    pg_advisory_unlock_all()...`, a round trip per activity for state q2c never leaves on a
    session: its advisory locks are transaction-scoped, it neither LISTENs nor SETs."""


@asynccontextmanager
async def services_for(settings: Settings, render_processes: int = 0) -> AsyncIterator[Services]:
    """The activities' services; `render_processes` as in `pdf_executor` (0, threads, for
    tests; the worker passes `settings.render_processes`)."""
    pool = await asyncpg.create_pool(
        settings.resolved_database_url(),
        min_size=2,
        max_size=DB_POOL_SIZE,
        reset=keep_session_state,
    )
    mailer = Mailer(SmtpSettings.from_url(settings.smtp_url), settings.mail_from)
    try:
        async with pdf_executor(render_processes, settings.templates_dir) as executor:
            yield Services(
                pool=pool,
                mailer=mailer,
                renderer=DocumentRenderer(executor, settings.templates_dir),
                public_url=settings.public_url,
                invoice_link_days=settings.invoice_link_days,
                webhook_allow_hosts=settings.webhook_allow_hosts,
                efactura=(
                    EfacturaAccess(pool, settings) if settings.efactura_url is not None else None
                ),
            )
    finally:
        await mailer.close()
        await pool.close()


# The sandbox re-imports every module it does not pass through for each workflow run it
# starts, including a cached workflow evicted and rebuilt: ~40 ms of CPU and a private
# copy of those modules in memory per run (measured in README "Performance"). q2c's own
# workflow and domain modules keep no mutable module state, so they are passed through;
# tests/test_replay.py still replays every saved history under the full default sandbox,
# which keeps guarding determinism.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "workflows", "domain", "messages"
    )
)


def build_worker(
    client: Client,
    services: Services,
    task_queue: str,
    workflow_runner: WorkflowRunner = WORKFLOW_RUNNER,
) -> Worker:
    """The worker for `task_queue`; tests pass the default sandbox as `workflow_runner`, so
    every workflow they run is also checked for determinism with nothing passed through."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_of(services),
        # Starts the webhook deliveries an activity emitted, once it has committed them.
        interceptors=[StartDeliveriesInterceptor()],
        # A deploy lets running sends and renders finish instead of cancelling them.
        graceful_shutdown_timeout=timedelta(seconds=15),
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
        max_concurrent_workflow_task_polls=WORKFLOW_TASK_POLLS,
        nonsticky_to_sticky_poll_ratio=NONSTICKY_TO_STICKY_POLL_RATIO,
        workflow_runner=workflow_runner,
    )


def warn_of_slow_renders() -> None:
    if not fast_font_subsetting():
        logging.getLogger("q2c").warning(
            "HarfBuzz's subset library is missing: PDFs render on WeasyPrint's slow fontTools"
            " path (about twice the time); install the Debian package(s) %s",
            " ".join(FAST_PATH_PACKAGES),
        )


@asynccontextmanager
async def worker_metrics(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[None]:
    """With Q2C_METRICS_PORT set: the outbox backlog read every 15 s while the worker runs
    (`start_metrics` has started the rest before the client connected)."""
    if settings.metrics_port is None:
        yield
        return
    watcher = asyncio.create_task(metrics.watch_outbox(pool), name="q2c-outbox-metrics")
    try:
        yield
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def start_metrics(settings: Settings) -> None:
    """With Q2C_METRICS_PORT set: the Temporal SDK's metrics go into q2c's registry (every
    client connected from now on, this worker's included, is on that runtime; a client made
    before stays on the one it had) and the registry is served on the port."""
    if settings.metrics_port is None:
        return
    metrics.install_default_runtime()
    metrics.serve(settings.metrics_port, settings.api_host)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    warn_of_slow_renders()
    start_metrics(settings)
    if settings.efactura_url is None:
        logging.getLogger("q2c").info(
            "e-Factura submission is off (Q2C_EFACTURA_URL=off): Romanian invoices are "
            "validated and their XML stored, nothing is uploaded to ANAF"
        )
    client = await temporal_connection.connect(settings)
    async with services_for(settings, settings.render_processes) as services:
        async with (
            build_worker(client, services, settings.task_queue),
            worker_metrics(settings, services.pool),
        ):
            logging.getLogger("q2c").info("worker polling task queue %s", settings.task_queue)
            await stop.wait()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(Settings.from_env(), stop)

    run_event_loop(serve())


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a process's main coroutine on uvloop: the worker's CPU goes largely to the event
    loop's own machinery (socket writes, callbacks from the Temporal core's threads, task
    switches between thousands of short activities), which libuv does in C."""
    uvloop.run(main)


if __name__ == "__main__":
    main()
