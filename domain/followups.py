"""Proposal follow-ups: when an unsigned proposal is followed up by email.

The company's schedule (days after the proposal was sent, days before its last valid day)
may be replaced per proposal, kind by kind. The plan is made once, when the proposal is
sent: each follow-up goes out at the reminder hour on its local day, and one that would
fall before the plan was made, or at or after the proposal's expiry, is skipped, never
sent late. Steps are numbered in time order over the whole schedule, so a step's number
(the follow-up's outbox key) does not depend on when it was planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.errors import InvalidInput
from domain.schedule import local_date, local_instant

DEFAULT_DAYS_AFTER_SENT: tuple[int, ...] = (3, 7)
DEFAULT_DAYS_BEFORE_EXPIRY: tuple[int, ...] = (2,)
# Bounds, as a reminder schedule's: a few follow-ups of each kind, within a year.
MAX_FOLLOWUPS = 10
MAX_DAYS = 365
AFTER_SENT = "after_sent"
BEFORE_EXPIRY = "before_expiry"
STEP_KEY_PREFIX = "followup:"


class FollowupError(InvalidInput):
    """A follow-up schedule that cannot be planned; the message starts with the field."""


def check_days(field: str, values: Sequence[int] | None, *, lowest: int) -> tuple[int, ...] | None:
    """The days sorted without repeats, or FollowupError naming the field (and the index of a
    bad value). None stays None ("not given": inherited)."""
    if values is None:
        return None
    if len(values) > MAX_FOLLOWUPS:
        raise FollowupError(f"{field}: at most {MAX_FOLLOWUPS} follow-ups")
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int):
            raise FollowupError(f"{field}[{index}]: must be a whole number of days")
        if not lowest <= value <= MAX_DAYS:
            raise FollowupError(f"{field}[{index}]: must be from {lowest} to {MAX_DAYS} days")
    return tuple(sorted(set(values)))


def check_days_after_sent(field: str, values: Sequence[int] | None) -> tuple[int, ...] | None:
    # Day 0 would be the day the proposal itself went out.
    return check_days(field, values, lowest=1)


def check_days_before_expiry(field: str, values: Sequence[int] | None) -> tuple[int, ...] | None:
    # Day 0 is the last valid day itself.
    return check_days(field, values, lowest=0)


@dataclass(frozen=True)
class FollowupSchedule:
    days_after_sent: tuple[int, ...] = DEFAULT_DAYS_AFTER_SENT
    days_before_expiry: tuple[int, ...] = DEFAULT_DAYS_BEFORE_EXPIRY


def resolve(
    company: FollowupSchedule,
    days_after_sent: Sequence[int] | None = None,
    days_before_expiry: Sequence[int] | None = None,
) -> FollowupSchedule:
    """The schedule in force: the company's, each kind replaced by the proposal's own when
    it has one (an empty list: none of that kind)."""
    after = check_days_after_sent("followup_days_after_sent", days_after_sent)
    before = check_days_before_expiry("followup_days_before_expiry", days_before_expiry)
    return FollowupSchedule(
        days_after_sent=after if after is not None else company.days_after_sent,
        days_before_expiry=before if before is not None else company.days_before_expiry,
    )


@dataclass(frozen=True)
class PlannedFollowup:
    step: int
    kind: str
    days: int
    send_at: datetime


def plan_followups(
    schedule: FollowupSchedule,
    *,
    sent_at: datetime,
    valid_until: date,
    time_zone: str,
    hour: int,
) -> list[PlannedFollowup]:
    """Every follow-up of the schedule in time order, numbered from 1. Two on the same local
    day are one email: the one before expiry, which says the offer is ending."""
    sent_on = local_date(sent_at, time_zone)
    candidates = [
        (valid_until - timedelta(days=days), 0, BEFORE_EXPIRY, days)
        for days in schedule.days_before_expiry
    ] + [(sent_on + timedelta(days=days), 1, AFTER_SENT, days) for days in schedule.days_after_sent]
    kept: dict[date, tuple[int, str, int]] = {}
    for day, rank, kind, days in sorted(candidates):
        kept.setdefault(day, (rank, kind, days))
    return [
        PlannedFollowup(
            step=index,
            kind=kind,
            days=days,
            send_at=local_instant(day, hour, time_zone),
        )
        for index, (day, (_, kind, days)) in enumerate(sorted(kept.items()), start=1)
    ]


def followups_to_send(
    plan: Sequence[PlannedFollowup], *, planned_at: datetime, expires_at: datetime
) -> list[PlannedFollowup]:
    """The follow-ups still to go out: after the moment of planning (none late) and before
    the proposal expires (none about an offer that has ended)."""
    return [f for f in plan if planned_at < f.send_at < expires_at]


def days_left(valid_until: date, on: date) -> int:
    """Whole days the offer stays valid after `on` (0: its last day is today)."""
    return max((valid_until - on).days, 0)


def days_text(count: int, locale: str) -> str:
    """`count` days in words a reader expects: 1 day / 2 days; 1 zi / 2 zile / 20 de zile;
    1 день / 2 дня / 5 дней."""
    if locale == "ro":
        if count == 1:
            return "1 zi"
        if count and (count % 100 >= 20 or count % 100 == 0):
            return f"{count} de zile"
        return f"{count} zile"
    if locale == "ru":
        tail, tens = count % 10, count % 100
        if tail == 1 and tens != 11:
            return f"{count} день"
        if 2 <= tail <= 4 and not 12 <= tens <= 14:
            return f"{count} дня"
        return f"{count} дней"
    return "1 day" if count == 1 else f"{count} days"


def step_key(proposal_id: object, step: int) -> str:
    return f"proposal:{proposal_id}:{STEP_KEY_PREFIX}{step}"
