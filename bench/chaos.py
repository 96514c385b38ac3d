"""`make chaos`: proposals driven to paid while the stack's parts are killed and brought back;
then the judge counts what was lost or done twice, and fails (exit 1) on any.

    python -m bench.chaos [--proposals 40] [--minutes 7] [--worker-kills 20] [--keep]

The stack is bench.stack's (PostgreSQL via pgserver, the Temporal dev server, the worker and
the API, each a process of its own, on free ports in a temporary folder), with the SMTP peer
moved into a process of its own too (bench.chaos_smtp) so it can be taken away. Each proposal
is driven as its users would: a client and a proposal created through the API, the signing
link read from the email the SMTP peer accepted, the signing page loaded and its form posted
as a browser does, the invoice approved by an operator through the API, two payments sent by
the payments webhook, signed as a provider signs them. Meanwhile the worker is SIGKILLed and
restarted (its render processes die with it), the Temporal dev server SIGKILLed and restarted
on its SQLite file, PostgreSQL stopped in immediate mode (a crash: no checkpoint, WAL
recovery at start) and restarted on its data folder, the API restarted (TERM, then KILL),
and the SMTP peer stopped for a while (connections refused) and started again.

The drivers retry what a real client retries: a provider re-sends a webhook on a 5xx or a
connection error with the same event id (and delivers every event once more after success,
as at-least-once providers do); an operator clicks approve again; a browser reloads the page
and posts the form again if it is still offered; a create is retried with its external_id.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from stdnum.ro import cui

from bench.chaos_checks import (
    Check,
    Payment,
    amount_paid_mismatches,
    duplicate_problems,
    invoices_lost,
    keys_accepted_twice,
    not_paid,
    numbering_problems,
    payments_counted_twice,
    payments_lost,
    repeated,
)
from bench.pipeline import LINES, signed_headers
from bench.stack import API_KEY, ROOT, Stack, free_port
from starter.devstack.stack import _import_pgserver

RESULTS = Path(__file__).resolve().parent / "results"
PAYMENTS_SECRET = "whsec_chaos_payments"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) chaos-browser/1.0"}
OPEN_FOR_PAYMENT = {"sent", "partially_paid", "overdue"}


class DriverGaveUp(Exception):
    """A step did not succeed before the driver's deadline."""


class Deadline:
    """The drivers give up `grace` seconds after the last fault (not before it: a slow,
    busy machine makes the faults run late, and that is not a loss)."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.faults_over_at: float | None = None

    def faults_over(self) -> None:
        self.faults_over_at = time.monotonic()

    def passed(self) -> bool:
        return (
            self.faults_over_at is not None and time.monotonic() > self.faults_over_at + self.grace
        )


# --- the stack, with its parts killed and restarted ------------------------------------


@dataclass
class FaultLog:
    counts: Counter[str] = field(default_factory=Counter)
    events: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def note(self, kind: str, detail: str = "", *, counted: bool = True) -> None:
        if counted:
            self.counts[kind] += 1
        at = round(time.time() - self.started, 1)
        self.events.append({"at_s": at, "kind": kind, "detail": detail})
        print(f"  [{at:6.1f} s] fault: {kind} {detail}".rstrip(), flush=True)


def _kill_tree(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal a process and, when it is SIGKILL, every process under it: a crashed host
    takes the worker's render processes with it."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    if sig == signal.SIGKILL:
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


class ChaosStack:
    """bench.stack.Stack, composed: its parts restarted by the same commands it used."""

    def __init__(self, faults: FaultLog) -> None:
        self.stack = Stack()
        self.faults = faults
        self.smtp_port = free_port()
        self.smtp_log = self.stack.dir / "smtp.jsonl"
        self.smtp: subprocess.Popen[bytes] | None = None
        self._api_command: list[str] = []
        # From the restarted worker's spawn to its first poll.
        self.worker_restart_seconds: list[float] = []

    @property
    def dir(self) -> Path:
        return self.stack.dir

    async def start(self) -> None:
        # Stack.start builds the processes' environment from ours: the payments webhook's
        # secret, and e-Factura off (its submission is not part of what this run drives).
        os.environ["Q2C_WEBHOOK_SECRET_PAYMENTS"] = PAYMENTS_SECRET
        os.environ.setdefault("Q2C_EFACTURA_URL", "off")
        self.smtp_log.parent.mkdir(parents=True, exist_ok=True)
        self.smtp_log.touch()
        await self.start_smtp()
        await self.stack.start()
        # The stack's own SMTP peer lives in this process; the worker and the API are
        # started again pointed at the peer process, which can be taken away.
        if self.stack.smtp_controller is not None:
            self.stack.smtp_controller.stop()
            self.stack.smtp_controller = None
        self.stack.env["SMTP_URL"] = f"smtp://127.0.0.1:{self.smtp_port}"
        assert self.stack.api is not None
        self._api_command = psutil.Process(self.stack.api.pid).cmdline()
        for process in (self.stack.worker, self.stack.api):
            if process is not None:
                process.terminate()
                await asyncio.to_thread(process.wait, 30)
        polls = self._polls()
        self.stack.worker = self._spawn_worker()
        self.stack.api = self.stack._spawn(self._api_command, "api.log")
        await self.stack._wait_ready()
        await self._wait_polling(polls)

    def _spawn_worker(self) -> subprocess.Popen[bytes]:
        return self.stack._spawn([sys.executable, "-m", "worker"], "worker.log")

    def _polls(self) -> int:
        return (self.dir / "worker.log").read_text(errors="replace").count("worker polling")

    async def _wait_polling(self, polls_before: int) -> None:
        """Until the worker just started logs its first poll."""
        deadline = time.monotonic() + 120
        while self._polls() <= polls_before:
            worker = self.stack.worker
            if worker is None or worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the restarted worker did not come up (see worker.log)")
            await asyncio.sleep(0.3)

    def _spawn_smtp(self) -> subprocess.Popen[bytes]:
        log = (self.dir / "smtp.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "bench.chaos_smtp", str(self.smtp_port), str(self.smtp_log)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def start_smtp(self) -> None:
        self.smtp = self._spawn_smtp()
        deadline = time.monotonic() + 30
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.smtp_port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline or self.smtp.poll() is not None:
                    raise RuntimeError("the SMTP peer did not start") from None
                await asyncio.sleep(0.2)

    async def stop_smtp(self) -> None:
        if self.smtp is not None and self.smtp.poll() is None:
            self.smtp.terminate()
            await asyncio.to_thread(self.smtp.wait, 15)

    # --- faults ---------------------------------------------------------------------------

    async def kill_worker(self, rng: random.Random) -> None:
        assert self.stack.worker is not None
        polls = self._polls()
        _kill_tree(self.stack.worker, signal.SIGKILL)
        await asyncio.to_thread(self.stack.worker.wait)
        self.faults.note("worker SIGKILL", f"pid {self.stack.worker.pid}")
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # a supervisor's restart delay
        self.stack.worker = self._spawn_worker()
        spawned = time.monotonic()
        await self._wait_polling(polls)
        self.worker_restart_seconds.append(time.monotonic() - spawned)
        # It works a little before the next kill, however late the plan runs.
        await asyncio.sleep(rng.uniform(3.0, 8.0))

    async def crash_temporal(self) -> None:
        assert self.stack.temporal is not None
        _kill_tree(self.stack.temporal, signal.SIGKILL)
        await asyncio.to_thread(self.stack.temporal.wait)
        self.faults.note("Temporal SIGKILL", f"pid {self.stack.temporal.pid}")
        await asyncio.sleep(2.0)
        self.stack.temporal = self.stack._start_temporal()  # the same SQLite file and port
        self.stack.client = await self.stack._connect()

    async def crash_postgres(self) -> None:
        pgserver = _import_pgserver()
        server = self.stack.pg
        pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        await asyncio.to_thread(
            subprocess.run,
            [str(pg_ctl), "-D", str(server.pgdata), "-m", "immediate", "-w", "stop"],
            user=server.system_user,
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.faults.note("PostgreSQL immediate stop")
        await asyncio.sleep(3.0)

        def restart() -> str:
            with server._lock:
                server.ensure_postgres_running()
            return str(server.get_uri())

        uri = await asyncio.to_thread(restart)
        if uri != self.stack.database_url:
            raise RuntimeError(f"PostgreSQL came back elsewhere: {uri}")

    async def restart_api(self, sig: int) -> None:
        assert self.stack.api is not None
        _kill_tree(self.stack.api, sig)
        try:
            await asyncio.to_thread(self.stack.api.wait, 30)
        except subprocess.TimeoutExpired:
            self.stack.api.kill()
            await asyncio.to_thread(self.stack.api.wait)
        self.faults.note("API restart", "SIGKILL" if sig == signal.SIGKILL else "SIGTERM")
        await asyncio.sleep(1.0)
        self.stack.api = self.stack._spawn(self._api_command, "api.log")

    async def smtp_outage(self, seconds: float) -> None:
        await self.stop_smtp()
        self.faults.note("SMTP away", f"{seconds:g} s")
        await asyncio.sleep(seconds)
        await self.start_smtp()
        self.faults.counts["SMTP seconds away"] += int(seconds)
        self.faults.note("SMTP back", counted=False)

    async def stop(self) -> None:
        await self.stack.stop()
        await self.stop_smtp()


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the start
    kind: str


def fault_plan(args: argparse.Namespace, seconds: float, rng: random.Random) -> list[Fault]:
    """When each fault falls: worker kills spread over the run with some jitter, the rare
    faults at fixed fractions so that each meets proposals at every stage."""
    plan = []
    kills = args.worker_kills
    spacing = 0.85 * seconds / max(1, kills)
    for index in range(kills):
        jitter = rng.uniform(-spacing / 3, spacing / 3)
        plan.append(Fault(max(1.0, 0.05 * seconds + index * spacing + jitter), "worker"))

    def spread(count: int, first: float, last: float, kind: str) -> None:
        for index in range(count):
            fraction = first if count == 1 else first + (last - first) * index / (count - 1)
            plan.append(Fault(fraction * seconds, kind))

    spread(args.api_restarts, 0.25, 0.7, "api")
    spread(args.temporal_crashes, 0.35, 0.8, "temporal")
    spread(args.postgres_crashes, 0.55, 0.9, "postgres")
    return sorted(plan, key=lambda fault: fault.at)


async def inject(chaos: ChaosStack, plan: list[Fault], rng: random.Random) -> None:
    started = chaos.faults.started
    api_restarts = 0
    for fault in plan:
        await asyncio.sleep(max(0.0, started + fault.at - time.time()))
        if fault.kind == "worker":
            await chaos.kill_worker(rng)
        elif fault.kind == "temporal":
            await chaos.crash_temporal()
        elif fault.kind == "postgres":
            await chaos.crash_postgres()
        elif fault.kind == "api":
            api_restarts += 1
            await chaos.restart_api(signal.SIGTERM if api_restarts % 2 else signal.SIGKILL)


# --- what the SMTP peer accepted ---------------------------------------------------------


class MailLog:
    """The SMTP peer's log, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._offset = 0
        self.last_growth = time.monotonic()

    def read(self) -> None:
        with self.path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next read
        for line in chunk[:end].splitlines():
            if line.strip():
                self.records.append(json.loads(line))
        if end:
            self._offset += end
            self.last_growth = time.monotonic()

    async def wait_for_key(self, key: str, deadline: Deadline) -> dict[str, Any]:
        while True:
            self.read()
            for record in self.records:
                if record["key"] == key:
                    return record
            if deadline.passed():
                raise DriverGaveUp(f"no email {key}")
            await asyncio.sleep(0.5)


# --- the drivers -------------------------------------------------------------------------


@dataclass
class Tally:
    retries: Counter[str] = field(default_factory=Counter)
    # Payment references the webhook acknowledged as recorded → invoice id.
    acknowledged: dict[str, str] = field(default_factory=dict)
    parked: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


class Drivers:
    def __init__(self, chaos: ChaosStack, mail: MailLog, tally: Tally, label: str) -> None:
        self.chaos = chaos
        self.mail = mail
        self.tally = tally
        self.label = label
        url = chaos.stack.api_url
        self.sign_link = re.compile(re.escape(url) + r"(/sign/[A-Za-z0-9_\-]+)")
        timeout = httpx.Timeout(30.0)
        self.api = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=timeout
        )
        self.browser = httpx.AsyncClient(base_url=url, headers=BROWSER, timeout=timeout)
        self.webhooks = httpx.AsyncClient(base_url=url, timeout=timeout)

    async def close(self) -> None:
        for client in (self.api, self.browser, self.webhooks):
            await client.aclose()

    async def retrying(
        self, kind: str, send: Callable[[], Awaitable[httpx.Response]], deadline: Deadline
    ) -> httpx.Response:
        """A request sent again on a connection error or a 5xx, as its sender would."""
        delay = 0.5
        while True:
            try:
                response = await send()
                if response.status_code < 500:
                    return response
                why = f"HTTP {response.status_code}"
            except httpx.TransportError as error:
                why = type(error).__name__
            self.tally.retries[kind] += 1
            if deadline.passed():
                raise DriverGaveUp(f"{kind}: still failing ({why})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _get_json(self, path: str, deadline: Deadline) -> dict[str, Any]:
        response = await self.retrying("API read", lambda: self.api.get(path), deadline)
        if response.status_code != 200:
            raise DriverGaveUp(f"GET {path}: {response.status_code} {response.text[:200]}")
        body: dict[str, Any] = response.json()
        return body

    async def drive(self, sequence: int, deadline: Deadline) -> None:
        started = time.monotonic()
        try:
            await self._drive(sequence, deadline)
            self.tally.finished.append(str(sequence))
            self.tally.durations.append(time.monotonic() - started)
        except Exception as error:  # every failure is a figure, not the end of the run
            self.tally.errors.append(f"proposal #{sequence}: {type(error).__name__}: {error}")
            print(f"  driver #{sequence} gave up: {error}", flush=True)

    async def _drive(self, sequence: int, deadline: Deadline) -> None:
        # An operator creates the client. Its tax id is its own (one client per tax id and
        # company): a retry after a lost answer is refused with 409, and the operator finds
        # the client made by the first try.
        body = f"{20000000 + sequence}"
        tax_id = f"RO{body}{cui.calc_check_digit(body)}"
        client = await self.retrying(
            "create client",
            lambda: self.api.post(
                "/api/v1/clients",
                json={
                    "name": f"Chaos Client {sequence} SRL",
                    "email": f"chaos{sequence}@chaos.example",
                    "country": "RO",
                    "locale": "ro",
                    "tax_id": tax_id,
                    "address": "Str. Memorandumului 28, Cluj-Napoca",
                    "street": "Str. Memorandumului 28",
                    "city": "Cluj-Napoca",
                    "postal_code": "400114",
                    "county": "RO-CJ",
                },
            ),
            deadline,
        )
        if client.status_code == 409:
            client = await self.retrying(
                "find client",
                lambda: self.api.get("/api/v1/clients", params={"q": tax_id}),
                deadline,
            )
            found = client.json()["items"] if client.status_code == 200 else []
            if len(found) != 1:
                raise DriverGaveUp(f"find client {tax_id}: {client.text[:200]}")
            client_id = found[0]["id"]
        elif client.status_code == 201:
            client_id = client.json()["id"]
        else:
            raise DriverGaveUp(f"create client {client.status_code}: {client.text[:200]}")
        proposal_body = {
            "client_id": client_id,
            "currency": "RON",
            "valid_until": (date.today() + timedelta(days=30)).isoformat(),
            "payment_terms_days": 14,
            "external_id": f"chaos-{self.label}-{sequence}",
            "lines": LINES,
        }
        created = await self.retrying(
            "create proposal",
            lambda: self.api.post("/api/v1/proposals", json=proposal_body),
            deadline,
        )
        if created.status_code not in (200, 201):
            raise DriverGaveUp(f"create proposal {created.status_code}: {created.text[:200]}")
        proposal_id = str(created.json()["id"])

        email = await self.mail.wait_for_key(f"proposal:{proposal_id}:proposal:1", deadline)
        match = self.sign_link.search(email["text"])
        if match is None:
            raise DriverGaveUp("the proposal email has no signing link")
        await self._sign(match.group(1), deadline)
        invoice_id = await self._approve(proposal_id, deadline)
        await self.mail.wait_for_key(f"invoice:{invoice_id}:invoice:1", deadline)
        invoice = await self._wait_invoice(invoice_id, OPEN_FOR_PAYMENT | {"paid"}, deadline)
        total = Decimal(str(invoice["total"]))
        first = (total * Decimal("0.4")).quantize(Decimal("0.01"))
        for part, amount in ((1, first), (2, total - first)):
            await self._pay(sequence, part, invoice_id, amount, deadline)
        await self._wait_invoice(invoice_id, {"paid"}, deadline)

    async def _sign(self, path: str, deadline: Deadline) -> None:
        """The client opens the link and signs; after a lost answer they reload the page
        and sign again only if the form is offered again."""
        while True:
            page = await self.retrying("signing page", lambda: self.browser.get(path), deadline)
            if 'name="signer_name"' not in page.text:
                return  # signed (or pending): the page no longer offers the form
            form = {
                "signer_name": "Ana Pop",
                "signer_email": "ana@chaos.example",
                "consent": "yes",
                "signature": "",
            }
            try:
                answer = await self.browser.post(path, data=form)
            except httpx.TransportError:
                self.tally.retries["signing form"] += 1
                continue
            if answer.status_code in (200, 409):
                return
            if answer.status_code >= 500:
                self.tally.retries["signing form"] += 1
                if deadline.passed():
                    raise DriverGaveUp(f"signing still failing ({answer.status_code})")
                await asyncio.sleep(1.0)
                continue
            raise DriverGaveUp(f"signing refused {answer.status_code}: {answer.text[:200]}")

    async def _approve(self, proposal_id: str, deadline: Deadline) -> str:
        """The operator waits for the draft in the review queue and approves it; they click
        again when the click failed or nothing happened after a while."""
        while True:
            proposal = await self._get_json(f"/api/v1/proposals/{proposal_id}", deadline)
            if proposal["invoice_id"]:
                invoice_id = str(proposal["invoice_id"])
                break
            if deadline.passed():
                raise DriverGaveUp(f"proposal {proposal_id} never got its invoice")
            await asyncio.sleep(1.0)
        await self._wait_invoice(invoice_id, {"awaiting_review"} | OPEN_FOR_PAYMENT, deadline)
        clicked = False
        while True:
            invoice = await self._get_json(f"/api/v1/invoices/{invoice_id}", deadline)
            if invoice["number"] or invoice["status"] != "awaiting_review":
                return invoice_id  # numbered: the approval went through
            if deadline.passed():
                raise DriverGaveUp(f"invoice {invoice_id} still awaiting review")
            if clicked:
                self.tally.retries["approve clicked again"] += 1
            click = await self.retrying(
                "approve",
                lambda: self.api.post(f"/api/v1/invoices/{invoice_id}/approve"),
                deadline,
            )
            if click.status_code not in (202, 409):
                raise DriverGaveUp(f"approve {click.status_code}: {click.text[:200]}")
            clicked = True
            # The operator looks again for up to a minute before clicking once more.
            until = time.monotonic() + 60
            while time.monotonic() < until and not deadline.passed():
                await asyncio.sleep(1.0)
                invoice = await self._get_json(f"/api/v1/invoices/{invoice_id}", deadline)
                if invoice["number"] or invoice["status"] != "awaiting_review":
                    break

    async def _wait_invoice(
        self, invoice_id: str, statuses: set[str], deadline: Deadline
    ) -> dict[str, Any]:
        while True:
            invoice = await self._get_json(f"/api/v1/invoices/{invoice_id}", deadline)
            if invoice["status"] in statuses:
                return invoice
            if deadline.passed():
                raise DriverGaveUp(f"invoice {invoice_id} stayed {invoice['status']}")
            await asyncio.sleep(1.0)

    async def _pay(
        self, sequence: int, part: int, invoice_id: str, amount: Decimal, deadline: Deadline
    ) -> None:
        """A provider's delivery: re-sent with the same event id (freshly signed) until it
        gets a 2xx or 4xx, then delivered once more, as at-least-once providers do."""
        reference = f"PAY-{self.label}-{sequence}-{part}"
        body = json.dumps(
            {
                "id": f"chaos-{self.label}-{sequence}-payment-{part}",
                "invoice_id": invoice_id,
                "currency": "RON",
                "amount": str(amount),
                "reference": reference,
                "paid_at": datetime.now(UTC).isoformat(),
            }
        ).encode()

        def deliver() -> Awaitable[httpx.Response]:
            headers = signed_headers(body, PAYMENTS_SECRET)
            return self.webhooks.post("/webhooks/payments", content=body, headers=headers)

        for delivery in ("payment webhook", "payment webhook (re-delivery)"):
            response = await self.retrying(delivery, deliver, deadline)
            answer = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {}
            )
            if response.status_code == 202 and answer.get("parked"):
                self.tally.parked.append(f"{reference}: {answer.get('reason')}")
                return
            if response.status_code != 200:
                raise DriverGaveUp(f"payment {response.status_code}: {response.text[:200]}")
            self.tally.acknowledged[reference] = invoice_id


# --- the judge ---------------------------------------------------------------------------


async def quiesce(chaos: ChaosStack, mail: MailLog, limit_seconds: float) -> float:
    """Wait until the outbox has nothing due and the SMTP log has stopped growing."""
    started = time.monotonic()
    conn = await asyncpg.connect(chaos.stack.database_url)
    try:
        while time.monotonic() - started < limit_seconds:
            mail.read()
            due = await conn.fetchval(
                """SELECT count(*) FROM email_outbox WHERE status = 'pending'
                   AND (scheduled_for IS NULL OR scheduled_for <= now())"""
            )
            if due == 0 and time.monotonic() - mail.last_growth > 10:
                break
            await asyncio.sleep(1.0)
    finally:
        await conn.close()
    return time.monotonic() - started


async def judge(chaos: ChaosStack, mail: MailLog, tally: Tally, driven: int) -> list[Check]:
    conn = await asyncpg.connect(chaos.stack.database_url)
    try:
        signed = [
            str(row["id"])
            for row in await conn.fetch("SELECT id FROM proposals WHERE status = 'signed'")
        ]
        per_proposal = {
            str(row["proposal_id"]): int(row["n"])
            for row in await conn.fetch(
                """SELECT proposal_id, count(*) AS n FROM invoices
                   WHERE proposal_id IS NOT NULL GROUP BY proposal_id"""
            )
        }
        invoices = await conn.fetch(
            "SELECT id, status, number, approved_at, amount_paid FROM invoices"
        )
        payments = [
            Payment(str(row["invoice_id"]), row["reference"], row["amount"])
            for row in await conn.fetch("SELECT invoice_id, reference, amount FROM payments")
        ]
        proposal_numbers = [
            row["number"]
            for row in await conn.fetch("SELECT number FROM proposals WHERE number IS NOT NULL")
        ]
        outbox_attempts = {
            row["idempotency_key"]: int(row["attempts"])
            for row in await conn.fetch("SELECT idempotency_key, attempts FROM email_outbox")
        }
    finally:
        await conn.close()
    mail.read()
    twice_by_key = keys_accepted_twice(
        [(r["key"], r["at"] - chaos.faults.started) for r in mail.records], outbox_attempts
    )
    approved = {str(row["id"]): row["status"] for row in invoices if row["approved_at"]}
    amount_paid = {str(row["id"]): row["amount_paid"] for row in invoices}
    numbers = [row["number"] for row in invoices if row["number"]]
    unfinished = list(tally.errors)
    never_ended = driven - len(tally.finished) - len(tally.errors)
    if never_ended > 0:
        unfinished.append(f"{never_ended} drivers never ended")
    return [
        Check("proposals not driven to paid", unfinished),
        Check(
            "invoices lost or doubled (signed proposal ≠ 1 invoice)",
            invoices_lost(signed, per_proposal),
        ),
        Check("approved invoices not paid", not_paid(approved)),
        Check(
            "emails delivered twice (same Message-ID)",
            duplicate_problems(repeated(r["message_id"] for r in mail.records), "Message-ID"),
        ),
        Check(
            "emails delivered twice (same outbox key)",
            twice_by_key,
        ),
        Check(
            "payments counted twice (rows per payment id)",
            duplicate_problems(payments_counted_twice(payments), "payment"),
        ),
        Check(
            "amount_paid ≠ sum of distinct payments", amount_paid_mismatches(amount_paid, payments)
        ),
        Check(
            "payments acknowledged but not recorded", payments_lost(tally.acknowledged, payments)
        ),
        Check("payments parked instead of applied", list(tally.parked)),
        Check("invoice numbering gaps or duplicates", numbering_problems(numbers)),
        Check("proposal numbering gaps or duplicates", numbering_problems(proposal_numbers)),
    ]


# --- the run -----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    faults = FaultLog()
    chaos = ChaosStack(faults)
    label = datetime.now(UTC).strftime("%H%M%S")
    tally = Tally()
    seconds = args.minutes * 60
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": {
            key: getattr(args, key)
            for key in (
                "proposals",
                "minutes",
                "worker_kills",
                "api_restarts",
                "temporal_crashes",
                "postgres_crashes",
                "smtp_outage_seconds",
                "grace_minutes",
                "seed",
            )
        },
        "efactura": "off (Q2C_EFACTURA_URL=off)",
    }
    print(f"starting the stack in {chaos.dir}…", flush=True)
    try:
        await chaos.start()
        mail = MailLog(chaos.smtp_log)
        drivers = Drivers(chaos, mail, tally, label)
        plan = fault_plan(args, seconds, rng)
        print(
            f"driving {args.proposals} proposals over {args.minutes:g} min with "
            f"{len(plan)} faults planned and SMTP away for {args.smtp_outage_seconds:g} s…",
            flush=True,
        )
        faults.started = time.time()
        deadline = Deadline(args.grace_minutes * 60)
        injector = asyncio.create_task(inject(chaos, plan, rng))
        outage = asyncio.create_task(_outage_later(chaos, 0.4 * seconds, args))
        tasks = []
        arrivals = 0.65 * seconds / max(1, args.proposals)
        for sequence in range(args.proposals):
            tasks.append(asyncio.create_task(drivers.drive(sequence, deadline)))
            await asyncio.sleep(arrivals)
        await injector
        await outage
        deadline.faults_over()
        await asyncio.gather(*tasks)
        driving = time.time() - faults.started
        print("drivers done; waiting for quiescence…", flush=True)
        settled = await quiesce(chaos, mail, 300.0)
        checks = await judge(chaos, mail, tally, args.proposals)
        await drivers.close()
        results |= {
            "proposals_driven": args.proposals,
            "proposals_paid": len(tally.finished),
            "faults": dict(faults.counts),
            "fault_events": faults.events,
            "client_retries": dict(tally.retries),
            "worker_restart_to_polling_median_s": median(chaos.worker_restart_seconds),
            "emails_accepted": len(mail.records),
            "driving_seconds": round(driving, 1),
            "quiescence_seconds": round(settled, 1),
            "proposal_to_paid_median_s": median(tally.durations),
            "checks": [
                {
                    "check": check.label,
                    "count": check.count,
                    "verdict": check.verdict,
                    "first": check.problems[:10],
                }
                for check in checks
            ],
        }
    finally:
        await chaos.stop()
        if not args.keep:
            chaos.stack.remove()
        else:
            print(f"the stack's folder is kept: {chaos.dir}")
    return results


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def _outage_later(chaos: ChaosStack, after: float, args: argparse.Namespace) -> None:
    await asyncio.sleep(after)
    await chaos.smtp_outage(args.smtp_outage_seconds)


def print_table(results: dict[str, Any]) -> None:
    print(
        f"proposals driven {results['proposals_driven']}, paid {results['proposals_paid']}; "
        f"emails accepted {results['emails_accepted']}; driving {results['driving_seconds']} s, "
        f"quiescence {results['quiescence_seconds']} s; proposal→paid median "
        f"{results['proposal_to_paid_median_s']} s; worker restart→polling median "
        f"{results['worker_restart_to_polling_median_s']} s"
    )
    print("faults injected: " + ", ".join(f"{k} {v}" for k, v in results["faults"].items()))
    print(
        "client retries: "
        + (", ".join(f"{k} {v}" for k, v in sorted(results["client_retries"].items())) or "none")
    )
    print()
    width = max(len(check["check"]) for check in results["checks"])
    for check in results["checks"]:
        print(f"  {check['check']:<{width}}  {check['count']:>5}  {check['verdict']}")
        for problem in check["first"]:
            print(f"      {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--proposals", type=int, default=40, help="proposals driven to paid")
    parser.add_argument("--minutes", type=float, default=7.0, help="how long faults go on")
    parser.add_argument("--worker-kills", type=int, default=20, help="worker SIGKILLs")
    parser.add_argument("--api-restarts", type=int, default=2, help="API restarts (TERM, KILL…)")
    parser.add_argument("--temporal-crashes", type=int, default=1, help="Temporal SIGKILLs")
    parser.add_argument("--postgres-crashes", type=int, default=1, help="PostgreSQL crashes")
    parser.add_argument(
        "--smtp-outage-seconds", type=float, default=60.0, help="how long SMTP is away"
    )
    parser.add_argument(
        "--grace-minutes",
        type=float,
        default=15.0,
        help="how long drivers keep waiting after the last fault before giving up",
    )
    parser.add_argument("--seed", type=int, default=16, help="the fault plan's jitter")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stack folder")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: results/)")
    args = parser.parse_args()
    if args.proposals < 1 or args.minutes <= 0:
        parser.error("--proposals and --minutes must be positive")
    results = asyncio.run(run(args))
    print()
    print_table(results)
    out = args.out or RESULTS / f"chaos-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nfigures written to {out}")
    failed = any(check["verdict"] != "PASS" for check in results["checks"])
    sys.stdout.flush()
    # The Temporal SDK's native threads can abort the interpreter at exit
    # (temporalio/sdk-python#300); the results are written by now.
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    main()
