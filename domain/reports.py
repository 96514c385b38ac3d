"""Receivables arithmetic: aging buckets, invoiced vs collected per month, DSO.

Pure functions over plain rows, so the figures can be checked against sums computed
independently from the same data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)
AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class OpenItem:
    client_id: str
    client_name: str
    currency: str
    due_date: date
    amount_due: Decimal


def aging_bucket(due_date: date, as_of: date) -> str:
    days_late = (as_of - due_date).days
    if days_late <= 0:
        return "current"
    if days_late <= 30:
        return "1-30"
    if days_late <= 60:
        return "31-60"
    if days_late <= 90:
        return "61-90"
    return "90+"


@dataclass
class AgingRow:
    client_id: str
    client_name: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(AGING_BUCKETS, ZERO))

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


def aging(items: Iterable[OpenItem], as_of: date) -> tuple[list[AgingRow], list[AgingRow]]:
    """(per client and currency, totals per currency): amounts are never mixed across
    currencies."""
    per_client: dict[tuple[str, str], AgingRow] = {}
    totals: dict[str, AgingRow] = {}
    for item in items:
        if item.amount_due <= ZERO:
            continue
        bucket = aging_bucket(item.due_date, as_of)
        row = per_client.setdefault(
            (item.client_id, item.currency),
            AgingRow(item.client_id, item.client_name, item.currency),
        )
        row.buckets[bucket] += item.amount_due
        total = totals.setdefault(item.currency, AgingRow("", "total", item.currency))
        total.buckets[bucket] += item.amount_due
    clients = sorted(per_client.values(), key=lambda r: (r.currency, r.client_name, r.client_id))
    return clients, [totals[currency] for currency in sorted(totals)]


@dataclass(frozen=True)
class MonthFigures:
    month: str
    currency: str
    invoiced: Decimal
    collected: Decimal


def cashflow(
    invoiced: Iterable[tuple[date, str, Decimal]], collected: Iterable[tuple[date, str, Decimal]]
) -> list[MonthFigures]:
    """Invoiced (by issue date) and collected (by payment date) per month and currency."""
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for day, currency, amount in invoiced:
        sums[(day.strftime("%Y-%m"), currency)][0] += amount
    for day, currency, amount in collected:
        sums[(day.strftime("%Y-%m"), currency)][1] += amount
    return [
        MonthFigures(month, currency, figures[0], figures[1])
        for (month, currency), figures in sorted(sums.items())
    ]


def days_sales_outstanding(
    receivables: Decimal, invoiced_in_period: Decimal, period_days: int
) -> Decimal | None:
    """Receivables at the end of the period over what was invoiced in it, in days; None
    when nothing was invoiced (the ratio means nothing then)."""
    if invoiced_in_period <= ZERO or period_days <= 0:
        return None
    return (receivables / invoiced_in_period * period_days).quantize(Decimal("0.1"))
