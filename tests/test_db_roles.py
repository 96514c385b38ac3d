"""The app connects as the least-privileged `q2c_app`: rows yes, schema no (issue 13 point 4).

Every other test already runs the API and the worker as that role (conftest's `database_url`
and `pool`); these check what it may not do, as someone who got the app to run any SQL
statement would try it.
"""

from __future__ import annotations

import base64
import stat
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from db.roles import APP_ROLE, scram_sha256_verifier
from settings import DATABASE_URL_FILE, Settings
from starter.cli.main import main
from starter.devstack.migrate import (
    APP_PASSWORD_FILE,
    MIGRATION_DATABASE_URL_FILE,
    embedded_app_url,
    migrate,
    migration_database_url,
    url_credentials,
    url_with_credentials,
    write_private,
)
from tests.conftest import APP_DATABASE_PASSWORD, Stack
from tests.helpers import create_client

# What an owner (or superuser) may do and the app must not: each would let a bug or an
# injected statement destroy data or switch off the audit trail's append-only guard.
FORBIDDEN = (
    "CREATE TABLE intruder (id int)",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    # Replica mode skips ordinary triggers, the append-only one included.
    "SET session_replication_role = replica",
    "ALTER TABLE invoices ADD COLUMN intruder int",
    "ALTER TABLE invoices OWNER TO q2c_app",
    "CREATE INDEX intruder ON invoices (id)",
    "DROP TABLE audit_events",
    "DROP TABLE invoices",
    "TRUNCATE audit_events",
    "TRUNCATE invoices CASCADE",
    "DELETE FROM schema_migrations",
    "INSERT INTO schema_migrations (version) VALUES ('99999999999999')",
    "ALTER ROLE q2c_app SUPERUSER",
    "GRANT pg_write_server_files TO q2c_app",
)


async def test_the_app_connects_as_its_least_privileged_role(pool: asyncpg.Pool) -> None:
    assert await pool.fetchval("SELECT current_user") == APP_ROLE
    role = await pool.fetchrow(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert role is not None and not any(role.values())
    # It owns nothing, so it can alter nothing.
    owned = await pool.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
        " WHERE r.rolname = current_user"
    )
    assert owned == 0


@pytest.mark.parametrize("statement", FORBIDDEN)
async def test_the_app_role_can_run_no_ddl(pool: asyncpg.Pool, statement: str) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
            await conn.execute(statement)
    # The refusal is PostgreSQL's own, not the audit trigger's.
    assert "append-only" not in str(refused.value)


async def test_the_app_role_writes_rows_and_the_audit_trail_stays_append_only(
    stack: Stack, owner_pool: asyncpg.Pool
) -> None:
    # The API and the worker, as the app role, do their ordinary work.
    client_id = await create_client(stack)
    assert await stack.db.fetchval("SELECT name FROM clients WHERE id = $1", client_id)
    event_id = await stack.db.fetchval(
        "INSERT INTO audit_events (kind, actor, occurred_at, hash)"
        " VALUES ('probe', 'test', now(), 'h') RETURNING id"
    )
    assert event_id is not None
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await stack.db.execute("UPDATE audit_events SET actor = 'someone' WHERE id = $1", event_id)
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await stack.db.execute("DELETE FROM audit_events WHERE id = $1", event_id)
    assert await owner_pool.fetchval("SELECT actor FROM audit_events WHERE id = $1", event_id) == (
        "test"
    )


async def test_tables_added_by_later_migrations_are_granted_to_the_app(
    owner_pool: asyncpg.Pool, pool: asyncpg.Pool
) -> None:
    """Other migrations add tables without granting anything: the default privileges the
    owner set cover them (and their sequences), and still give the app no DDL on them."""
    await owner_pool.execute("CREATE TABLE later_feature (id bigserial PRIMARY KEY, note text)")
    try:
        new_id = await pool.fetchval("INSERT INTO later_feature (note) VALUES ('a') RETURNING id")
        await pool.execute("UPDATE later_feature SET note = 'b' WHERE id = $1", new_id)
        assert await pool.fetchval("SELECT note FROM later_feature WHERE id = $1", new_id) == "b"
        await pool.execute("DELETE FROM later_feature WHERE id = $1", new_id)
        for statement in ("DROP TABLE later_feature", "TRUNCATE later_feature"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(statement)
    finally:
        await owner_pool.execute("DROP TABLE later_feature")


async def _connect_as_app(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT current_user") == APP_ROLE
    finally:
        await conn.close()


async def _app_login(owner_pool: asyncpg.Pool) -> tuple[bool, str]:
    row = await owner_pool.fetchrow(
        "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = $1", APP_ROLE
    )
    assert row is not None
    return row["rolcanlogin"], row["rolpassword"]


def _is_verifier_of(stored: str, password: str) -> bool:
    iterations, salt = stored.removeprefix("SCRAM-SHA-256$").split("$")[0].split(":")
    return stored == scram_sha256_verifier(password, base64.b64decode(salt), int(iterations))


async def test_migrating_gives_the_app_role_its_login_as_a_scram_verifier(
    owner_pool: asyncpg.Pool,
) -> None:
    can_login, stored = await _app_login(owner_pool)
    # The verifier of exactly the password in DATABASE_URL; the password itself never
    # went to the server.
    assert can_login and _is_verifier_of(stored, APP_DATABASE_PASSWORD)
    # Migrations ran as the owner: the app's role owns none of the tables they made.
    owners = await owner_pool.fetch(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert APP_ROLE not in {owner["tableowner"] for owner in owners}


async def test_q2c_migrate_migrates_as_the_owner_and_rotates_the_apps_password(
    owner_database_url: str,
    owner_pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("Q2C_HOME", str(tmp_path))
    monkeypatch.setenv("MIGRATION_DATABASE_URL", owner_database_url)
    monkeypatch.setenv(
        "DATABASE_URL", url_with_credentials(owner_database_url, APP_ROLE, "rotated-secret")
    )
    try:
        assert main(["migrate"]) == 0
        _, stored = await _app_login(owner_pool)
        assert _is_verifier_of(stored, "rotated-secret")
        await _connect_as_app(url_with_credentials(owner_database_url, APP_ROLE, "rotated-secret"))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await _connect_as_app(
                url_with_credentials(owner_database_url, APP_ROLE, APP_DATABASE_PASSWORD)
            )
        output = capsys.readouterr()
        assert "migrations applied" in output.out
        assert "rotated-secret" not in output.out + output.err
    finally:
        monkeypatch.setenv(
            "DATABASE_URL",
            url_with_credentials(owner_database_url, APP_ROLE, APP_DATABASE_PASSWORD),
        )
        assert main(["migrate"]) == 0
    assert _is_verifier_of((await _app_login(owner_pool))[1], APP_DATABASE_PASSWORD)


def test_q2c_migrate_refuses_to_migrate_as_the_app_role(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["migrate"]) != 0
    assert "set MIGRATION_DATABASE_URL" in capsys.readouterr().err


def test_migrations_run_as_the_owner_url(tmp_path: Path) -> None:
    app = "postgresql://q2c_app:app@db/q2c"
    owner = "postgresql://q2c:owner@db/q2c"
    only_app = Settings(
        database_url=app,
        temporal_address="t",
        temporal_namespace="default",
        smtp_url="smtp://s",
        public_url="http://p",
        api_key="k",
        api_url="http://a",
        mail_from="m",
        state_dir=tmp_path,
    )
    assert migration_database_url(only_app) == app
    given = replace(only_app, migration_database_url=owner)
    assert migration_database_url(given) == owner
    assert "owner" not in repr(given) and "app@" not in repr(given)
    # The embedded stack's markers: the app's URL for the worker and API, the owner's for
    # `q2c migrate`.
    (tmp_path / DATABASE_URL_FILE).write_text(app + "\n")
    (tmp_path / MIGRATION_DATABASE_URL_FILE).write_text(owner + "\n")
    embedded = replace(only_app, database_url="")
    assert migration_database_url(embedded) == owner
    assert embedded.resolved_database_url() == app


async def test_the_embedded_stack_runs_the_app_as_its_role_with_a_private_password(
    tmp_path: Path, owner_database_url: str
) -> None:
    url = embedded_app_url(owner_database_url, tmp_path)
    user, password = url_credentials(url)
    assert user == APP_ROLE and len(password) >= 24
    saved = tmp_path / APP_PASSWORD_FILE
    assert saved.read_text().strip() == password
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    # Made once: the next start keeps it.
    assert embedded_app_url(owner_database_url, tmp_path) == url
    marker = tmp_path / DATABASE_URL_FILE
    write_private(marker, url + "\n")
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600
    # As `q2c dev` does: migrate as the owner, which lets the role log in with that password.
    try:
        migrate(owner_database_url, app_url=url)
        await _connect_as_app(url)
    finally:
        migrate(
            owner_database_url,
            app_url=url_with_credentials(owner_database_url, APP_ROLE, APP_DATABASE_PASSWORD),
        )
