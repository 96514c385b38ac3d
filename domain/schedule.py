"""Calendar rules: due dates in the company's time zone, the overdue instant, reminders.

A due date is a calendar date where the company is; an invoice becomes overdue at the
first moment of the next local day, and reminders go out at a local hour on their day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (-3, 0, 7, 14, 30)
DEFAULT_REMINDER_HOUR = 9


@dataclass(frozen=True)
class PlannedReminder:
    step: int
    offset_days: int
    send_at: datetime


def local_date(instant: datetime, time_zone: str) -> date:
    return instant.astimezone(ZoneInfo(time_zone)).date()


def due_date_for(issue_date: date, payment_terms_days: int) -> date:
    if payment_terms_days < 0:
        raise ValueError("payment_terms_days: must not be negative")
    return issue_date + timedelta(days=payment_terms_days)


def local_instant(day: date, hour: int, time_zone: str) -> datetime:
    return datetime.combine(day, time(hour=hour), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def overdue_at(due_date: date, time_zone: str) -> datetime:
    return local_instant(due_date + timedelta(days=1), 0, time_zone)


def is_overdue(due_date: date, now: datetime, time_zone: str) -> bool:
    return now >= overdue_at(due_date, time_zone)


def plan_reminders(
    due_date: date,
    offsets_days: Sequence[int],
    send_hour: int,
    time_zone: str,
) -> list[PlannedReminder]:
    """Every reminder of the schedule, numbered by its place in it (the idempotency step)."""
    if not 0 <= send_hour <= 23:
        raise ValueError("send_hour: must be from 0 to 23")
    ordered = sorted(set(offsets_days))
    return [
        PlannedReminder(
            step=index + 1,
            offset_days=offset,
            send_at=local_instant(due_date + timedelta(days=offset), send_hour, time_zone),
        )
        for index, offset in enumerate(ordered)
    ]


def reminders_after(plan: Sequence[PlannedReminder], issued_at: datetime) -> list[PlannedReminder]:
    """Reminders whose time is still ahead when the invoice goes out: none is sent late."""
    return [reminder for reminder in plan if reminder.send_at > issued_at]
