"""The application's database role (`q2c_app`, created by migration 20261203130000): what
the migration runner does to let it log in, and what the app's own connection is.

Run as the owner, never by the app: the app's role may not alter roles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from db.connection import Connection

APP_ROLE = "q2c_app"
# PostgreSQL's own default for the iterations of a SCRAM verifier (scram_iterations).
_SCRAM_ITERATIONS = 4096
_BASE64 = "[A-Za-z0-9+/]+=*"
_VERIFIER = re.compile(rf"SCRAM-SHA-256\$[0-9]+:{_BASE64}\${_BASE64}:{_BASE64}")


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = _SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5803 form).

    Sent instead of the password itself, so the password never reaches the server's
    statement log or `pg_stat_activity`. Passwords are expected to be ASCII (the generated
    ones and `openssl rand -hex` are), for which SASLprep changes nothing.
    """
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def let_app_role_log_in(conn: Connection, verifier: str) -> None:
    """Give `q2c_app` LOGIN with this password verifier (again on every migrate run, so
    changing the deployment's password rotates it). ALTER ROLE takes no bind parameters,
    so the server's format() quotes the verifier (base64 and `$`/`:` only, checked too)."""
    if not _VERIFIER.fullmatch(verifier):
        raise ValueError("not a SCRAM-SHA-256 verifier")
    statement = await conn.fetchval(
        "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
        APP_ROLE,
        verifier,
    )
    await conn.execute(statement)
