"""Outbound events: their types, which subscriptions they go to, and the body sent.

Pure: the activities store events and deliver them; this says what they look like.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

EVENT_TYPES = (
    "proposal.sent",
    "proposal.viewed",
    "proposal.signed",
    "proposal.declined",
    "proposal.expired",
    "invoice.created",
    "invoice.approved",
    "invoice.sent",
    "invoice.viewed",
    "invoice.partially_paid",
    "invoice.paid",
    "invoice.overdue",
    "invoice.voided",
    "payment.recorded",
    "reminder.sent",
    "task.created",
    "credit_note.issued",
)
ALL = "*"

# At most one of these per document, ever: emitting one again is a no-op (a retried
# activity, two first views at once). The others repeat (an invoice paid, refunded and
# paid again) and their callers name the business key that makes them unique.
ONCE_PER_DOCUMENT = frozenset(
    {
        "proposal.sent",
        "proposal.viewed",
        "proposal.signed",
        "proposal.declined",
        "proposal.expired",
        "invoice.created",
        "invoice.approved",
        "invoice.sent",
        "invoice.viewed",
        "invoice.voided",
        "credit_note.issued",
    }
)


class UnknownEventType(ValueError):
    pass


def check_event_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    return event_type


def normalise_types(types: Iterable[str]) -> list[str]:
    """A subscription's types: `["*"]`, or known types, sorted, each once."""
    wanted = set(types)
    if not wanted:
        raise UnknownEventType('give at least one event type, or "*"')
    if ALL in wanted:
        return [ALL]
    for event_type in wanted:
        check_event_type(event_type)
    return sorted(wanted)


def subscribed(types: Iterable[str], event_type: str) -> bool:
    return any(wanted in (ALL, event_type) for wanted in types)


def default_key(event_type: str, document_id: object | None) -> str | None:
    """The de-duplication key of a once-per-document event; None for the others."""
    if event_type in ONCE_PER_DOCUMENT and document_id is not None:
        return f"{event_type}:{document_id}"
    return None


def envelope(
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    sequence: int,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """What a receiver gets: the event's id (its idempotency key), type, time, a sequence
    number that orders events, and the event's data."""
    return {
        "id": event_id,
        "type": event_type,
        "occurred_at": occurred_at.isoformat(),
        "sequence": sequence,
        "data": dict(data),
    }


def body_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: compact JSON, UTF-8, keys in a stable order."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
