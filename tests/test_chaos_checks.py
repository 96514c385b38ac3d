"""The chaos run's judge (bench.chaos_checks): `make chaos` is not part of `make test`, so
its counting is tested here: a hole, a duplicate, a lost or doubled invoice, a payment
counted twice are each seen, and a clean run passes."""

from __future__ import annotations

from decimal import Decimal

from bench.chaos_checks import (
    Check,
    Payment,
    amount_paid_mismatches,
    duplicate_problems,
    invoices_lost,
    keys_accepted_twice,
    not_paid,
    numbering_problems,
    payments_counted_twice,
    payments_lost,
    repeated,
)


def test_consecutive_numbers_per_series_pass() -> None:
    numbers = ["INV-2026-00002", "INV-2026-00001", "INV-2026-00003", "OF-2026-00001"]
    assert numbering_problems(numbers) == []
    assert numbering_problems([]) == []


def test_a_hole_in_the_numbering_is_named() -> None:
    problems = numbering_problems(["INV-2026-00001", "INV-2026-00002", "INV-2026-00004"])
    assert problems == ["INV-2026-…: 1 missing (3)"]


def test_numbering_that_does_not_start_at_one_has_holes() -> None:
    assert numbering_problems(["INV-2026-00002"]) == ["INV-2026-…: 1 missing (1)"]


def test_a_number_given_twice_is_named() -> None:
    problems = numbering_problems(["INV-2026-00001", "INV-2026-00002", "INV-2026-00002"])
    assert problems == ["INV-2026-…2: given 2 times"]


def test_each_series_and_year_counts_on_its_own() -> None:
    numbers = ["INV-2025-00001", "INV-2025-00002", "INV-2026-00001", "CN-2026-00001"]
    assert numbering_problems(numbers) == []
    problems = numbering_problems(["INV-2025-00001", "INV-2026-00002"])
    assert problems == ["INV-2026-…: 1 missing (1)"]


def test_many_holes_are_summarised() -> None:
    problems = numbering_problems(["A-1", "A-30"])
    assert len(problems) == 1
    assert problems[0].startswith("A-…: 28 missing (2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 18 more)")


def test_a_number_without_a_sequence_is_a_problem() -> None:
    assert numbering_problems(["DRAFT"]) == ["'DRAFT': no sequence number"]


def test_repeated_message_ids_and_keys() -> None:
    ids = ["<a@q2c>", "<b@q2c>", "<a@q2c>", "", "", "<c@q2c>", "<a@q2c>"]
    assert repeated(ids) == {"<a@q2c>": 3}, "empty values are not messages"
    assert repeated(["<a@q2c>", "<b@q2c>"]) == {}
    assert duplicate_problems({"<a@q2c>": 3}, "Message-ID") == ["Message-ID <a@q2c>: 3 times"]


def test_every_signed_proposal_has_exactly_one_invoice() -> None:
    assert invoices_lost(["p1", "p2"], {"p1": 1, "p2": 1}) == []
    assert invoices_lost(["p1", "p2", "p3"], {"p1": 1, "p3": 2, "unsigned": 1}) == [
        "proposal p2: 0 invoices",
        "proposal p3: 2 invoices",
    ]


def test_every_approved_invoice_reaches_paid() -> None:
    assert not_paid({"i1": "paid", "i2": "paid"}) == []
    assert not_paid({"i1": "paid", "i2": "partially_paid", "i3": "sent"}) == [
        "invoice i2: partially_paid",
        "invoice i3: sent",
    ]


def test_a_payment_recorded_twice_is_counted() -> None:
    once = [Payment("i1", "PAY-1", Decimal("40.00")), Payment("i1", "PAY-2", Decimal("60.00"))]
    assert payments_counted_twice(once) == {}
    twice = [*once, Payment("i1", "PAY-1", Decimal("40.00"))]
    assert payments_counted_twice(twice) == {"i1/PAY-1": 2}
    # The same reference on two invoices is two payments, not one counted twice.
    assert payments_counted_twice([*once, Payment("i2", "PAY-1", Decimal("40.00"))]) == {}


def test_amount_paid_is_the_sum_of_distinct_payments() -> None:
    payments = [
        Payment("i1", "PAY-1", Decimal("40.00")),
        Payment("i1", "PAY-2", Decimal("60.00")),
        Payment("i1", "PAY-1", Decimal("40.00")),
    ]
    assert amount_paid_mismatches({"i1": Decimal("100.00"), "i2": Decimal(0)}, payments) == []
    assert amount_paid_mismatches({"i1": Decimal("140.00")}, payments) == [
        "invoice i1: amount_paid 140.00, distinct payments 100.00"
    ]
    assert amount_paid_mismatches({"i2": Decimal("5.00")}, []) == [
        "invoice i2: amount_paid 5.00, distinct payments 0"
    ]


def test_an_acknowledged_payment_must_have_its_row() -> None:
    payments = [Payment("i1", "PAY-1", Decimal("40.00"))]
    assert payments_lost({"PAY-1": "i1"}, payments) == []
    assert payments_lost({"PAY-1": "i1", "PAY-2": "i1"}, payments) == [
        "invoice i1: payment PAY-2 acknowledged, not recorded"
    ]


def test_a_check_passes_only_at_zero() -> None:
    assert Check("x", []).verdict == "PASS"
    failed = Check("x", ["one"])
    assert (failed.count, failed.verdict) == (1, "FAIL")


def test_a_key_accepted_twice_is_named_with_its_times_and_attempts() -> None:
    accepted = [("proposal:p1:proposal:1", 10.04), ("invoice:i1:invoice:1", 12.0)]
    assert keys_accepted_twice(accepted, {}) == []
    accepted += [("proposal:p1:proposal:1", 42.46), ("", 1.0), ("", 2.0)]
    assert keys_accepted_twice(accepted, {"proposal:p1:proposal:1": 2}) == [
        "X-Q2C-Key proposal:p1:proposal:1: 2 times (accepted at [10.0, 42.5] s; outbox attempts 2)"
    ]
