"""The audit trail's hash chain: what an event's hash covers, and how a verifier checks it.

Each event of a document (a proposal or an invoice) stores the hash of the event before it,
and its own hash covers its fields plus that previous hash. Altering a row changes its
hash; deleting one breaks the link of the row after it. (Deleting the *last* rows of a
chain leaves a shorter chain that still verifies: anchor the head elsewhere — the signed
PDF does, for a proposal, up to the signature.)

What is hashed must be recomputable exactly from the stored row, so the body is built
only from values that survive the database round trip unchanged:

- the time is UTC with exactly six fractional digits (timestamptz keeps microseconds);
- `data` is plain JSON without floats (jsonb reorders keys and rewrites numbers, e.g.
  `1e+20` comes back as `100000000000000000000`), serialised with sorted keys and no
  whitespace, so its canonical form does not depend on key order;
- strings are kept as they are (text columns do not normalise them).

Pure: no I/O, importable from anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

# The hash body's layout. Change it only together with a verifier for the old one.
SCHEME = "q2c-audit-v1"


class Row(Protocol):
    """An `audit_events` row: an asyncpg Record, a dict, anything indexable by column."""

    def __getitem__(self, key: str, /) -> Any: ...


class AuditDataError(ValueError):
    """Event data that would not hash the same after a trip through jsonb."""


def utc_timestamp(at: datetime) -> str:
    """`at` in UTC with microseconds, e.g. 2026-11-23T14:05:12.000042Z; naive means UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise AuditDataError(f"{path}: floats do not round-trip through jsonb; use a string")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditDataError(f"{path}: keys must be strings, not {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    raise AuditDataError(f"{path}: {type(value).__name__} is not JSON")


def normalise_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The event data exactly as it will read back from jsonb.

    Values JSON does not know (UUID, Decimal, date...) become their `str()`, as a caller
    storing an id or an amount expects; floats are refused.
    """
    plain = json.loads(json.dumps(dict(data or {}), default=str))
    _check_json(plain, "data")
    result: dict[str, Any] = plain
    return result


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditEvent:
    """The hashed fields of one event. `proposal_id` / `invoice_id` are ids as strings."""

    kind: str
    actor: str
    occurred_at: datetime
    proposal_id: str | None = None
    invoice_id: str | None = None
    ip: str = ""
    user_agent: str = ""
    data: Mapping[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Row) -> AuditEvent:
        """From an `audit_events` row; `data` may be the jsonb text or the parsed value."""
        data = row["data"]
        if isinstance(data, str | bytes):
            data = json.loads(data)
        return cls(
            kind=row["kind"],
            actor=row["actor"],
            occurred_at=row["occurred_at"],
            proposal_id=str(row["proposal_id"]) if row["proposal_id"] is not None else None,
            invoice_id=str(row["invoice_id"]) if row["invoice_id"] is not None else None,
            ip=row["ip"],
            user_agent=row["user_agent"],
            data=data,
        )


def hash_body(event: AuditEvent, prev_hash: str) -> str:
    """The canonical JSON text the event's hash is taken over."""
    return canonical_json(
        {
            "scheme": SCHEME,
            "proposal_id": event.proposal_id,
            "invoice_id": event.invoice_id,
            "kind": event.kind,
            "actor": event.actor,
            "occurred_at": utc_timestamp(event.occurred_at),
            "ip": event.ip,
            "user_agent": event.user_agent,
            "data": normalise_data(event.data),
            "prev_hash": prev_hash,
        }
    )


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 (hex) of the event's canonical body, chained to the previous event's hash."""
    return hashlib.sha256(hash_body(event, prev_hash).encode("utf-8")).hexdigest()


def verify_chain(rows: Iterable[Row]) -> tuple[bool, int | None]:
    """Check one document's events, in id order: (ok, id of the first event that fails).

    An event fails when its `prev_hash` is not the hash of the event before it (the first
    event's is empty) — a row was deleted or reordered — or when its stored hash is not
    the hash of its own fields — a row was altered.
    """
    expected_prev = ""
    for row in rows:
        event_id = int(row["id"])
        if row["prev_hash"] != expected_prev:
            return False, event_id
        try:
            recomputed = event_hash(AuditEvent.from_row(row), row["prev_hash"])
        except (AuditDataError, ValueError, TypeError):
            return False, event_id
        if recomputed != row["hash"]:
            return False, event_id
        expected_prev = row["hash"]
    return True, None
