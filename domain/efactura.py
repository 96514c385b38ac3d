"""RO e-Factura: an issued invoice or credit note as UBL 2.1 XML in the CIUS-RO profile.

Pure: the caller (activities) reads the document from the database into an
`EfacturaDocument` and validates the XML this module builds with the official rules
(`activities.efactura_rules`). Amounts are the stored ones, to the cent.

CONTRACT (issue 14): the dataclasses below are the interface between the builder and its
callers; their field names are fixed. `build_xml` is implemented on branch `ubl`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.errors import InvalidInput
from domain.vat import VatCategory

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1"


class DocumentKind(StrEnum):
    INVOICE = "invoice"  # UBL Invoice, type code 380
    CREDIT_NOTE = "credit_note"  # UBL CreditNote, type code 381


class EfacturaError(InvalidInput):
    """The document cannot be expressed in CIUS-RO as it is (e.g. the seller has no
    structured address); the message names the field."""


@dataclass(frozen=True)
class EfacturaAddress:
    street: str
    city: str  # in Bucharest (county RO-B): SECTOR1 … SECTOR6
    postal_code: str
    county: str  # ISO 3166-2 subdivision, e.g. "RO-CJ"; "" outside Romania when unknown
    country: str  # ISO 3166-1 alpha-2, e.g. "RO"


@dataclass(frozen=True)
class EfacturaParty:
    name: str
    # As entered: a Romanian CUI with or without "RO" ("RO12345678", "12345678"), another
    # country's tax number, or "" (a private person without one).
    tax_id: str
    vat_id: str  # an EU VAT id ("RO12345678", "DE123456789") or ""
    registration_number: str  # Reg. Com. ("J40/1234/2020") or ""
    address: EfacturaAddress
    email: str = ""
    phone: str = ""
    # The seller's account the buyer pays to (payment means); "" for a buyer.
    iban: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class EfacturaLine:
    description: str
    quantity: Decimal
    unit: str  # as printed ("h", "buc", "ore", ""); mapped to a UN/ECE Rec. 20 code
    unit_price: Decimal  # net, or gross when the document's prices include VAT
    discount_percent: Decimal
    vat_rate: Decimal
    vat_category: VatCategory | None  # None: standard when the rate is above 0
    legal_basis: str  # the exemption / reverse-charge mention, "" when none
    net_amount: Decimal  # the stored line net, after the line discount


@dataclass(frozen=True)
class EfacturaDocument:
    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date | None
    currency: str  # ISO 4217
    # RON per 1 unit of `currency`; required when the currency is not RON.
    exchange_rate: Decimal | None
    seller: EfacturaParty
    buyer: EfacturaParty
    lines: tuple[EfacturaLine, ...]
    prices_include_vat: bool
    discount_percent: Decimal  # the document discount, 0 when none
    # The stored totals (positive, also for a credit note): the builder checks its own
    # computation gives them to the cent and raises EfacturaError when not.
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    contract_reference: str = ""  # the contract's number or title, "" when none
    notes: str = ""
    # A credit note: the number and issue date of the invoice it cancels.
    billing_reference_number: str = ""
    billing_reference_date: date | None = None


def build_xml(document: EfacturaDocument) -> bytes:
    """The UBL 2.1 CIUS-RO XML of the document, UTF-8 with an XML declaration."""
    raise NotImplementedError("built on branch `ubl` (issue 14)")
