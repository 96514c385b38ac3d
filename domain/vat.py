"""VAT as data: rates per country with validity dates, categories with their legal mentions,
and document totals with gross prices, document discounts and VAT shown in RON.

Rates change by law on a known day (Romania on 2025-08-01, Russia on 2026-01-01), and an
invoice must use the rates of its own date, so a rate is a row with ``valid_from`` and
``valid_until``, never a constant in code. A new law is a new row.

The totals here build on `domain.money` (`Line`, `line_net`, `round_money`) and leave
`compute_totals` as it is: `compute_document_totals` with net prices and no document
discount gives the same subtotal, VAT and total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from domain.errors import InvalidInput
from domain.i18n import pick_locale
from domain.money import (
    HUNDRED,
    ZERO,
    Line,
    MoneyError,
    Totals,
    VatGroup,
    minor_units,
    plain_decimal,
    round_money,
    validate_line,
)


class VatCategory(StrEnum):
    """Why a line bears the VAT it bears. Printed mentions and e-invoice codes follow it."""

    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"
    NOT_SUBJECT = "not_subject"  # «Без НДС»: outside VAT, e.g. a seller not registered for it
    # An exempt supply of goods to a VAT-registered business in another EU state (Codul
    # fiscal art. 294 (2) a); Directive 2006/112/EC art. 138): EN 16931 category K.
    INTRA_COMMUNITY = "intra_community"

    @property
    def en16931_code(self) -> str:
        """The EN 16931 / UNCL5305 VAT category code an e-invoice (RO e-Factura) uses."""
        return _EN16931_CODES[self]

    @property
    def charges_vat(self) -> bool:
        """Standard and reduced lines carry a rate above 0; every other category has 0 %."""
        return self in (VatCategory.STANDARD, VatCategory.REDUCED)


_CATEGORY_ORDER = list(VatCategory)

_EN16931_CODES = {
    VatCategory.STANDARD: "S",
    VatCategory.REDUCED: "S",  # EN 16931 has no separate code for a lower rate
    VatCategory.ZERO: "Z",
    VatCategory.EXEMPT: "E",
    VatCategory.REVERSE_CHARGE: "AE",
    VatCategory.NOT_SUBJECT: "O",
    VatCategory.INTRA_COMMUNITY: "K",
}


@dataclass(frozen=True)
class VatRate:
    """One rate of one country for a span of days (both ends included; None = open)."""

    country: str
    rate: Decimal
    category: VatCategory
    valid_from: date | None
    valid_until: date | None
    note: str = ""

    def applies_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


D = Decimal
_S, _R = VatCategory.STANDARD, VatCategory.REDUCED
_RO_NEW = date(2025, 8, 1)  # Legea 141/2025: 21 % and 11 % from 1 August 2025
_RO_OLD_END = date(2025, 7, 31)
_RO_TABLE_START = date(2017, 1, 1)  # the 19 % standard rate; earlier days are not covered
_RU_NEW = date(2026, 1, 1)  # 22 % from 1 January 2026
_RU_OLD_END = date(2025, 12, 31)
_RU_TABLE_START = date(2019, 1, 1)  # the 20 % standard rate; earlier days are not covered
_RU_USN = date(2025, 1, 1)  # 5 % and 7 % for УСН taxpayers, art. 164 p. 8 НК РФ

VAT_RATES: tuple[VatRate, ...] = (
    # Romania (Codul fiscal art. 291).
    VatRate("RO", D(21), _S, _RO_NEW, None),
    VatRate("RO", D(11), _R, _RO_NEW, None),
    VatRate("RO", D(19), _S, _RO_TABLE_START, _RO_OLD_END),
    VatRate("RO", D(9), _R, _RO_TABLE_START, _RO_OLD_END),
    VatRate("RO", D(5), _R, _RO_TABLE_START, _RO_OLD_END),
    VatRate("RO", D(0), VatCategory.EXEMPT, _RO_TABLE_START, None),
    VatRate("RO", D(0), VatCategory.REVERSE_CHARGE, _RO_TABLE_START, None),
    VatRate("RO", D(0), VatCategory.NOT_SUBJECT, _RO_TABLE_START, None),
    VatRate("RO", D(0), VatCategory.INTRA_COMMUNITY, _RO_TABLE_START, None, "art. 294 Cod fiscal"),
    # Russia (НК РФ art. 164).
    VatRate("RU", D(22), _S, _RU_NEW, None),
    VatRate("RU", D(20), _S, _RU_TABLE_START, _RU_OLD_END),
    VatRate("RU", D(10), _R, _RU_TABLE_START, None),
    VatRate("RU", D(7), _R, _RU_USN, None, "УСН, art. 164 p. 8 НК РФ"),
    VatRate("RU", D(5), _R, _RU_USN, None, "УСН, art. 164 p. 8 НК РФ"),
    VatRate("RU", D(0), VatCategory.ZERO, _RU_TABLE_START, None),
    VatRate("RU", D(0), VatCategory.EXEMPT, _RU_TABLE_START, None, "art. 149 НК РФ"),
    VatRate("RU", D(0), VatCategory.NOT_SUBJECT, _RU_TABLE_START, None, "«Без НДС»"),
)


def _country(country: str) -> str:
    code = country.strip().upper()
    if not any(rate.country == code for rate in VAT_RATES):
        known = ", ".join(sorted({rate.country for rate in VAT_RATES}))
        raise InvalidInput(f"country: no VAT rates are recorded for {country!r} (only {known})")
    return code


def rates_on(country: str, day: date) -> list[VatRate]:
    """The rates of ``country`` that apply to an invoice dated ``day``, highest first."""
    code = _country(country)
    valid = [rate for rate in VAT_RATES if rate.country == code and rate.applies_on(day)]
    return sorted(valid, key=lambda rate: (-rate.rate, _CATEGORY_ORDER.index(rate.category)))


def check_rate(
    country: str, day: date, rate: Decimal, category: VatCategory | None = None
) -> VatRate:
    """The table row for ``rate`` (and ``category`` if given) on ``day``, or InvalidInput.

    Without a category, 0 % means the first 0 % row (for RO: exempt), so pass the category
    when it matters for the mention.
    """
    valid = rates_on(country, day)
    for row in valid:
        if row.rate == rate and (category is None or row.category == category):
            return row
    offered = (
        ", ".join(f"{plain_decimal(row.rate)} % ({row.category.value})" for row in valid) or "none"
    )
    wanted = f"{plain_decimal(rate)} %" + (f" ({category.value})" if category else "")
    raise InvalidInput(
        f"vat_rate: {wanted} is not a {country.strip().upper()} VAT rate on "
        f"{day.isoformat()} (valid then: {offered})"
    )


# --- legal mentions ------------------------------------------------------------------------

_MENTIONS: dict[str, dict[VatCategory, str]] = {
    "ro": {
        VatCategory.ZERO: "TVA 0%",
        VatCategory.EXEMPT: "Scutit de TVA",
        VatCategory.REVERSE_CHARGE: "Taxare inversă",
        VatCategory.NOT_SUBJECT: "Operațiune în afara sferei de aplicare a TVA",
        VatCategory.INTRA_COMMUNITY: "Livrare intracomunitară scutită de TVA",
    },
    "ru": {
        VatCategory.ZERO: "НДС 0 %",
        VatCategory.EXEMPT: "Без налога (НДС)",
        VatCategory.REVERSE_CHARGE: "НДС исчисляется налоговым агентом",
        VatCategory.NOT_SUBJECT: "Без НДС",
        VatCategory.INTRA_COMMUNITY: "Внутрисоюзная поставка, освобождена от НДС",
    },
    "en": {
        VatCategory.ZERO: "Zero-rated",
        VatCategory.EXEMPT: "VAT exempt",
        VatCategory.REVERSE_CHARGE: "Reverse charge",
        VatCategory.NOT_SUBJECT: "Not subject to VAT",
        VatCategory.INTRA_COMMUNITY: "Intra-community supply, exempt from VAT",
    },
}


def legal_mention(category: VatCategory, locale: str, legal_basis: str | None = None) -> str | None:
    """The mention a line of ``category`` carries on a document in ``locale``, or None.

    Standard and reduced lines need none. An exemption must cite the provision it rests on
    (Codul fiscal art. 319 (20); Directive 2006/112/EC art. 226 (11)), and that depends on
    the supply (art. 292 for activities of public interest, art. 294 for exports, ...), so
    the operator supplies it as ``legal_basis``; the mention then reads
    "Scutit de TVA conform art. 292 alin. (2) lit. a) din Codul fiscal" or
    "VAT exempt (Article 135(1)(g) of Directive 2006/112/EC)".
    """
    mention = _MENTIONS[pick_locale(locale)].get(category)
    if mention is None or not legal_basis or not legal_basis.strip():
        return mention
    if pick_locale(locale) == "ro":
        return f"{mention} conform {legal_basis.strip()}"
    return f"{mention} ({legal_basis.strip()})"


# --- gross prices, document discounts, totals ----------------------------------------------


@dataclass(frozen=True)
class VatLine(Line):
    """A `Line` that also says which VAT category it falls in.

    A plain `Line` works too: its category is standard above 0 % and zero-rated at 0 %.
    Exempt, reverse-charge and not-subject lines need a `VatLine`, since they also have
    0 % but print a different mention and form a separate VAT breakdown.
    """

    category: VatCategory | None = None


def line_category(line: Line) -> VatCategory:
    category = line.category if isinstance(line, VatLine) else None
    if category is not None:
        return category
    return VatCategory.STANDARD if line.vat_rate > ZERO else VatCategory.ZERO


def _validate_vat_line(line: Line) -> None:
    validate_line(line)
    category = line_category(line)
    if category.charges_vat and line.vat_rate == ZERO:
        raise MoneyError(f"vat_rate: a {category.value} line needs a rate above 0 %")
    if not category.charges_vat and line.vat_rate != ZERO:
        raise MoneyError(f"vat_rate: a {category.value} line has 0 % VAT")


def _check_percent(value: Decimal, field: str) -> None:
    if not ZERO <= value <= HUNDRED:
        raise MoneyError(f"{field}: must be a percentage from 0 to 100")


def net_from_gross(gross_unit_price: Decimal, rate: Decimal, currency: str) -> Decimal:
    """A price without VAT from a price with VAT: gross × 100 / (100 + rate), half-up.

    For showing a unit price without VAT (a Romanian invoice must) when prices were
    entered with VAT. Totals are not built from it: see `compute_document_totals`.
    """
    if not ZERO <= rate < HUNDRED:
        raise MoneyError("vat_rate: must be a percentage from 0 to below 100")
    return round_money(gross_unit_price * HUNDRED / (HUNDRED + rate), currency)


def vat_in_gross(gross: Decimal, rate: Decimal, currency: str) -> Decimal:
    """The VAT contained in a gross amount: gross × rate / (100 + rate), half-up."""
    return round_money(gross * rate / (HUNDRED + rate), currency)


@dataclass(frozen=True)
class DocumentVatGroup:
    """The VAT breakdown for one (rate, category): EN 16931 BG-23.

    ``lines_net`` is the sum of the lines' nets, ``discount`` the document discount on this
    group (net, an EN 16931 document-level allowance), ``base = lines_net - discount`` the
    taxable amount and ``vat`` the VAT on it.
    """

    rate: Decimal
    category: VatCategory
    lines_net: Decimal
    discount: Decimal
    base: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.base + self.vat


@dataclass(frozen=True)
class DocumentTotals:
    """Everything a document prints about money.

    ``line_amounts`` are the line values after line discounts as entered (gross when
    ``prices_include_vat``); ``line_nets`` the same lines without VAT, which add up to the
    groups' ``lines_net`` exactly.
    """

    currency: str
    prices_include_vat: bool
    document_discount_percent: Decimal
    line_amounts: tuple[Decimal, ...]
    line_nets: tuple[Decimal, ...]
    groups: tuple[DocumentVatGroup, ...]
    lines_net: Decimal
    discount: Decimal
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal

    def as_totals(self) -> Totals:
        """The figures in `domain.money.Totals` form, for code that stores or prints those."""
        return Totals(
            subtotal=self.subtotal,
            vat_total=self.vat_total,
            total=self.total,
            vat_groups=tuple(VatGroup(g.rate, g.base, g.vat) for g in self.groups),
        )

    def legal_mentions(self, locale: str) -> list[str]:
        """The distinct mentions the document's categories need, in group order."""
        mentions: list[str] = []
        for group in self.groups:
            mention = legal_mention(group.category, locale)
            if mention is not None and mention not in mentions:
                mentions.append(mention)
        return mentions


def _canonical_rate(rate: Decimal) -> Decimal:
    """21.00 and 21 are one group; 20 stays "20" (``normalize`` alone would give 2E+1)."""
    normal = rate.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _line_amount(line: Line, currency: str) -> Decimal:
    """quantity × unit price less the line discount, half-up to the minor unit (as
    `domain.money.line_net`, whether the price is net or gross)."""
    before_discount = line.quantity * line.unit_price
    return round_money(
        before_discount - before_discount * line.discount_percent / HUNDRED, currency
    )


def _spread_nets(
    grosses: list[Decimal], rate: Decimal, target: Decimal, currency: str
) -> list[Decimal]:
    """Each gross line's net, rounded, then nudged by one minor unit at a time on the lines
    whose rounding moved them most, so that they add up to ``target`` exactly."""
    step = Decimal(1).scaleb(-minor_units(currency))
    exact = [gross * HUNDRED / (HUNDRED + rate) for gross in grosses]
    nets = [round_money(value, currency) for value in exact]
    difference = target - sum(nets, ZERO)
    direction = step if difference > ZERO else -step
    # Lines rounded down the most get the extra unit first (or up the most, to take one off).
    order = sorted(
        range(len(nets)), key=lambda i: (nets[i] - exact[i]) * (1 if difference > 0 else -1)
    )
    for index in order[: int(abs(difference) / step)]:
        nets[index] += direction
    return nets


def compute_document_totals(
    lines: Sequence[Line],
    currency: str,
    *,
    prices_include_vat: bool = False,
    document_discount_percent: Decimal = ZERO,
) -> DocumentTotals:
    """Totals of a document whose prices are net or gross, with an optional document discount.

    Per line: quantity × unit price less the line discount, rounded half-up to the
    currency's minor unit. Lines are grouped by (rate, category). Per group:

    - net prices: the document discount is taken off the group's net sum (rounded), and VAT
      is the rate on what is left (rounded), as `domain.money.compute_totals` does;
    - gross prices: the discount is taken off the group's gross sum, the VAT is the part of
      what is left that is VAT (× rate / (100 + rate), rounded) and the base is the rest.
      The client pays exactly the gross prices entered (less the discount), as a receipt
      or a price list promises; base × rate may then differ from the VAT by a minor unit,
      which EN 16931 tolerates (BR-CO-17) and which VAT-inclusive pricing always implies.

    The document discount is a percentage, applied per group before VAT so each group's
    base is right; group discounts are rounded separately.
    """
    _check_percent(document_discount_percent, "document_discount_percent")
    minor_units(currency)
    if not lines:
        raise MoneyError("lines: a document needs at least one line")
    amounts: list[Decimal] = []
    members: dict[tuple[Decimal, VatCategory], list[int]] = {}
    for index, line in enumerate(lines):
        _validate_vat_line(line)
        amounts.append(_line_amount(line, currency))
        key = (_canonical_rate(line.vat_rate), line_category(line))
        members.setdefault(key, []).append(index)

    nets = list(amounts)
    groups: list[DocumentVatGroup] = []
    order = sorted(members, key=lambda key: (-key[0], _CATEGORY_ORDER.index(key[1])))
    for rate, category in order:
        indices = members[rate, category]
        entered = sum((amounts[i] for i in indices), ZERO)
        discount_entered = round_money(entered * document_discount_percent / HUNDRED, currency)
        if prices_include_vat:
            payable = entered - discount_entered
            vat = vat_in_gross(payable, rate, currency)
            base = payable - vat
            lines_net = entered - vat_in_gross(entered, rate, currency)
            for i, net in zip(
                indices,
                _spread_nets([amounts[i] for i in indices], rate, lines_net, currency),
                strict=True,
            ):
                nets[i] = net
        else:
            lines_net = entered
            base = entered - discount_entered
            vat = round_money(base * rate / HUNDRED, currency)
        groups.append(DocumentVatGroup(rate, category, lines_net, lines_net - base, base, vat))

    lines_net_total = sum((g.lines_net for g in groups), ZERO)
    subtotal = sum((g.base for g in groups), ZERO)
    vat_total = sum((g.vat for g in groups), ZERO)
    return DocumentTotals(
        currency=currency,
        prices_include_vat=prices_include_vat,
        document_discount_percent=document_discount_percent,
        line_amounts=tuple(amounts),
        line_nets=tuple(nets),
        groups=tuple(groups),
        lines_net=lines_net_total,
        discount=lines_net_total - subtotal,
        subtotal=subtotal,
        vat_total=vat_total,
        total=subtotal + vat_total,
    )


# --- VAT in RON ----------------------------------------------------------------------------


class _HasRateAndVat(Protocol):
    @property
    def rate(self) -> Decimal: ...

    @property
    def vat(self) -> Decimal: ...


@dataclass(frozen=True)
class RonVatGroup:
    rate: Decimal
    vat: Decimal
    vat_ron: Decimal


@dataclass(frozen=True)
class RonVat:
    """The VAT of a foreign-currency invoice in lei, as a Romanian invoice must show it."""

    exchange_rate: Decimal
    groups: tuple[RonVatGroup, ...]
    vat_total_ron: Decimal


def vat_in_ron(groups: Iterable[_HasRateAndVat], exchange_rate: Decimal) -> RonVat:
    """Each group's VAT × the exchange rate recorded on the invoice (lei per unit of the
    invoice currency), rounded half-up to bani; the total is the sum of those, so the
    printed lines add up to the printed total."""
    if isinstance(exchange_rate, float) or not exchange_rate.is_finite() or exchange_rate <= 0:
        raise MoneyError("exchange_rate: must be a positive decimal (lei per unit)")
    converted = tuple(
        RonVatGroup(g.rate, g.vat, round_money(g.vat * exchange_rate, "RON")) for g in groups
    )
    return RonVat(
        exchange_rate=exchange_rate,
        groups=converted,
        vat_total_ron=sum((g.vat_ron for g in converted), ZERO),
    )
