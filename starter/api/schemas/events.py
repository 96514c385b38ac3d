"""Outbound events: subscriptions, events and their webhook deliveries."""

from __future__ import annotations

from typing import Any

from starter.api.schemas.common import Answer, IsoInstant


class SubscriptionOut(Answer):
    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: IsoInstant
    deleted_at: IsoInstant | None


class SubscriptionCreatedOut(SubscriptionOut):
    # The signing secret: shown this once.
    secret: str


class SubscriptionDeletedOut(SubscriptionOut):
    cancelled_deliveries: int


class SubscriptionList(Answer):
    items: list[SubscriptionOut]


class EventOut(Answer):
    id: str
    sequence: int
    type: str
    occurred_at: IsoInstant
    invoice_id: str | None
    proposal_id: str | None
    data: Any


class EventPage(Answer):
    items: list[EventOut]
    # Kept for existing callers: pass as `after` for the next page, or to poll for newer
    # events once at the end (it stays the last sequence seen).
    next_after: int | None
    # The next page's `cursor`; null on the last page.
    next_cursor: str | None


class DeliveryOut(Answer):
    id: str
    event_id: str
    event_type: str
    subscription_id: str
    url: str
    status: str
    attempts: int
    last_attempt_at: IsoInstant | None
    last_status_code: int | None
    last_error: str
    delivered_at: IsoInstant | None
    failed_at: IsoInstant | None
    created_at: IsoInstant
    workflow_id: str


class DeliveryList(Answer):
    items: list[DeliveryOut]


class DeliveryAttemptOut(Answer):
    attempt: int
    started_at: IsoInstant
    duration_ms: int
    status_code: int | None
    error: str


class DeliveryDetailOut(DeliveryOut):
    attempt_log: list[DeliveryAttemptOut]


class RetriedDeliveriesOut(Answer):
    started: int
    delivery_ids: list[str]
