"""Credit notes (storno): which voids need one, and its figures from the original's.

A credit note cancels an issued invoice in full. Its amounts are the original's totals
negated, group by group, never recomputed from negative lines: a recomputation could round
differently (VAT per group, gross prices) and leave a cent between the two documents, and
the VAT rules refuse negative quantities anyway. Lines are shown with the quantity and the
net negated and the unit price as it was, the way a Romanian «factură de stornare» and a
Russian «сторно» print them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from domain.money import ZERO, plain_decimal
from domain.status import InvoiceStatus
from domain.vat import DocumentTotals


class CreditNoteMismatch(ValueError):
    """The negated groups do not add up to minus the original's stored totals."""


def needs_credit_note(status: InvoiceStatus | str, number: str | None) -> bool:
    """A voided invoice that had a number was issued (numbered at approval, then emailed):
    it is cancelled by a credit note. One voided in review never had a number: nothing to
    cancel, no credit note."""
    return InvoiceStatus(status) == InvoiceStatus.VOID and number is not None


class GroupLike(Protocol):
    @property
    def rate(self) -> Decimal: ...

    @property
    def base(self) -> Decimal: ...

    @property
    def vat(self) -> Decimal: ...


@dataclass(frozen=True)
class CreditGroup:
    """One VAT group of a credit note: the original's group with base and VAT negated."""

    rate: Decimal
    base: Decimal
    vat: Decimal
    category: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "rate": plain_decimal(self.rate),
            "category": self.category,
            "base": str(self.base),
            "vat": str(self.vat),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreditGroup:
        return cls(
            rate=Decimal(data["rate"]),
            base=Decimal(data["base"]),
            vat=Decimal(data["vat"]),
            category=str(data.get("category") or ""),
        )


@dataclass(frozen=True)
class CreditFigures:
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    groups: tuple[CreditGroup, ...]


def negate_totals(
    groups: Iterable[GroupLike],
    *,
    original_subtotal: Decimal,
    original_vat_total: Decimal,
    original_total: Decimal,
) -> CreditFigures:
    """The credit note's figures: each of the original's VAT groups negated, and totals of
    exactly minus the original's stored totals. The groups must add up to those totals (they
    were computed together); if they do not, the original was stored inconsistently and no
    credit note is made from it."""
    negated = tuple(
        CreditGroup(
            rate=group.rate,
            base=-group.base,
            vat=-group.vat,
            category=str(getattr(group, "category", "") or ""),
        )
        for group in groups
    )
    subtotal, vat_total, total = -original_subtotal, -original_vat_total, -original_total
    base_sum = sum((g.base for g in negated), ZERO)
    vat_sum = sum((g.vat for g in negated), ZERO)
    if base_sum != subtotal or vat_sum != vat_total or subtotal + vat_total != total:
        raise CreditNoteMismatch(
            f"the original's VAT groups add up to {-base_sum} + {-vat_sum}, its totals are "
            f"{original_subtotal} + {original_vat_total} = {original_total}"
        )
    return CreditFigures(subtotal=subtotal, vat_total=vat_total, total=total, groups=negated)


@dataclass(frozen=True)
class CreditLine:
    quantity: Decimal
    unit_price: Decimal
    net: Decimal


def negate_line(quantity: Decimal, unit_price: Decimal, net: Decimal) -> CreditLine:
    """A storno line: the same unit price, the quantity and the value with a minus."""
    return CreditLine(quantity=-quantity, unit_price=unit_price, net=-net)


def negate_document_totals(totals: DocumentTotals) -> DocumentTotals:
    """The original's document totals with every amount negated — line values and nets,
    each group's lines net, discount, base and VAT, and the totals — so a document laid out
    from them (VAT breakdown, discount line, VAT in lei, amount in words) prints exactly
    minus what the original printed. Rates, categories and the pricing mode stay."""
    return replace(
        totals,
        line_amounts=tuple(-amount for amount in totals.line_amounts),
        line_nets=tuple(-net for net in totals.line_nets),
        groups=tuple(
            replace(
                group,
                lines_net=-group.lines_net,
                discount=-group.discount,
                base=-group.base,
                vat=-group.vat,
            )
            for group in totals.groups
        ),
        lines_net=-totals.lines_net,
        discount=-totals.discount,
        subtotal=-totals.subtotal,
        vat_total=-totals.vat_total,
        total=-totals.total,
    )
