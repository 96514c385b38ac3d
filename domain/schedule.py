"""Calendar rules: due dates in the company's time zone, the overdue instant, reminders.

A due date is a calendar date where the company is; an invoice becomes overdue at the
first moment of the next local day, and reminders go out at a local hour on their day.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import InvalidInput

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


# --- reminder schedules: company default, client and invoice overrides, repeats ----------

MAX_OFFSETS = 20
OFFSET_RANGE = (-365, 365)
MAX_REPEAT_EVERY_DAYS = 365
MAX_REPEATS = 1000


class ScheduleError(InvalidInput):
    """A reminder schedule that cannot be planned; the message starts with the field."""


@dataclass(frozen=True)
class ReminderSchedule:
    """When reminders go out: `offsets_days` from the due date (negative = before), at `hour`
    local time, then every `repeat_every_days` after the last offset, at most `repeat_max`
    times (0 and 0: no repeat). No offsets means no reminders at all."""

    offsets_days: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS
    hour: int = DEFAULT_REMINDER_HOUR
    repeat_every_days: int = 0
    repeat_max: int = 0

    @property
    def size(self) -> int:
        """How many reminders the schedule plans, repeats included."""
        offsets = len(set(self.offsets_days))
        repeats = self.repeat_max if self.repeat_every_days and offsets else 0
        return offsets + repeats


@dataclass(frozen=True)
class ScheduleOverride:
    """A client's or an invoice's changes to the schedule it inherits; None inherits.
    The repeat rule is one setting: `repeat_every_days` and `repeat_max` are set together."""

    offsets_days: tuple[int, ...] | None = None
    hour: int | None = None
    repeat_every_days: int | None = None
    repeat_max: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == ScheduleOverride()


def check_schedule_values(
    offsets_days: Sequence[int] | None,
    hour: int | None,
    repeat_every_days: int | None,
    repeat_max: int | None,
) -> None:
    """Refuse values no schedule may have, naming the field; None means "not given"."""
    if offsets_days is not None:
        if len(offsets_days) > MAX_OFFSETS:
            raise ScheduleError(f"offsets_days: at most {MAX_OFFSETS} offsets")
        low, high = OFFSET_RANGE
        for index, offset in enumerate(offsets_days):
            if isinstance(offset, bool) or not isinstance(offset, int):
                raise ScheduleError(f"offsets_days[{index}]: must be a whole number of days")
            if not low <= offset <= high:
                raise ScheduleError(f"offsets_days[{index}]: must be from {low} to {high} days")
    if hour is not None and not 0 <= hour <= 23:
        raise ScheduleError("hour: must be from 0 to 23")
    if (repeat_every_days is None) != (repeat_max is None):
        raise ScheduleError(
            "repeat_every_days: give repeat_every_days and repeat_max together (0 and 0: none)"
        )
    if repeat_every_days is not None and repeat_max is not None:
        if not 0 <= repeat_every_days <= MAX_REPEAT_EVERY_DAYS:
            raise ScheduleError(
                f"repeat_every_days: must be from 0 to {MAX_REPEAT_EVERY_DAYS} (0: no repeat)"
            )
        if not 0 <= repeat_max <= MAX_REPEATS:
            raise ScheduleError(f"repeat_max: must be from 0 to {MAX_REPEATS}")
        if (repeat_every_days == 0) != (repeat_max == 0):
            raise ScheduleError(
                "repeat_max: a repeat needs both an interval and a count (0 and 0: none)"
            )


def resolve_schedule(base: ReminderSchedule, *overrides: ScheduleOverride) -> ReminderSchedule:
    """The schedule in force: the company's, changed field by field by each override in turn
    (the client's, then the invoice's); the repeat rule moves as one field."""
    schedule = base
    for override in overrides:
        check_schedule_values(
            override.offsets_days, override.hour, override.repeat_every_days, override.repeat_max
        )
        repeat = (
            (override.repeat_every_days, override.repeat_max)
            if override.repeat_every_days is not None and override.repeat_max is not None
            else (schedule.repeat_every_days, schedule.repeat_max)
        )
        schedule = ReminderSchedule(
            offsets_days=(
                tuple(override.offsets_days)
                if override.offsets_days is not None
                else schedule.offsets_days
            ),
            hour=override.hour if override.hour is not None else schedule.hour,
            repeat_every_days=repeat[0],
            repeat_max=repeat[1],
        )
    return schedule


def plan_schedule(
    due_date: date, schedule: ReminderSchedule, time_zone: str, step_base: int = 0
) -> list[PlannedReminder]:
    """Every reminder of the schedule, in time order, numbered step_base + 1, + 2, ...

    Steps are the reminders' idempotency keys (invoice:<id>:reminder:<step>): a re-plan
    starts after the last step of the plan it replaces, so no step is ever reused."""
    check_schedule_values(
        schedule.offsets_days, schedule.hour, schedule.repeat_every_days, schedule.repeat_max
    )
    offsets = sorted(set(schedule.offsets_days))
    if offsets and schedule.repeat_every_days:
        last = offsets[-1]
        offsets += [
            last + schedule.repeat_every_days * k for k in range(1, schedule.repeat_max + 1)
        ]
    return [
        PlannedReminder(
            step=step_base + index + 1,
            offset_days=offset,
            send_at=local_instant(due_date + timedelta(days=offset), schedule.hour, time_zone),
        )
        for index, offset in enumerate(offsets)
    ]


def reminders_to_send(
    plan: Sequence[PlannedReminder],
    not_before: datetime,
    sent_steps: Collection[int],
    paused: bool = False,
) -> list[PlannedReminder]:
    """What is still to go out: nothing while paused; otherwise every planned reminder later
    than `not_before` (when the plan was made, or reminders last resumed: none is sent late)
    that has not been sent."""
    if paused:
        return []
    return [r for r in plan if r.send_at > not_before and r.step not in sent_steps]


def known_time_zone(name: str) -> str:
    """`name` if it is an IANA time zone (Europe/Bucharest), else ScheduleError."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError) as unknown:  # ZoneInfoNotFoundError is a KeyError
        raise ScheduleError(f"time_zone: unknown time zone {name!r}") from unknown
    return name
