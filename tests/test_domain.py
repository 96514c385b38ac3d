"""Pure business rules, with expected figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.money import Line, MoneyError, compute_totals, line_net, parse_decimal, round_money
from domain.numbering import NumberingError, format_number
from domain.schedule import (
    ReminderSchedule,
    is_overdue,
    overdue_at,
    plan_schedule,
    reminders_to_send,
)
from domain.status import (
    IllegalTransition,
    InvoiceStatus,
    check_can_approve,
    check_can_pay,
    check_transition,
    status_after_payment,
)

D = Decimal


def line(qty: str, price: str, rate: str, discount: str = "0") -> Line:
    return Line("item", D(qty), D(price), D(rate), discount_percent=D(discount))


def test_line_nets_round_half_up_to_the_minor_unit() -> None:
    assert line_net(line("3", "0.335", "19"), "RON") == D("1.01")  # 1.005 -> 1.01
    assert line_net(line("1", "100", "21", "33.333"), "RON") == D("66.67")
    assert line_net(line("1", "1234.5", "10"), "JPY") == D("1235")
    assert line_net(line("1", "1.2345", "0"), "KWD") == D("1.235")


def test_vat_is_computed_per_rate_group_not_per_line() -> None:
    # Three lines of 0.10 at 19 %: per-line VAT would be 3 x 0.02 = 0.06; per group 0.057 -> 0.06
    # Three lines of 0.05 at 21 %: per line 3 x 0.01 = 0.03, per group 0.0315 -> 0.03.
    totals = compute_totals(
        [line("1", "0.10", "19")] * 3 + [line("1", "0.05", "21")] * 3 + [line("2", "10", "9")],
        "RON",
    )
    assert [(g.rate, g.base, g.vat) for g in totals.vat_groups] == [
        (D("21"), D("0.15"), D("0.03")),
        (D("19"), D("0.30"), D("0.06")),
        (D("9"), D("20.00"), D("1.80")),
    ]
    assert (totals.subtotal, totals.vat_total, totals.total) == (
        D("20.45"),
        D("1.89"),
        D("22.34"),
    )


def test_per_group_rounding_differs_from_summing_line_vat() -> None:
    # Seven lines of 1.07 at 21 %: each line's VAT 0.2247 -> 0.22, summed 1.54;
    # on the group base 7.49 the VAT is 1.5729 -> 1.57.
    totals = compute_totals([line("1", "1.07", "21")] * 7, "EUR")
    assert totals.vat_total == D("1.57") and totals.total == D("9.06")


def test_bad_money_is_refused_with_the_field_named() -> None:
    with pytest.raises(MoneyError, match="amount: give amounts as decimal strings"):
        parse_decimal(0.1, "amount")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="quantity"):
        compute_totals([line("0", "1", "21")], "RON")
    with pytest.raises(MoneyError, match="vat_rate"):
        compute_totals([line("1", "1", "100")], "RON")
    with pytest.raises(MoneyError, match="currency"):
        round_money(D("1"), "lei")


def test_payments_move_the_status_and_overdue_wins_over_partial() -> None:
    total = D("100.00")
    assert status_after_payment(total, D("40"), overdue=False) == InvoiceStatus.PARTIALLY_PAID
    assert status_after_payment(total, D("40"), overdue=True) == InvoiceStatus.OVERDUE
    assert status_after_payment(total, D("100"), overdue=True) == InvoiceStatus.PAID
    assert status_after_payment(total, D("120"), overdue=False) == InvoiceStatus.PAID


def test_illegal_moves_are_refused_with_a_reason() -> None:
    with pytest.raises(IllegalTransition, match="this one is paid"):
        check_can_approve(InvoiceStatus.PAID)
    with pytest.raises(IllegalTransition, match="this one is awaiting_review"):
        check_can_pay(InvoiceStatus.AWAITING_REVIEW)
    with pytest.raises(IllegalTransition):
        check_transition(InvoiceStatus.VOID, InvoiceStatus.SENT)
    check_transition(InvoiceStatus.OVERDUE, InvoiceStatus.PAID)


def test_number_patterns() -> None:
    assert format_number("{series}-{year}-{seq:05}", "INV", 2026, 42) == "INV-2026-00042"
    assert format_number("{series}{seq}", "F", 2026, 7) == "F7"
    with pytest.raises(NumberingError, match="seq"):
        format_number("{series}-{year}", "F", 2026, 1)


def test_overdue_starts_at_local_midnight_after_the_due_date() -> None:
    # Bucharest is UTC+2 in winter: the day after 2026-12-15 starts at 22:00 UTC on the 15th.
    assert overdue_at(date(2026, 12, 15), "Europe/Bucharest") == datetime(
        2026, 12, 15, 22, 0, tzinfo=UTC
    )
    assert not is_overdue(
        date(2026, 12, 15), datetime(2026, 12, 15, 21, 59, tzinfo=UTC), "Europe/Bucharest"
    )
    assert is_overdue(
        date(2026, 12, 15), datetime(2026, 12, 15, 22, 0, tzinfo=UTC), "Europe/Bucharest"
    )


def test_reminder_plan_follows_local_time_across_daylight_saving() -> None:
    schedule = ReminderSchedule(offsets_days=(-3, 0, 7, 14, 30), hour=9)
    plan = plan_schedule(date(2026, 3, 27), schedule, "Europe/Bucharest")
    assert [(r.step, r.send_at) for r in plan] == [
        (1, datetime(2026, 3, 24, 7, 0, tzinfo=UTC)),  # EET, UTC+2
        (2, datetime(2026, 3, 27, 7, 0, tzinfo=UTC)),
        (3, datetime(2026, 4, 3, 6, 0, tzinfo=UTC)),  # EEST from 29 March, UTC+3
        (4, datetime(2026, 4, 10, 6, 0, tzinfo=UTC)),
        (5, datetime(2026, 4, 26, 6, 0, tzinfo=UTC)),
    ]
    late = reminders_to_send(plan, datetime(2026, 3, 25, tzinfo=UTC), set())
    assert [r.step for r in late] == [2, 3, 4, 5]


def test_series_rules() -> None:
    from domain.numbering import check_move_forward, sequence_for, validate_series

    assert sequence_for(42, 2026, 2027, reset_yearly=True) == 1
    assert sequence_for(42, 2026, 2026, reset_yearly=True) == 42
    assert sequence_for(42, 2026, 2027, reset_yearly=False) == 42
    assert sequence_for(1, None, 2027, reset_yearly=True) == 1
    validate_series("{series}-{year}-{seq:05}", reset_yearly=True)
    with pytest.raises(NumberingError, match="year"):
        validate_series("{series}-{seq:05}", reset_yearly=True)
    check_move_forward(10, 10)
    with pytest.raises(NumberingError, match="forward"):
        check_move_forward(10, 9)


def test_an_intra_community_supply_is_its_own_zero_rated_category() -> None:
    from domain.vat import (
        VatCategory,
        VatLine,
        check_rate,
        compute_document_totals,
        legal_mention,
    )

    category = VatCategory.INTRA_COMMUNITY
    assert category.en16931_code == "K"
    assert not category.charges_vat
    row = check_rate("RO", date(2026, 11, 23), D(0), category)
    assert row.category is category
    assert legal_mention(category, "ro", "art. 294 alin. (2) lit. a) din Codul fiscal") == (
        "Livrare intracomunitară scutită de TVA conform art. 294 alin. (2) lit. a) din Codul fiscal"
    )
    assert legal_mention(category, "en") == "Intra-community supply, exempt from VAT"
    totals = compute_document_totals(
        [
            VatLine("goods", D(2), D("100.00"), D(0), category=category),
            VatLine("other goods", D(1), D("50.00"), D(0), category=VatCategory.EXEMPT),
        ],
        "EUR",
    )
    # A group of its own beside the exempt one, with no VAT.
    assert [(g.category, g.base, g.vat) for g in totals.groups] == [
        (VatCategory.EXEMPT, D("50.00"), D(0)),
        (category, D("200.00"), D(0)),
    ]
