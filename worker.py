"""The q2c worker: both workflows and every activity, on task queue `q2c`.

Run as many of these as you like against one Temporal namespace and one database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.documents import DocumentRenderer
from activities.events import DeliveryActivities, StartDeliveriesInterceptor
from activities.invoices import InvoiceActivities
from activities.mail import Mailer, SmtpSettings
from activities.proposals import ProposalActivities
from activities.services import Services
from activities.signing import SigningActivities
from starter.config import Settings
from workflows.events import EventDeliveryWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.proposal import ProposalWorkflow

WORKFLOWS = [ProposalWorkflow, InvoiceWorkflow, EventDeliveryWorkflow]


def activities_of(services: Services) -> list[Callable[..., Any]]:
    proposals = ProposalActivities(services)
    invoices = InvoiceActivities(services)
    signing = SigningActivities(services)
    deliveries = DeliveryActivities(services)
    return [
        proposals.send_proposal,
        proposals.accept_proposal,
        proposals.close_proposal,
        signing.send_signed_copy,
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
    ]


@asynccontextmanager
async def services_for(settings: Settings) -> AsyncIterator[Services]:
    pool = await asyncpg.create_pool(settings.resolved_database_url(), min_size=1, max_size=10)
    # PDF layout is CPU-bound: keep it off the event loop that serves activities.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pdf") as pdf_executor:
        try:
            yield Services(
                pool=pool,
                mailer=Mailer(SmtpSettings.from_url(settings.smtp_url), settings.mail_from),
                renderer=DocumentRenderer(pdf_executor),
                public_url=settings.public_url,
                invoice_link_days=settings.invoice_link_days,
            )
        finally:
            await pool.close()


def build_worker(client: Client, services: Services, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_of(services),
        # Starts the webhook deliveries an activity emitted, once it has committed them.
        interceptors=[StartDeliveriesInterceptor()],
        # A deploy lets running sends and renders finish instead of cancelling them.
        graceful_shutdown_timeout=timedelta(seconds=15),
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    async with services_for(settings) as services:
        async with build_worker(client, services, settings.task_queue):
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

    asyncio.run(serve())


if __name__ == "__main__":
    main()
