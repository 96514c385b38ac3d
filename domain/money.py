"""Money: Decimal amounts in a currency's minor unit, line nets and VAT per rate group.

Line nets are rounded half-up to the minor unit; VAT is computed once per rate on the
sum of the nets at that rate (EN 16931), never summed from per-line VAT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from domain.errors import InvalidInput

HUNDRED = Decimal(100)
ZERO = Decimal(0)


class MoneyError(InvalidInput):
    """An amount, quantity, rate or currency that cannot be used."""


def minor_units(currency: str) -> int:
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise MoneyError(f"unknown currency {currency!r}")
    return int(get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def parse_decimal(value: str | int | Decimal, field: str) -> Decimal:
    """A decimal from its string form; floats are refused so no binary fraction sneaks in."""
    if isinstance(value, float):
        raise MoneyError(f"{field}: give amounts as decimal strings, not floats")
    try:
        parsed = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{field}: {value!r} is not a decimal number") from exc
    if not parsed.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    return parsed


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    unit: str = ""
    discount_percent: Decimal = ZERO


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    vat_groups: tuple[VatGroup, ...]


def validate_line(line: Line) -> None:
    if not line.description.strip():
        raise MoneyError("description: must not be empty")
    if line.quantity <= ZERO:
        raise MoneyError("quantity: must be greater than zero")
    if line.unit_price < ZERO:
        raise MoneyError("unit_price: must not be negative")
    if not ZERO <= line.vat_rate < HUNDRED:
        raise MoneyError("vat_rate: must be a percentage from 0 to below 100")
    if not ZERO <= line.discount_percent <= HUNDRED:
        raise MoneyError("discount_percent: must be a percentage from 0 to 100")


def line_net(line: Line, currency: str) -> Decimal:
    gross_before_discount = line.quantity * line.unit_price
    discount = gross_before_discount * line.discount_percent / HUNDRED
    return round_money(gross_before_discount - discount, currency)


def compute_totals(lines: Iterable[Line], currency: str) -> Totals:
    bases: dict[Decimal, Decimal] = {}
    for line in lines:
        validate_line(line)
        rate = line.vat_rate.normalize()
        bases[rate] = bases.get(rate, ZERO) + line_net(line, currency)
    groups = tuple(
        VatGroup(rate=rate, base=base, vat=round_money(base * rate / HUNDRED, currency))
        for rate, base in sorted(bases.items(), reverse=True)
    )
    subtotal = sum((group.base for group in groups), ZERO)
    vat_total = sum((group.vat for group in groups), ZERO)
    return Totals(
        subtotal=round_money(subtotal, currency),
        vat_total=round_money(vat_total, currency),
        total=round_money(subtotal + vat_total, currency),
        vat_groups=groups,
    )


def plain_decimal(value: Decimal) -> str:
    """10.0000 as "10", 20 as "20", 0.5000 as "0.5": never scientific notation."""
    return f"{value.normalize():f}"


def amount_due(total: Decimal, paid: Decimal) -> Decimal:
    """What the client still owes; an over-payment leaves nothing due (the excess is credit)."""
    return max(total - paid, ZERO)
