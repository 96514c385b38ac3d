"""Fixtures on real parts: pgserver PostgreSQL, the Temporal time-skipping test server,
an aiosmtpd SMTP peer, WeasyPrint, and the FastAPI app served in-process."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pgserver.postgres_server import get_server
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.efactura_access import EfacturaAccess, TokenGrant
from activities.services import Services
from db.roles import APP_ROLE
from db.store import default_company_id
from settings import WEBHOOK_SOURCES, Settings
from starter.api.app import create_app
from starter.devstack.mailsink import MailSink
from starter.devstack.migrate import migrate, url_with_credentials
from starter.devstack.spv import SpvStandIn
from starter.devstack.spv import serve as serve_spv
from starter.devstack.stack import ensure_search_attributes
from worker import build_worker, services_for

API_KEY = "test-api-key"
PUBLIC_URL = "http://q2c.test"
# Two secrets per source, as during a rotation: the new one first, the old one still valid.
WEBHOOK_SECRETS = {
    source: (f"whsec_new_{source}", f"whsec_old_{source}") for source in WEBHOOK_SOURCES
}
BUSINESS_TABLES = (
    "webhook_delivery_attempts, webhook_deliveries, webhook_subscriptions, events, "
    "client_credits, unmatched_payments, webhook_rejections, operator_requests, operators, "
    "tasks, webhook_events, email_outbox, audit_events, signatures, access_tokens, payments, "
    "invoice_status_changes, invoice_lines, proposal_lines, number_series, documents, clients, "
    "companies, invoices, proposals"
)


_exit_status = [0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status[0] = exitstatus


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without running interpreter finalizers: the Temporal SDK's native threads can
    abort the interpreter at exit (temporalio/sdk-python#300), turning a green run into exit
    code 134. The summary is printed by now; keep pytest's own exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[0])


def binary(name: str) -> str:
    """A server binary from the pip packages, installed beside this interpreter."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is missing: install the project's dev extras"
    return str(path)


# The app role's password in the tests' database, which `q2c migrate` gives the role.
APP_DATABASE_PASSWORD = "test-app-password"


@pytest.fixture(scope="session")
def owner_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated database as its owner (a superuser): for what only an owner may do."""
    server = get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    url: str = server.get_uri()
    migrate(url, app_url=url_with_credentials(url, APP_ROLE, APP_DATABASE_PASSWORD))
    # pgserver trusts every local connection; the app's role logs in with its password, as
    # in a deployment, so the password `q2c migrate` set is the one that works.
    hba = Path(server.pgdata) / "pg_hba.conf"
    hba.write_text(f"local all {APP_ROLE} scram-sha-256\n" + hba.read_text())
    server.psql("SELECT pg_reload_conf();")
    yield url
    server.cleanup()


@pytest.fixture(scope="session")
def database_url(owner_database_url: str) -> str:
    """The same database as the app connects to it: as the least-privileged `q2c_app`, so
    every test proves the app works without DDL, TRUNCATE or ownership."""
    return url_with_credentials(owner_database_url, APP_ROLE, APP_DATABASE_PASSWORD)


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=2, max_size=20) as created:
        yield created


@pytest.fixture(scope="session")
async def owner_pool(owner_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(owner_database_url, min_size=1, max_size=4) as created:
        yield created


@pytest.fixture
async def db(pool: asyncpg.Pool, owner_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The app's pool, over empty business tables (emptied by the owner: the app's role
    may not TRUNCATE)."""
    await owner_pool.execute(f"TRUNCATE {BUSINESS_TABLES} CASCADE")
    return pool


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink(None, port=0)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server")
    )
    async with environment:
        await ensure_search_attributes(environment.client)
        yield environment


async def release_time_skipping(env: WorkflowEnvironment) -> None:
    """Work around a test-server bug (temporalio/sdk-java#2392): when a child workflow whose
    parent already closed (parent close policy ABANDON) completes, the time-skipping server
    keeps one time-skipping lock and every later `env.sleep` hangs. Call this once after
    such a child (every invoice made from a proposal) has completed."""
    await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())


# Tests run workflows in the full default sandbox, not the production worker's (which passes
# q2c's own modules through for speed): a workflow that reads the clock, does I/O or keeps
# module state fails here, in every test that runs it.
TEST_WORKFLOW_RUNNER = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default)


def build_test_worker(client: Client, services: Services, task_queue: str) -> Worker:
    """The production worker (`worker.build_worker`) on the default sandbox."""
    return build_worker(client, services, task_queue, workflow_runner=TEST_WORKFLOW_RUNNER)


@dataclass
class Stack:
    env: WorkflowEnvironment
    api: httpx.AsyncClient
    mail: MailSink
    db: asyncpg.Pool
    settings: Settings
    services: Services
    # The ASGI app the API client talks to, e.g. for serving it over real HTTP to a browser.
    app: FastAPI


@pytest.fixture
async def stack(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> AsyncIterator[Stack]:
    async with stack_on(env, db, mail, database_url) as running:
        yield running


@asynccontextmanager
async def stack_on(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str, **more: Any
) -> AsyncIterator[Stack]:
    """Worker and API on a Temporal environment: the time-skipping server or the dev server."""
    settings = Settings(
        database_url=database_url,
        temporal_address="unused",
        temporal_namespace=env.client.namespace,
        smtp_url=f"smtp://127.0.0.1:{mail.port}",
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        task_queue=f"q2c-test-{uuid.uuid4()}",
        webhook_secrets={source: WEBHOOK_SECRETS[source] for source in WEBHOOK_SOURCES},
        # Offline: no e-Factura submission unless a test points it at the SPV stand-in.
        **({"efactura_url": None} | more),
    )
    async with services_for(settings) as services:
        async with build_test_worker(env.client, services, settings.task_queue):
            app = create_app(settings, pool=db, temporal=env.client)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url=PUBLIC_URL,
                    headers={"Authorization": f"Bearer {API_KEY}"},
                ) as api:
                    yield Stack(env, api, mail, db, settings, services, app)


# --- e-Factura: the SPV stand-in (starter/devstack/spv.py) --------------------------------

# The stand-in's app credentials and the payload key the e-Factura tests seal tokens with.
SPV_CLIENT_ID = "q2c-test-app"
SPV_CLIENT_SECRET = "q2c-test-app-secret"
EFACTURA_PAYLOAD_KEYS = (("efactura-test", bytes(range(32))),)


@pytest.fixture
async def spv() -> AsyncIterator[SpvStandIn]:
    """ANAF's e-Factura API and OAuth2 server, stood in for over real HTTP on a free port:
    `spv.base_url`, `spv.oauth_url`; steer it with `spv.processing_polls = N`,
    `spv.drop_next_upload = True`; read `spv.upload_count`, `spv.uploads`."""
    standin = SpvStandIn(client_id=SPV_CLIENT_ID, client_secret=SPV_CLIENT_SECRET)
    async with serve_spv(standin):
        yield standin


def spv_settings(spv: SpvStandIn) -> dict[str, Any]:
    """Settings fields pointing q2c at the stand-in: `stack_on(..., **spv_settings(spv))`."""
    return {
        "efactura_url": spv.base_url,
        "efactura_oauth_url": spv.oauth_url,
        "anaf_client_id": SPV_CLIENT_ID,
        "anaf_client_secret": SPV_CLIENT_SECRET,
        "payload_keys": EFACTURA_PAYLOAD_KEYS,
    }


async def connect_to_spv(spv: SpvStandIn, pool: asyncpg.Pool, settings: Settings) -> str:
    """Connects the seller (the default company) to the stand-in, as `q2c efactura connect`
    would: tokens issued by it, stored encrypted. Returns the company id."""
    async with pool.acquire() as conn:
        company_id = await default_company_id(conn)
    grant = spv.issue_tokens()
    await EfacturaAccess(pool, settings).connect_with_tokens(
        company_id,
        TokenGrant(grant["access_token"], grant["refresh_token"], grant["expires_in"]),
        actor="tests",
    )
    return company_id


@pytest.fixture
async def live_url(stack: Stack) -> AsyncIterator[str]:
    """The stack's API served over real HTTP on a free port, for the CLI."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(stack.app, lifespan="off", log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))

    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn offers no event to await
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
        listener.close()
