"""Pure rules for documents' lines: which VAT rates a seller may use on a day, and the lines
an invoice made from a contract gets.

Rates are checked against `domain.vat`'s table for the seller's country on the document's
date (a proposal's creation or send day, an invoice's draft day, then its issue day). A
seller in a country the table does not cover may use any rate from 0 to below 100 %: q2c
cannot know that country's law, and the line still has to be consistent (a rate above 0 for
a standard or reduced line, 0 for every other category).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from domain.errors import InvalidInput
from domain.money import ZERO, Line, MoneyError, plain_decimal
from domain.vat import VAT_RATES, VatCategory, VatLine, check_rate, line_category

COUNTRIES_WITH_RATES = frozenset(rate.country for rate in VAT_RATES)


@dataclass(frozen=True)
class DocumentLine(VatLine):
    """A line as proposals, invoices and contracts store it: with its VAT category (None:
    the rule) and the legal basis an exempt line cites in its mention."""

    legal_basis: str = ""


def vat_category(line: Line) -> VatCategory:
    """The line's category, as given or by the rule (standard above 0 %, zero at 0 %)."""
    return line_category(line)


def check_line_rate(country: str, day: date, line: Line) -> None:
    """InvalidInput ("vat_rate: ...") unless the line's rate and category are valid for a
    seller in ``country`` on ``day``.

    In a country with a table, a standard or reduced line is matched by its rate alone (the
    table's standard / reduced split changes neither the mention nor the e-invoice code),
    and a 0 % line by its category too: a Romanian invoice has no plain "zero" rate, so a
    0 % line there must say it is exempt, reverse charge or outside the scope of VAT.
    """
    category = line_category(line)
    if category.charges_vat and line.vat_rate <= ZERO:
        raise MoneyError(f"vat_rate: a {category.value} line needs a rate above 0 %")
    if not category.charges_vat and line.vat_rate != ZERO:
        raise MoneyError(f"vat_rate: a {category.value} line has 0 % VAT")
    code = country.strip().upper()
    if code not in COUNTRIES_WITH_RATES:
        return
    if category.charges_vat:
        row = check_rate(code, day, line.vat_rate)
        if not row.category.charges_vat:  # pragma: no cover - rates above 0 always charge
            raise InvalidInput(f"vat_rate: {plain_decimal(line.vat_rate)} % charges no VAT")
    else:
        check_rate(code, day, line.vat_rate, category)


def check_line_rates(country: str, day: date, lines: Sequence[Line], field: str = "lines") -> None:
    """Every line checked with `check_line_rate`; the error names the line:
    ``lines[2].vat_rate: 19 % is not a RO VAT rate on 2026-11-23 (...)``."""
    for index, line in enumerate(lines):
        try:
            check_line_rate(country, day, line)
        except InvalidInput as refused:
            raise type(refused)(f"{field}[{index}].{refused}") from refused


def contract_invoice_lines(
    defaults: Sequence[DocumentLine], quantities: Sequence[Decimal] | None
) -> list[DocumentLine]:
    """The lines of an invoice made from a contract: its default lines, with the quantities
    given for this invoice (one per default line, in order; 0 leaves that line out: a rate
    not used this time)."""
    if quantities is None:
        return list(defaults)
    if len(quantities) != len(defaults):
        raise InvalidInput(
            f"quantities: give one quantity per contract line ({len(defaults)}), "
            f"not {len(quantities)}"
        )
    chosen = []
    for index, (line, quantity) in enumerate(zip(defaults, quantities, strict=True)):
        if quantity < ZERO:
            raise InvalidInput(f"quantities[{index}]: must not be negative")
        if quantity > ZERO:
            chosen.append(replace(line, quantity=quantity))
    if not chosen:
        raise InvalidInput("quantities: at least one line needs a quantity above 0")
    return chosen


def check_exchange_rate(
    seller_country: str, currency: str, exchange_rate: Decimal | None, *, required: bool
) -> None:
    """A Romanian seller's invoice in another currency records the exchange rate (lei per
    unit) its VAT is shown in RON at; others record none. ``required``: at approval."""
    foreign_ro = seller_country.strip().upper() == "RO" and currency != "RON"
    if exchange_rate is None:
        if required and foreign_ro:
            raise InvalidInput(
                f"exchange_rate: a Romanian invoice in {currency} needs the exchange rate "
                f"(lei per {currency}) its VAT is shown in RON at; set it on the invoice "
                "(PATCH exchange_rate) and approve again"
            )
        return
    if not foreign_ro:
        raise InvalidInput(
            "exchange_rate: only a Romanian seller's invoice in a currency other than RON "
            "records an exchange rate"
        )
    if not exchange_rate.is_finite() or exchange_rate <= ZERO:
        raise InvalidInput("exchange_rate: must be a positive decimal (lei per unit)")
