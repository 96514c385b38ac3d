"""The pipeline as its users drive it: a proposal created through the API, emailed, signed
through the e-signature webhook, its draft invoice approved by an "operator" as soon as it
is ready, the invoice emailed. Timestamps: the signature is the moment the webhook request
is sent; the email is the moment the SMTP peer accepted it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.stack import API_KEY, ESIGN_SECRET, PAYMENTS_SECRET, Accepted, Stack
from bench.stats import percentile

CLIENT = {
    "name": "Bench Client SRL",
    "email": "plati@bench.example",
    "country": "RO",
    "locale": "ro",
    "tax_id": "RO18547290",
    "address": "Str. Memorandumului 28, Cluj-Napoca",
    "street": "Str. Memorandumului 28",
    "city": "Cluj-Napoca",
    "postal_code": "400114",
    "county": "RO-CJ",
}
LINES = [
    {
        "description": "Consultanță juridică",
        "quantity": "10",
        "unit": "h",
        "unit_price": "250.00",
        "vat_rate": "21",
    },
    {
        "description": "Redactare contract",
        "quantity": "1",
        "unit": "buc",
        "unit_price": "1000.00",
        "vat_rate": "21",
        "discount_percent": "10",
    },
]


class Mailbox:
    """Futures resolved by the SMTP peer's thread when a proposal or invoice email lands."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def listen(self, item: Accepted) -> None:
        parts = item.key.split(":")
        if len(parts) >= 3 and parts[0] == parts[2] and parts[0] in ("proposal", "invoice"):
            self._loop.call_soon_threadsafe(self._resolve, f"{parts[0]}:{parts[1]}", item.at)

    def _future(self, name: str) -> asyncio.Future[float]:
        if name not in self._waiting:
            self._waiting[name] = self._loop.create_future()
        return self._waiting[name]

    def _resolve(self, name: str, at: float) -> None:
        future = self._future(name)
        if not future.done():
            future.set_result(at)

    def wait(self, kind: str, ident: str) -> asyncio.Future[float]:
        return self._future(f"{kind}:{ident}")


@dataclass
class Run:
    label: str
    proposals: int
    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    invoice_ids: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        elapsed = self.finished - self.started
        return len(self.latencies) / elapsed if elapsed > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "proposals": self.proposals,
            "emailed": len(self.latencies),
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "seconds": round(self.finished - self.started, 2),
            "invoices_per_s": round(self.throughput, 3),
            "latency_p50_s": round(percentile(self.latencies, 0.50), 3),
            "latency_p95_s": round(percentile(self.latencies, 0.95), 3),
            "latency_p99_s": round(percentile(self.latencies, 0.99), 3),
            "cpu_seconds_per_invoice": {
                part: round(seconds / max(1, len(self.latencies)), 3)
                for part, seconds in self.cpu_seconds.items()
            },
        }


def signed_headers(body: bytes, secret: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return {
        "Q2C-Signature": f"t={stamp},v1={digest.hexdigest()}",
        "Content-Type": "application/json",
    }


class Pipeline:
    def __init__(self, stack: Stack, db: asyncpg.Pool, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.db = db
        self.http = http
        self.mailbox = Mailbox(asyncio.get_running_loop())
        stack.smtp.listeners.append(self.mailbox.listen)
        self._drafts: dict[str, asyncio.Future[str]] = {}
        self._approved: set[str] = set()
        self._approvals: set[asyncio.Task[None]] = set()
        self.client_id = ""

    async def setup(self) -> None:
        response = await self.http.post("/api/v1/clients", json=CLIENT)
        response.raise_for_status()
        self.client_id = str(response.json()["id"])

    async def _watch_drafts(self, stop: asyncio.Event) -> None:
        """The operator: approves every draft of ours the moment it awaits review (one query
        for all of them every 50 ms, as a review queue would)."""
        while not stop.is_set():
            waiting = [pid for pid, f in self._drafts.items() if not f.done()]
            if waiting:
                rows = await self.db.fetch(
                    """SELECT id, proposal_id FROM invoices
                       WHERE status = 'awaiting_review' AND proposal_id = ANY($1::uuid[])""",
                    waiting,
                )
                for row in rows:
                    invoice_id, proposal_id = str(row["id"]), str(row["proposal_id"])
                    if invoice_id not in self._approved:
                        self._approved.add(invoice_id)
                        task = asyncio.create_task(self._approve(invoice_id, proposal_id))
                        self._approvals.add(task)
                        task.add_done_callback(self._approvals.discard)
            await asyncio.sleep(0.05)

    async def _approve(self, invoice_id: str, proposal_id: str) -> None:
        response = await self.http.post(f"/api/v1/invoices/{invoice_id}/approve")
        future = self._drafts[proposal_id]
        if response.status_code != 202:
            future.set_exception(RuntimeError(f"approve {response.status_code}: {response.text}"))
        elif not future.done():
            future.set_result(invoice_id)

    async def one(self, run: Run, sequence: int) -> None:
        """One proposal from creation to its invoice accepted by SMTP."""
        try:
            today = date.today()
            created = await self.http.post(
                "/api/v1/proposals",
                json={
                    "client_id": self.client_id,
                    "currency": "RON",
                    "valid_until": (today + timedelta(days=30)).isoformat(),
                    "payment_terms_days": 14,
                    "lines": LINES,
                },
            )
            if created.status_code != 201:
                raise RuntimeError(f"create {created.status_code}: {created.text[:200]}")
            proposal_id = str(created.json()["id"])
            self._drafts[proposal_id] = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self.mailbox.wait("proposal", proposal_id), 600)
            sha = await self.db.fetchval(
                """SELECT d.sha256 FROM proposals p JOIN documents d ON d.key = p.document_key
                   WHERE p.id = $1""",
                proposal_id,
            )
            body = json.dumps(
                {
                    "id": f"bench-{run.label}-{sequence}-{proposal_id}",
                    "proposal_id": proposal_id,
                    "signer_name": "Ana Pop",
                    "signer_email": "ana@bench.example",
                    "signed_at": datetime.now(UTC).isoformat(),
                    "document_sha256": sha,
                    "provider": "bench",
                }
            ).encode()
            signed_at = time.time()
            signed = await self.http.post(
                "/webhooks/esign", content=body, headers=signed_headers(body, ESIGN_SECRET)
            )
            if signed.status_code != 202:
                raise RuntimeError(f"esign {signed.status_code}: {signed.text[:200]}")
            invoice_id = await asyncio.wait_for(self._drafts[proposal_id], 600)
            emailed_at = await asyncio.wait_for(self.mailbox.wait("invoice", invoice_id), 600)
            run.latencies.append(emailed_at - signed_at)
            run.invoice_ids.append(invoice_id)
            run.finished = max(run.finished, emailed_at)
        except Exception as error:  # a figure with its failures beats no figure
            run.errors.append(f"{type(error).__name__}: {error}")

    async def run(self, label: str, proposals: int, rate: float | None, seed: int) -> Run:
        """`rate` None: all proposals at once (the maximum rate); else Poisson arrivals at
        `rate` per second from a fixed seed."""
        run = Run(label, proposals)
        stop = asyncio.Event()
        watcher = asyncio.create_task(self._watch_drafts(stop))
        arrivals = random.Random(seed)
        cpu_before = self.stack.cpu_seconds()
        run.started = time.time()
        tasks = []
        for sequence in range(proposals):
            tasks.append(asyncio.create_task(self.one(run, sequence)))
            if rate is not None:
                await asyncio.sleep(arrivals.expovariate(rate))
        await asyncio.gather(*tasks)
        stop.set()
        await watcher
        cpu_after = self.stack.cpu_seconds()
        run.cpu_seconds = {part: cpu_after[part] - cpu_before.get(part, 0.0) for part in cpu_after}
        return run

    async def pay(self, invoice_ids: list[str], concurrency: int = 16) -> dict[str, Any]:
        """Each invoice paid in full through the payments webhook (HMAC-signed, as a bank
        or payment provider sends it): the part of an invoice's life after its reminders.
        CPU seconds per payment by process, and how many came back paid."""
        queue = list(invoice_ids)
        paid: list[str] = []
        errors: list[str] = []

        async def payer() -> None:
            while queue:
                invoice_id = queue.pop()
                total = await self.db.fetchval(
                    "SELECT total FROM invoices WHERE id = $1", invoice_id
                )
                body = json.dumps(
                    {
                        "id": f"bench-pay-{invoice_id}",
                        "invoice_id": invoice_id,
                        "currency": "RON",
                        "amount": str(total),
                        "reference": f"OP-{invoice_id[:8]}",
                        "paid_at": date.today().isoformat(),
                    }
                ).encode()
                response = await self.http.post(
                    "/webhooks/payments",
                    content=body,
                    headers=signed_headers(body, PAYMENTS_SECRET),
                )
                if response.status_code == 200 and response.json()["invoice"]["status"] == "paid":
                    paid.append(invoice_id)
                else:
                    errors.append(f"{response.status_code}: {response.text[:200]}")

        cpu_before = self.stack.cpu_seconds()
        started = time.time()
        await asyncio.gather(*(payer() for _ in range(concurrency)))
        seconds = time.time() - started
        cpu_after = self.stack.cpu_seconds()
        return {
            "payments": len(invoice_ids),
            "paid": len(paid),
            "errors": len(errors),
            "first_errors": errors[:5],
            "seconds": round(seconds, 2),
            "cpu_seconds_per_payment": {
                part: round((cpu_after[part] - cpu_before.get(part, 0.0)) / max(1, len(paid)), 4)
                for part in cpu_after
            },
        }


def api_client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
    )
