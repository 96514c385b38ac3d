"""What-if probe for the reminder budget: the same due reminders sent without a workflow
task per reminder, as a batched daily reminder run would send them.

    python -m bench.batch_probe [--count 10000]

The scale section (`bench.scale`) sends each reminder from its own invoice workflow, as
DESIGN.md's invoice loop does: a timer fires, a workflow task runs, the reminder activity
sends. This probe seeds the same invoice rows and calls the same reminder activity
(`InvoiceActivities.send_reminder`: outbox, SMTP, events) directly, as many at once as the
worker runs activities, in this one process; the worker is stopped so nothing else runs.
The difference between the two figures is what the workflow task per reminder costs. It is
not a product path: q2c's reminders are sent by the invoice workflows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.pipeline import api_client
from bench.scale import _seed_rows
from bench.stack import Stack

# The parts of `Stack.cpu_seconds` this probe uses: it sends from its own process (which
# also runs the SMTP peer) and PostgreSQL does the rest.
MEASURED_PARTS = ("bench (load, SMTP peer)", "postgres")


def _cpu_seconds(stack: Stack) -> float:
    parts = stack.cpu_seconds()
    return sum(parts[part] for part in MEASURED_PARTS)


async def probe(count: int) -> dict[str, Any]:
    """The figures; `make bench` runs this in the same run as the scale section and
    budgets the workflows' reminder rate as a ratio of this one."""
    from activities.invoices import InvoiceActivities
    from messages.models import ReminderInput
    from settings import Settings
    from worker import MAX_CONCURRENT_ACTIVITIES, services_for

    stack = Stack()
    print(f"starting the stack in {stack.dir}…", flush=True)
    try:
        await stack.start()
        assert stack.worker is not None
        stack.worker.terminate()
        await asyncio.to_thread(stack.worker.wait, 30)
        stack.worker = None  # stopped: not measured, not stopped again
        os.environ.update(stack.env)
        async with (
            asyncpg.create_pool(stack.database_url, min_size=1, max_size=4) as db,
            api_client(stack) as http,
        ):
            invoice_ids = await _seed_rows(db, http, count)
        async with services_for(Settings.from_env()) as services:
            activities = InvoiceActivities(services)
            due = datetime.now(UTC)
            pending = list(invoice_ids)

            async def sender() -> None:
                while pending:
                    invoice_id = pending.pop()
                    await activities.send_reminder(ReminderInput(invoice_id, 1, due))

            cpu_before = _cpu_seconds(stack)
            started = time.time()
            await asyncio.gather(*(sender() for _ in range(MAX_CONCURRENT_ACTIVITIES)))
            seconds = time.time() - started
            cpu_ms = (_cpu_seconds(stack) - cpu_before) * 1000 / count
        accepted = stack.smtp.count("invoice:", ":reminder:")
        return {
            "reminders_due": count,
            "reminders_accepted": accepted,
            "seconds": round(seconds, 2),
            "reminders_per_s": round(accepted / seconds, 1),
            "cpu_ms_per_reminder": round(cpu_ms, 2),
        }
    finally:
        await stack.stop()
        stack.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    figures = asyncio.run(probe(parser.parse_args().count))
    print(
        f"batch probe: {figures['reminders_accepted']}/{figures['reminders_due']} reminders "
        f"accepted by SMTP in {figures['seconds']:.1f} s ({figures['reminders_per_s']:.0f}/s), "
        f"{figures['cpu_ms_per_reminder']:.1f} ms of CPU each (this process, with the SMTP "
        "peer, and PostgreSQL); no workflow task per reminder"
    )


if __name__ == "__main__":
    main()
