"""The parties of a document as it was issued (issue 15 point 2).

An operator edits a client (or the company) to correct what the next documents print; a
document already issued keeps the details it was issued with. So when an invoice or a
credit note is numbered, or a proposal sent, the seller's and the buyer's details and the
seller's bank account it prints are stored with it (`IssuedParties`, a jsonb column), and
whatever is rendered from rows later (the hosted page, the signing page, a resend, the
original part of a credit note, the e-Factura XML) lays them over the live rows.

Only the details a document prints or the e-Factura XML reads are kept: the rest of a
client or company row (its id, time zone, reminder settings, series, logo) is not part of
what was issued and stays live. Every kept value is a string, so the JSON round trip is
exact (no Decimal or date to lose on the way).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Self, TypeVar

# What tells one legal person from another: a credit note keeps the invoice's buyer when
# these changed (README, "Documents keep the details they were issued with").
IDENTITY = ("tax_id", "vat_id", "registration_number", "country")

Row = TypeVar("Row")


def _text(row: object, name: str) -> str:
    return str(getattr(row, name, "") or "")


@dataclass(frozen=True, slots=True)
class BuyerDetails:
    name: str = ""
    legal_form: str = ""
    email: str = ""
    country: str = ""
    locale: str = ""
    tax_id: str = ""
    vat_id: str = ""
    registration_number: str = ""
    kpp: str = ""
    address: str = ""
    street: str = ""
    city: str = ""
    postal_code: str = ""
    county: str = ""
    iban: str = ""
    bank_name: str = ""
    bic: str = ""
    bik: str = ""
    settlement_account: str = ""
    correspondent_account: str = ""

    @classmethod
    def of(cls, row: object) -> Self:
        """The details of a client row (db.rows.ClientRow) or anything with those names."""
        return cls(**{f.name: _text(row, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        # Unknown keys (a later shape) are ignored, missing ones read as "".
        return cls(**{f.name: str(data.get(f.name) or "") for f in fields(cls)})

    def over(self, row: Row) -> Row:
        """`row` (a dataclass of the live party) with these details in place of its own."""
        names = {f.name for f in fields(row)}  # type: ignore[arg-type]
        changes = {name: value for name, value in asdict(self).items() if name in names}
        return replace(row, **changes)  # type: ignore[type-var]

    def same_party(self, other: BuyerDetails | SellerDetails) -> bool:
        """The same legal person: no identifier of IDENTITY changed (spaces and case aside)."""
        return all(
            _identifier(getattr(self, name)) == _identifier(getattr(other, name))
            for name in IDENTITY
        )


@dataclass(frozen=True, slots=True)
class SellerDetails(BuyerDetails):
    phone: str = ""
    director_name: str = ""
    accountant_name: str = ""


@dataclass(frozen=True, slots=True)
class BankDetails:
    """The seller's account printed on the document (activities.documents._BANK_FIELDS)."""

    bank_name: str = ""
    iban: str = ""
    bic: str = ""
    settlement_account: str = ""
    bik: str = ""
    correspondent_account: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{f.name: str(data.get(f.name) or "") for f in fields(cls)})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class IssuedParties:
    seller: SellerDetails
    buyer: BuyerDetails
    bank: BankDetails
    version: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, value: str | dict[str, Any]) -> IssuedParties:
        data: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
        return cls(
            seller=SellerDetails.from_dict(data.get("seller") or {}),
            buyer=BuyerDetails.from_dict(data.get("buyer") or {}),
            bank=BankDetails.from_dict(data.get("bank") or {}),
            version=int(data.get("version") or 1),
        )


def parties_of(value: str | dict[str, Any] | None) -> IssuedParties | None:
    """A stored column's parties; None for a draft or a document issued before them."""
    return IssuedParties.from_json(value) if value else None


def _identifier(value: str) -> str:
    return "".join(value.split()).upper()
