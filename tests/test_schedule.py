"""Reminder schedules and the status moves they cause: pure rules, figures worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.schedule import (
    ReminderSchedule,
    ScheduleError,
    ScheduleOverride,
    check_schedule_values,
    known_time_zone,
    plan_schedule,
    reminders_to_send,
    resolve_schedule,
)
from domain.status import (
    IllegalTransition,
    InvoiceStatus,
    Reopening,
    check_can_pause_reminders,
    check_can_refund,
    check_can_reschedule,
    check_transition,
    status_after_due_date_change,
    status_after_refund,
)

S = InvoiceStatus
D = Decimal
COMPANY = ReminderSchedule(offsets_days=(-3, 0, 7, 14, 30), hour=9)


def test_without_repeat_or_base_each_offset_is_one_step() -> None:
    plan = plan_schedule(date(2026, 12, 15), COMPANY, "Europe/Bucharest")
    assert [(r.step, r.offset_days) for r in plan] == [(1, -3), (2, 0), (3, 7), (4, 14), (5, 30)]
    assert COMPANY.size == 5


def test_repeats_follow_the_last_offset_and_steps_start_after_the_base() -> None:
    schedule = ReminderSchedule(offsets_days=(7, -3, 0, 0), hour=10, repeat_every_days=10,
                                repeat_max=3)  # fmt: skip
    plan = plan_schedule(date(2026, 12, 15), schedule, "Europe/Bucharest", step_base=5)
    assert [(r.step, r.offset_days) for r in plan] == [
        (6, -3), (7, 0), (8, 7), (9, 17), (10, 27), (11, 37)
    ]  # fmt: skip
    # 10:00 in Bucharest in winter (UTC+2) is 08:00 UTC.
    assert plan[0].send_at == datetime(2026, 12, 12, 8, 0, tzinfo=UTC)
    assert plan[-1].send_at == datetime(2027, 1, 21, 8, 0, tzinfo=UTC)
    assert schedule.size == len(plan) == 6


def test_no_offsets_means_no_reminders_even_with_a_repeat() -> None:
    silent = ReminderSchedule(offsets_days=(), repeat_every_days=7, repeat_max=4)
    assert plan_schedule(date(2026, 12, 15), silent, "UTC") == [] and silent.size == 0


def test_the_hour_is_the_clients_local_hour_across_daylight_saving() -> None:
    # New York: EST (UTC-5) until 8 March 2026, EDT (UTC-4) after; 9:00 local both sides.
    schedule = ReminderSchedule(offsets_days=(-1,), hour=9, repeat_every_days=1, repeat_max=2)
    plan = plan_schedule(date(2026, 3, 8), schedule, "America/New_York")
    assert [r.send_at for r in plan] == [
        datetime(2026, 3, 7, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 13, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    ]


def test_overrides_change_the_company_schedule_field_by_field() -> None:
    client = ScheduleOverride(offsets_days=(-5, 0, 10), repeat_every_days=7, repeat_max=2)
    invoice = ScheduleOverride(hour=14)
    resolved = resolve_schedule(COMPANY, client, invoice)
    assert resolved == ReminderSchedule((-5, 0, 10), hour=14, repeat_every_days=7, repeat_max=2)
    # An invoice can switch off the client's repeat (0 and 0) and keep the rest.
    no_repeat = resolve_schedule(COMPANY, client, ScheduleOverride(repeat_every_days=0,
                                                                   repeat_max=0))  # fmt: skip
    assert no_repeat == ReminderSchedule((-5, 0, 10), hour=9)
    assert resolve_schedule(COMPANY, ScheduleOverride(), ScheduleOverride()) == COMPANY
    assert ScheduleOverride().is_empty and not invoice.is_empty


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (((-3, 400), None, None, None), "offsets_days[1]"),
        ((tuple(range(21)), None, None, None), "offsets_days"),
        (((True,), None, None, None), "offsets_days[0]"),
        ((None, 24, None, None), "hour"),
        ((None, None, 7, None), "repeat_every_days"),
        ((None, None, 7, 0), "repeat_max"),
        ((None, None, 0, 3), "repeat_max"),
        ((None, None, 366, 1), "repeat_every_days"),
        ((None, None, 1, 1001), "repeat_max"),
    ],
)
def test_impossible_schedules_are_refused_naming_the_field(
    values: tuple[tuple[int, ...] | None, int | None, int | None, int | None], field: str
) -> None:
    with pytest.raises(ScheduleError) as refused:
        check_schedule_values(*values)
    assert str(refused.value).startswith(f"{field}:"), refused.value


def test_what_is_still_to_send() -> None:
    plan = plan_schedule(date(2026, 12, 15), COMPANY, "Europe/Bucharest")
    made = datetime(2026, 12, 13, 12, tzinfo=UTC)  # after the -3 reminder of the 12th
    assert [r.step for r in reminders_to_send(plan, made, sent_steps={2})] == [3, 4, 5]
    assert reminders_to_send(plan, made, sent_steps=set(), paused=True) == []


def test_time_zones_are_checked() -> None:
    assert known_time_zone("Europe/Chisinau") == "Europe/Chisinau"
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ScheduleError, match=r"^time_zone:"):
            known_time_zone(bad)


def test_moving_back_needs_a_named_cause() -> None:
    with pytest.raises(IllegalTransition, match="paid cannot become partially_paid"):
        check_transition(S.PAID, S.PARTIALLY_PAID)
    check_transition(S.PAID, S.PARTIALLY_PAID, Reopening.REFUND)
    check_transition(S.PAID, S.OVERDUE, Reopening.REFUND)
    check_transition(S.PARTIALLY_PAID, S.SENT, Reopening.REFUND)
    check_transition(S.OVERDUE, S.SENT, Reopening.DUE_DATE_MOVED)
    check_transition(S.OVERDUE, S.PARTIALLY_PAID, Reopening.DUE_DATE_MOVED)
    with pytest.raises(IllegalTransition, match="by due date moved"):
        check_transition(S.PAID, S.SENT, Reopening.DUE_DATE_MOVED)
    with pytest.raises(IllegalTransition, match="by refund"):
        check_transition(S.OVERDUE, S.SENT, Reopening.REFUND)
    with pytest.raises(IllegalTransition):
        check_transition(S.VOID, S.SENT, Reopening.REFUND)
    # Forward moves need no cause, as before.
    check_transition(S.SENT, S.OVERDUE)


def test_status_after_a_refund_or_a_new_due_date() -> None:
    total = D("100.00")
    assert status_after_refund(S.PAID, total, D("60"), overdue=False) == S.PARTIALLY_PAID
    assert status_after_refund(S.PAID, total, D("0"), overdue=False) == S.SENT
    assert status_after_refund(S.PAID, total, D("60"), overdue=True) == S.OVERDUE
    assert status_after_refund(S.PAID, total, D("100"), overdue=True) == S.PAID
    assert status_after_refund(S.VOID, total, D("0"), overdue=True) == S.VOID
    assert status_after_due_date_change(S.OVERDUE, total, D("0"), overdue=False) == S.SENT
    assert status_after_due_date_change(S.OVERDUE, total, D("1"), overdue=False) == S.PARTIALLY_PAID
    assert status_after_due_date_change(S.OVERDUE, total, D("1"), overdue=True) == S.OVERDUE
    # Moved earlier: the workflow marks it overdue at the overdue instant, with its task.
    assert status_after_due_date_change(S.SENT, total, D("0"), overdue=True) == S.SENT


def test_who_may_be_rescheduled_paused_or_refunded() -> None:
    for status in (S.SENT, S.PARTIALLY_PAID, S.OVERDUE):
        check_can_reschedule(status)
        check_can_pause_reminders(status)
        check_can_refund(status)
    for status in (S.PAID, S.VOID):
        check_can_refund(status)
        with pytest.raises(IllegalTransition, match=f"this one is {status.value}"):
            check_can_reschedule(status)
        with pytest.raises(IllegalTransition, match=f"this one is {status.value}"):
            check_can_pause_reminders(status)
    for status in (S.DRAFT, S.AWAITING_REVIEW):
        with pytest.raises(IllegalTransition, match="issued invoices"):
            check_can_refund(status)
