"""Who may do what: operators' roles, the route rule that says which role a request needs,
and how an actor is written in the records.

Actors, as every record stores them: `operator:<name>` for an operator's request through
the API or the CLI; `temporal-ui` for a signal or update that reached a workflow without a
request the API recorded (someone using the Temporal UI or CLI directly: whatever name it
claims is not trusted); the webhook source (`crm`, `esign`, `payments`); `client` for the
client's own pages; `system` for what q2c does by itself (due dates, reminders).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidInput


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


# Each role may do everything the roles before it may.
_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes (as FastAPI spells their paths) whose writes are the admin's: the company and its
# bank accounts, number series, a client's reminder schedule, webhook subscriptions.
ADMIN_WRITES = (
    "/api/v1/company",
    "/api/v1/number-series",
    "/api/v1/clients/{client_id}/reminders",
    "/api/v1/webhook-subscriptions",
)
# Writes that only read: showing the Temporal UI a decrypted payload is a viewer's read.
READING_WRITES = ("/codec/decode",)
# Routes that are the admin's whatever the method: who the operators are, and the
# company's ANAF connection.
ADMIN_ONLY = ("/api/v1/operators", "/api/v1/efactura")

TEMPORAL_UI = "temporal-ui"
SYSTEM = "system"
OPERATOR_PREFIX = "operator:"

# A name is written into every record an operator makes: short and plain.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# last_used_at is written at most this often per key: a busy key costs no write per request.
LAST_USED_EVERY = timedelta(minutes=1)
# An operator's recorded request is redeemed by the activity it was sent for, in seconds;
# one left over (its signal lost in a race) must not wait in a workflow's history for
# someone with the Temporal UI to reuse it in that operator's name.
REQUEST_VALID_FOR = timedelta(days=1)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def required_role(method: str, route_path: str) -> Role:
    """The least role a request needs: reads are the viewer's, writes the operator's, and
    the admin's settings (ADMIN_WRITES, ADMIN_ONLY) the admin's."""
    if _under(route_path, ADMIN_ONLY):
        return Role.ADMIN
    if method.upper() in READ_METHODS or _under(route_path, READING_WRITES):
        return Role.VIEWER
    if _under(route_path, ADMIN_WRITES):
        return Role.ADMIN
    return Role.OPERATOR


def allows(role: Role, needed: Role) -> bool:
    return _RANK[role] >= _RANK[needed]


def refusal(role: Role, needed: Role) -> str:
    """What a refused operator is told."""
    return f"this needs the {needed.value} role; your key has the {role.value} role"


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "name: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"role: one of {', '.join(r.value for r in Role)}") from None


def operator_actor(name: str) -> str:
    return OPERATOR_PREFIX + name


def key_hash(key: str) -> str:
    """What is stored of a key: its SHA-256 (the keys are 256-bit random)."""
    return hashlib.sha256(key.encode()).hexdigest()


def should_record_use(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_EVERY


class Action(StrEnum):
    """What an operator asks of an invoice's workflow (operator_requests.action)."""

    APPROVE = "approve"
    VOID = "void"
    EDIT = "edit"
    PAY = "record_payment"
    REFUND = "refund"
    RESCHEDULE = "reschedule"
    PAUSE_REMINDERS = "pause_reminders"
    RESUME_REMINDERS = "resume_reminders"
    # Of a proposal's workflow: make the unsigned proposal a draft invoice.
    CONVERT_PROPOSAL = "convert_proposal"
    # Send an issued invoice or a sent proposal again (issue 15).
    RESEND = "resend"
