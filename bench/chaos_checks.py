"""The chaos run's judge: pure counting over what the run left behind (the database's rows,
the SMTP peer's log, what the drivers were told). No I/O here, so CI tests it
(tests/test_chaos_checks.py) although the chaos run itself is not part of `make test`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

# "INV-2026-00042": the series part ("INV-2026-") and the sequence (42).
_NUMBER = re.compile(r"^(?P<series>.*?)(?P<seq>\d+)$")


def repeated(values: Iterable[str]) -> dict[str, int]:
    """Each non-empty value seen more than once, with how many times."""
    counts = Counter(value for value in values if value)
    return {value: count for value, count in sorted(counts.items()) if count > 1}


def numbering_problems(numbers: Iterable[str]) -> list[str]:
    """Holes and duplicates in document numbers: per series (the number without its trailing
    digits, so a yearly series is its own series) the sequences must be exactly 1..N."""
    per_series: dict[str, list[int]] = defaultdict(list)
    problems: list[str] = []
    for number in numbers:
        match = _NUMBER.match(number)
        if match is None:
            problems.append(f"{number!r}: no sequence number")
            continue
        per_series[match["series"]].append(int(match["seq"]))
    for series, sequences in sorted(per_series.items()):
        counts = Counter(sequences)
        for seq, count in sorted(counts.items()):
            if count > 1:
                problems.append(f"{series}…{seq}: given {count} times")
        missing = sorted(set(range(1, max(counts) + 1)) - set(counts))
        if missing:
            shown = ", ".join(str(seq) for seq in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            problems.append(f"{series}…: {len(missing)} missing ({shown}{more})")
    return problems


def invoices_lost(
    signed_proposals: Iterable[str], invoices_per_proposal: Mapping[str, int]
) -> list[str]:
    """Signed proposals without exactly one invoice (none: lost; several: made twice)."""
    return [
        f"proposal {proposal}: {invoices_per_proposal.get(proposal, 0)} invoices"
        for proposal in sorted(signed_proposals)
        if invoices_per_proposal.get(proposal, 0) != 1
    ]


def not_paid(approved_statuses: Mapping[str, str]) -> list[str]:
    """Approved invoices (invoice id → status) that did not reach paid."""
    return [
        f"invoice {invoice}: {status}"
        for invoice, status in sorted(approved_statuses.items())
        if status != "paid"
    ]


@dataclass(frozen=True)
class Payment:
    """A payments row: the invoice, the provider's payment reference, the amount."""

    invoice_id: str
    reference: str
    amount: Decimal


def payments_counted_twice(payments: Iterable[Payment]) -> dict[str, int]:
    """Payment references recorded in more than one row (per invoice and reference)."""
    return repeated(f"{p.invoice_id}/{p.reference}" for p in payments)


def amount_paid_mismatches(
    amount_paid: Mapping[str, Decimal], payments: Iterable[Payment]
) -> list[str]:
    """Invoices whose amount_paid is not the sum of their distinct payments (a reference
    counted once, whatever rows repeat it)."""
    distinct: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for payment in payments:
        distinct[payment.invoice_id].setdefault(payment.reference, payment.amount)
    problems = []
    for invoice in sorted(set(amount_paid) | set(distinct)):
        paid = amount_paid.get(invoice, Decimal(0))
        expected = sum(distinct.get(invoice, {}).values(), Decimal(0))
        if paid != expected:
            problems.append(f"invoice {invoice}: amount_paid {paid}, distinct payments {expected}")
    return problems


def payments_lost(acknowledged: Mapping[str, str], payments: Iterable[Payment]) -> list[str]:
    """Payments the webhook acknowledged as recorded (reference → invoice id) that have no
    row: money the provider was told we have, missing from the books."""
    recorded = {(p.invoice_id, p.reference) for p in payments}
    return [
        f"invoice {invoice}: payment {reference} acknowledged, not recorded"
        for reference, invoice in sorted(acknowledged.items())
        if (invoice, reference) not in recorded
    ]


@dataclass(frozen=True)
class Check:
    """One judged count: zero passes."""

    label: str
    problems: list[str]

    @property
    def count(self) -> int:
        return len(self.problems)

    @property
    def verdict(self) -> str:
        return "PASS" if not self.problems else "FAIL"


def duplicate_problems(counts: Mapping[str, int], what: str) -> list[str]:
    return [f"{what} {value}: {count} times" for value, count in counts.items()]


def keys_accepted_twice(
    accepted: Iterable[tuple[str, float]], attempts: Mapping[str, int]
) -> list[str]:
    """Outbox keys the SMTP peer accepted more than once (key, seconds into the run), each
    with when it was accepted and its outbox row's attempts: which fault it followed."""
    times: dict[str, list[float]] = defaultdict(list)
    for key, at in accepted:
        if key:
            times[key].append(round(at, 1))
    return [
        f"X-Q2C-Key {key}: {len(at)} times (accepted at {at} s; outbox attempts "
        f"{attempts.get(key)})"
        for key, at in sorted(times.items())
        if len(at) > 1
    ]
