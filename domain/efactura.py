"""RO e-Factura: an issued invoice or credit note as UBL 2.1 XML in the CIUS-RO profile.

Pure: the caller (activities) reads the document from the database into an
`EfacturaDocument` and validates the XML this module builds with the official rules
(`activities.efactura_rules`). Amounts are the stored ones, to the cent.

CONTRACT (issue 14): the dataclasses below are the interface between the builder and its
callers; their field names are fixed.

How the document maps onto CIUS-RO, where the rules leave a choice:

- Totals are recomputed with `domain.vat.compute_document_totals` and must equal the
  stored ones; line amounts are the stored line nets (for gross prices, the nets
  `domain.vat` spreads so they add up to each group's net), unit prices are net (a gross
  price through `domain.vat.net_from_gross`, as the PDF prints it).
- Parties: a VAT id (the party's own, or a Romanian CUI written with "RO") goes into
  PartyTaxScheme; the legal id (PartyLegalEntity/CompanyID) is a CUI without "RO" or else
  the Reg. Com.; a Reg. Com. left over goes to the seller's CompanyLegalForm or the
  buyer's PartyIdentification. A buyer with no id at all is a private person without a
  CNP: ANAF's 13 zeros. A document of only "not subject to VAT" lines carries no VAT id
  (BR-O-02).
- Payment: an invoice names credit transfer (code 30) to the seller's IBAN; a credit
  note, whose money goes the other way, names no account and says so in PaymentTerms.
- The document discount is one document-level allowance per VAT group; a line discount a
  line-level allowance. A foreign-currency document states its VAT in RON as the PDF does
  (`domain.vat.vat_in_ron`: per group, half-up to bani, summed).
- Units: see `UNIT_CODES`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain import addresses
from domain.errors import InvalidInput
from domain.money import plain_decimal, round_money
from domain.vat import (
    DocumentTotals,
    VatCategory,
    VatLine,
    compute_document_totals,
    legal_mention,
    line_category,
    net_from_gross,
    vat_in_ron,
)

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
    # When the goods were delivered (BT-72), for an intra-community supply; None: the issue
    # date (an invoice for goods is issued on delivery, Codul fiscal art. 319 (16)).
    delivery_date: date | None = None


# --- UBL 2.1 / CIUS-RO ----------------------------------------------------------------------

_NAMESPACES = {
    DocumentKind.INVOICE: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    DocumentKind.CREDIT_NOTE: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# The county codes CIUS-RO accepts (ISO 3166-2:RO) and Bucharest's sectors, as the
# addresses' own rules keep them: the builder checks again, as old rows may be unstructured.
RO_COUNTIES = frozenset(addresses.RO_COUNTIES)
RO_SECTORS = addresses.SECTORS

# Units as people type them on an invoice → UN/ECE Recommendation 20 codes (BT-130).
# Anything not listed is counted in units: C62 ("one"), which every reader accepts.
#   h, ore, ora, oră, hour(s), hr, ч, час → HUR (hour)
#   buc, bucată, pcs, pc, piece(s), шт → H87 (piece)
#   "" → C62 (one)
#   zi, zile, day(s), дн, день → DAY;  lună, luna, luni, month(s), мес → MON
#   an, ani, year(s), год → ANN;  min, minute → MIN;  kg → KGM;  km → KMT;  m → MTR
UNIT_CODES: dict[str, str] = {
    **dict.fromkeys(("h", "hr", "hrs", "ore", "ora", "oră", "hour", "hours", "ч", "час"), "HUR"),
    **dict.fromkeys(
        ("buc", "buc.", "bucată", "bucata", "pcs", "pc", "piece", "pieces", "шт"), "H87"
    ),
    **dict.fromkeys(("zi", "zile", "day", "days", "дн", "день"), "DAY"),
    **dict.fromkeys(("lună", "luna", "luni", "month", "months", "мес"), "MON"),
    **dict.fromkeys(("an", "ani", "year", "years", "год"), "ANN"),
    **dict.fromkeys(("min", "minute", "minutes"), "MIN"),
    "kg": "KGM",
    "km": "KMT",
    "m": "MTR",
    "": "C62",
}
DEFAULT_UNIT_CODE = "C62"

# CIUS-RO's buyer identifier for a private person who gave no CNP (ANAF: 13 zeros).
PRIVATE_PERSON_ID = "0000000000000"

# The VATEX code (BT-121) each category that needs an exemption reason carries.
_VATEX = {"AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "O": "VATEX-EU-O"}

_ITEM_NAME_MAX = 100  # BR-RO-L1024
_ITEM_DESCRIPTION_MAX = 200  # BR-RO-L212
_LINE_NOTE_MAX = 300  # BR-RO-L303
_NOTE_MAX = 300  # BR-RO-L302
_NOTES_MAX = 20  # BR-RO-A020
_EXEMPTION_MAX = 100  # BR-RO-L1019
_REFERENCE_MAX = 200  # BR-RO-L0302, BR-RO-L156


def unit_code(unit: str) -> str:
    """The UN/ECE Rec. 20 code of a unit as printed (see `UNIT_CODES`)."""
    return UNIT_CODES.get(unit.strip().lower().rstrip("."), DEFAULT_UNIT_CODE)


def ro_county(county: str, field: str) -> str:
    """An ISO 3166-2:RO code from "RO-CJ", "CJ" or the county's name ("Cluj"), as
    domain.addresses accepts it; EfacturaError naming ``field``."""
    try:
        code = addresses.canonical_county("RO", county)
    except InvalidInput:
        code = ""
    if not code:
        raise EfacturaError(
            f"{field}: a Romanian address needs its county as an ISO 3166-2:RO code "
            f"(RO-B for Bucharest, RO-CJ for Cluj, …), not {county!r}"
        )
    return code


def bucharest_sector(city: str, field: str) -> str:
    """SECTOR1 … SECTOR6 from "SECTOR1" or "Sector 1", as domain.addresses accepts it."""
    found = addresses.sector(city)
    if found is None:
        raise EfacturaError(
            f"{field}: a Bucharest address (county RO-B) names its sector, SECTOR1 … SECTOR6"
        )
    return found


@dataclass(frozen=True)
class _Address:
    street: str
    city: str
    postal_code: str
    county: str
    country: str


def normalized_address(address: EfacturaAddress, field: str) -> _Address:
    """The address as CIUS-RO wants it, or EfacturaError naming the missing field: street
    and city always (BR-RO-081/082, 091/092), a Romanian county code (BR-RO-110/111) and a
    Bucharest sector as the city (BR-RO-100/101)."""
    country = address.country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise EfacturaError(f"{field}.country: an ISO 3166-1 alpha-2 code such as RO")
    street = " ".join(address.street.split())
    city = " ".join(address.city.split())
    postal_code = address.postal_code.strip()
    if not street:
        raise EfacturaError(f"{field}.street: e-Factura needs the street (BT-35/BT-50)")
    if len(street) > 150:
        raise EfacturaError(f"{field}.street: at most 150 characters in e-Factura")
    if not city:
        raise EfacturaError(f"{field}.city: e-Factura needs the city (BT-37/BT-52)")
    if len(postal_code) > 20:
        raise EfacturaError(f"{field}.postal_code: at most 20 characters in e-Factura")
    county = address.county.strip()
    if country == "RO":
        county = ro_county(county, f"{field}.county")
        if county == "RO-B":
            city = bucharest_sector(city, f"{field}.city")
    if len(city) > 50:
        raise EfacturaError(f"{field}.city: at most 50 characters in e-Factura")
    return _Address(street, city, postal_code, county, country)


def _compact(identifier: str) -> str:
    return "".join(identifier.split()).upper()


def vat_identifier(party: EfacturaParty) -> str:
    """The party's VAT id (BT-31/BT-48): its own, or a Romanian CUI written with "RO" (which
    is how a Romanian VAT payer's code reads); "" when it has none."""
    if party.vat_id.strip():
        return _compact(party.vat_id)
    tax_id = _compact(party.tax_id)
    return tax_id if re.fullmatch(r"RO\d{2,10}", tax_id) else ""


def _split_text(text: str, limit: int) -> tuple[str, str]:
    """``text`` cut at a word boundary to at most ``limit`` characters, and the rest."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text, ""
    cut = text.rfind(" ", 0, limit + 1)
    if cut <= limit // 2:
        cut = limit
    return text[:cut].rstrip(), text[cut:].strip()


def item_texts(description: str, field: str) -> tuple[str, str, str]:
    """(item name ≤ 100, item description ≤ 200, line note ≤ 300) from a line's text: the
    name is its beginning; a longer text goes whole into the description, or, beyond 200
    characters, continues in the line's note."""
    text = " ".join(description.split())
    name, rest = _split_text(text, _ITEM_NAME_MAX - 1)
    if not rest:
        return name, "", ""
    name = f"{name}…"
    described, note = _split_text(text, _ITEM_DESCRIPTION_MAX)
    if len(note) > _LINE_NOTE_MAX:
        raise EfacturaError(
            f"{field}: at most {_ITEM_DESCRIPTION_MAX + _LINE_NOTE_MAX} characters in e-Factura"
        )
    return name, described, note


def _note_parts(notes: str) -> list[str]:
    parts: list[str] = []
    for paragraph in notes.splitlines():
        rest = " ".join(paragraph.split())
        while rest:
            part, rest = _split_text(rest, _NOTE_MAX)
            parts.append(part)
    return parts


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Xml:
    """Elements named with their UBL prefixes (cac:, cbc:) under a root that declares them;
    ElementTree escapes text and attribute values."""

    def __init__(self, kind: DocumentKind) -> None:
        root_name = "Invoice" if kind is DocumentKind.INVOICE else "CreditNote"
        self.root = ElementTree.Element(
            root_name,
            {"xmlns": _NAMESPACES[kind], "xmlns:cac": _CAC, "xmlns:cbc": _CBC},
        )

    @staticmethod
    def add(
        parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str
    ) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, tag, attributes)
        if text is not None:
            # ElementTree escapes markup but writes control characters, which XML forbids.
            element.text = _NOT_XML.sub("", text)
        return element


@dataclass(frozen=True)
class _Group:
    code: str
    rate: Decimal
    category: VatCategory
    base: Decimal
    vat: Decimal
    discount: Decimal
    exemption_reason: str


def _vat_line(line: EfacturaLine) -> VatLine:
    return VatLine(
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        vat_rate=line.vat_rate,
        unit=line.unit,
        discount_percent=line.discount_percent,
        category=line.vat_category,
    )


def _exemption_reason(category: VatCategory, lines: list[EfacturaLine], field: str) -> str:
    if category.charges_vat or category is VatCategory.ZERO:
        return ""  # BR-S-10, BR-Z-10: no exemption reason
    bases: list[str] = []
    for line in lines:
        basis = " ".join(line.legal_basis.split())
        if basis and basis not in bases:
            bases.append(basis)
    reason = legal_mention(category, "ro", "; ".join(bases)) or ""
    if len(reason) > _EXEMPTION_MAX:
        raise EfacturaError(
            f"{field}: the VAT exemption reason {reason!r} has more than {_EXEMPTION_MAX} "
            "characters, the most e-Factura takes (BR-RO-L1019)"
        )
    return reason


def document_totals(document: EfacturaDocument) -> DocumentTotals:
    """The document's totals computed as `domain.vat` computes the stored ones, or
    EfacturaError when they differ from the stored ones by as much as a cent."""
    try:
        totals = compute_document_totals(
            [_vat_line(line) for line in document.lines],
            document.currency,
            prices_include_vat=document.prices_include_vat,
            document_discount_percent=document.discount_percent,
        )
    except InvalidInput as bad:
        raise EfacturaError(str(bad)) from bad
    for index, (line, net) in enumerate(zip(document.lines, totals.line_nets, strict=True)):
        if line.net_amount != net:
            raise EfacturaError(
                f"lines[{index}].net_amount: the stored {line.net_amount} differs from the "
                f"{net} its quantity, price and discount give"
            )
    for field, stored, computed in (
        ("subtotal", document.subtotal, totals.subtotal),
        ("vat_total", document.vat_total, totals.vat_total),
        ("total", document.total, totals.total),
    ):
        if stored != computed:
            raise EfacturaError(
                f"{field}: the stored {stored} differs from the {computed} the lines give"
            )
    return totals


def _price(price: Decimal) -> str:
    """A unit price as entered, with at least two decimals (450 → "450.00", 7.6453 kept)."""
    text = plain_decimal(price)
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):f}"


def build_xml(document: EfacturaDocument) -> bytes:
    """The UBL 2.1 CIUS-RO XML of the document, UTF-8 with an XML declaration."""
    return _Builder(document).build()


class _Builder:
    def __init__(self, document: EfacturaDocument) -> None:
        self.doc = document
        self.currency = document.currency.strip().upper()
        self.credit = document.kind is DocumentKind.CREDIT_NOTE
        self.xml = _Xml(document.kind)

    # amounts ---------------------------------------------------------------------------

    def _amount(self, parent: ElementTree.Element, tag: str, amount: Decimal) -> None:
        self.xml.add(parent, tag, _money(amount, self.currency), currencyID=self.currency)

    def build(self) -> bytes:
        doc = self.doc
        if not doc.lines:
            raise EfacturaError("lines: a document needs at least one line")
        if not doc.number.strip():
            raise EfacturaError("number: the document has no number yet")
        totals = document_totals(doc)
        groups = self._groups(totals)
        codes = {group.code for group in groups}
        if "O" in codes and len(codes) > 1:
            raise EfacturaError(
                "lines.vat_category: a document with lines not subject to VAT (O) may not "
                "have lines of other VAT categories (BR-O-11 … BR-O-14)"
            )
        ron_vat: Decimal | None = None
        if self.currency != "RON":
            if doc.exchange_rate is None:
                raise EfacturaError(
                    "exchange_rate: an invoice in another currency than RON states its VAT "
                    "in RON too (BT-111), at the invoice's exchange rate"
                )
            try:
                ron_vat = vat_in_ron(totals.groups, doc.exchange_rate).vat_total_ron
            except InvalidInput as bad:
                raise EfacturaError(str(bad)) from bad
        if self.credit and not (
            doc.billing_reference_number.strip() and doc.billing_reference_date is not None
        ):
            raise EfacturaError(
                "billing_reference_number: a credit note names the invoice it cancels, with "
                "its number and date"
            )
        if len(doc.contract_reference.strip()) > _REFERENCE_MAX:
            raise EfacturaError(
                f"contract_reference: at most {_REFERENCE_MAX} characters in e-Factura"
            )
        not_subject = codes == {"O"}
        seller_address = normalized_address(doc.seller.address, "seller.address")
        buyer_address = normalized_address(doc.buyer.address, "buyer.address")
        if "K" in codes and not buyer_address.county:
            raise EfacturaError(
                "buyer.address.county: an intra-community supply names the region it is "
                "delivered to (BT-79, BR-RO-211)"
            )

        root = self.xml.root
        add = self.xml.add
        add(root, "cbc:UBLVersionID", "2.1")
        add(root, "cbc:CustomizationID", CUSTOMIZATION_ID)
        add(root, "cbc:ID", doc.number.strip())
        add(root, "cbc:IssueDate", doc.issue_date.isoformat())
        if not self.credit and doc.due_date is not None:
            add(root, "cbc:DueDate", doc.due_date.isoformat())
        add(
            root,
            "cbc:CreditNoteTypeCode" if self.credit else "cbc:InvoiceTypeCode",
            "381" if self.credit else "380",
        )
        notes = _note_parts(doc.notes)
        if self.credit:
            assert doc.billing_reference_date is not None
            notes.insert(
                0,
                f"Stornarea facturii {doc.billing_reference_number.strip()} din "
                f"{doc.billing_reference_date.strftime('%d.%m.%Y')}",
            )
        if len(notes) > _NOTES_MAX:
            raise EfacturaError(
                f"notes: at most {_NOTES_MAX} notes of {_NOTE_MAX} characters in e-Factura"
            )
        for note in notes:
            add(root, "cbc:Note", note)
        add(root, "cbc:DocumentCurrencyCode", self.currency)
        if ron_vat is not None:
            add(root, "cbc:TaxCurrencyCode", "RON")
        if self.credit:
            reference = add(add(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
            add(reference, "cbc:ID", doc.billing_reference_number.strip())
            assert doc.billing_reference_date is not None
            add(reference, "cbc:IssueDate", doc.billing_reference_date.isoformat())
        if doc.contract_reference.strip():
            contract = add(root, "cac:ContractDocumentReference")
            add(contract, "cbc:ID", " ".join(doc.contract_reference.split()))
        self._party(
            add(root, "cac:AccountingSupplierParty"),
            doc.seller,
            seller_address,
            "seller",
            not_subject=not_subject,
        )
        self._party(
            add(root, "cac:AccountingCustomerParty"),
            doc.buyer,
            buyer_address,
            "buyer",
            not_subject=not_subject,
        )
        if "K" in codes:
            self._delivery(buyer_address)
        if not self.credit and doc.seller.iban.strip():
            self._payment_means()
        if self.credit or doc.due_date is None:
            terms = add(root, "cac:PaymentTerms")
            add(terms, "cbc:Note", self._payment_terms())
        for group in groups:
            if group.discount:
                self._document_discount(group)
        tax_total = add(root, "cac:TaxTotal")
        self._amount(tax_total, "cbc:TaxAmount", totals.vat_total)
        for group in groups:
            subtotal = add(tax_total, "cac:TaxSubtotal")
            self._amount(subtotal, "cbc:TaxableAmount", group.base)
            self._amount(subtotal, "cbc:TaxAmount", group.vat)
            self._tax_category(subtotal, "cac:TaxCategory", group, reason=True)
        if ron_vat is not None:
            in_ron = add(root, "cac:TaxTotal")
            add(in_ron, "cbc:TaxAmount", f"{round_money(ron_vat, 'RON'):f}", currencyID="RON")
        monetary = add(root, "cac:LegalMonetaryTotal")
        self._amount(monetary, "cbc:LineExtensionAmount", totals.lines_net)
        self._amount(monetary, "cbc:TaxExclusiveAmount", totals.subtotal)
        self._amount(monetary, "cbc:TaxInclusiveAmount", totals.total)
        if totals.discount:
            self._amount(monetary, "cbc:AllowanceTotalAmount", totals.discount)
        self._amount(monetary, "cbc:PayableAmount", totals.total)
        by_key = {(group.rate, group.category): group for group in groups}
        for index, (line, net) in enumerate(zip(doc.lines, totals.line_nets, strict=True)):
            vat_line = _vat_line(line)
            group = by_key[line.vat_rate, line_category(vat_line)]
            self._line(index, line, net, group)
        ElementTree.indent(root)  # for people reading it; no element has mixed content
        body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"

    def _groups(self, totals: DocumentTotals) -> list[_Group]:
        groups = []
        for group in totals.groups:
            members = [
                line
                for line in self.doc.lines
                if (line.vat_rate, line_category(_vat_line(line))) == (group.rate, group.category)
            ]
            groups.append(
                _Group(
                    code=group.category.en16931_code,
                    rate=group.rate,
                    category=group.category,
                    base=group.base,
                    vat=group.vat,
                    discount=group.discount,
                    exemption_reason=_exemption_reason(
                        group.category,
                        members,
                        f"lines[{self.doc.lines.index(members[0])}].legal_basis",
                    ),
                )
            )
        return groups

    def _tax_category(
        self, parent: ElementTree.Element, tag: str, group: _Group, *, reason: bool = False
    ) -> None:
        add = self.xml.add
        category = add(parent, tag)
        add(category, "cbc:ID", group.code)
        if group.code != "O":  # BR-O-05, BR-O-06, BR-O-09: no rate for "not subject"
            add(category, "cbc:Percent", plain_decimal(group.rate))
        if reason and group.exemption_reason:
            if group.code in _VATEX:
                add(category, "cbc:TaxExemptionReasonCode", _VATEX[group.code])
            add(category, "cbc:TaxExemptionReason", group.exemption_reason)
        add(add(category, "cac:TaxScheme"), "cbc:ID", "VAT")

    def _party(
        self,
        parent: ElementTree.Element,
        party: EfacturaParty,
        address: _Address,
        role: str,
        *,
        not_subject: bool,
    ) -> None:
        add = self.xml.add
        name = " ".join(party.name.split())
        if not name:
            raise EfacturaError(f"{role}.name: e-Factura needs the party's name")
        if len(name) > 200:
            raise EfacturaError(f"{role}.name: at most 200 characters in e-Factura")
        # "Not subject to VAT" documents carry no VAT id at all (BR-O-02).
        vat_id = "" if not_subject else vat_identifier(party)
        tax_id = _compact(party.tax_id)
        if re.fullmatch(r"RO\d{2,10}", tax_id) and (not_subject or tax_id == vat_id):
            tax_id = tax_id[2:] if not_subject else ""
        if tax_id == vat_id:
            tax_id = ""
        registration = " ".join(party.registration_number.split())
        legal_id = tax_id or registration
        if not legal_id and not vat_id and role == "buyer":
            legal_id = PRIVATE_PERSON_ID  # a private person who gave no CNP
        extra_registration = registration if registration and registration != legal_id else ""

        element = add(parent, "cac:Party")
        if role == "buyer" and extra_registration:
            add(add(element, "cac:PartyIdentification"), "cbc:ID", extra_registration)
        add(add(element, "cac:PartyName"), "cbc:Name", name)
        postal = add(element, "cac:PostalAddress")
        add(postal, "cbc:StreetName", address.street)
        add(postal, "cbc:CityName", address.city)
        if address.postal_code:
            add(postal, "cbc:PostalZone", address.postal_code)
        if address.county:
            add(postal, "cbc:CountrySubentity", address.county)
        add(add(postal, "cac:Country"), "cbc:IdentificationCode", address.country)
        if vat_id:
            scheme = add(element, "cac:PartyTaxScheme")
            add(scheme, "cbc:CompanyID", vat_id)
            add(add(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
        legal = add(element, "cac:PartyLegalEntity")
        add(legal, "cbc:RegistrationName", name)
        if legal_id:
            add(legal, "cbc:CompanyID", legal_id)
        if role == "seller" and extra_registration:
            add(legal, "cbc:CompanyLegalForm", f"Reg. Com. {extra_registration}")
        email = party.email.strip()
        phone = " ".join(party.phone.split())
        if (email and len(email) <= 100) or (phone and len(phone) <= 100):
            contact = add(element, "cac:Contact")
            if phone and len(phone) <= 100:
                add(contact, "cbc:Telephone", phone)
            if email and len(email) <= 100:
                add(contact, "cbc:ElectronicMail", email)

    def _delivery(self, address: _Address) -> None:
        """An intra-community supply names when and where the goods went (BR-IC-11/12):
        the buyer's address, on the document's delivery date or else its issue date."""
        add = self.xml.add
        delivery = add(self.xml.root, "cac:Delivery")
        add(
            delivery,
            "cbc:ActualDeliveryDate",
            (self.doc.delivery_date or self.doc.issue_date).isoformat(),
        )
        place = add(add(delivery, "cac:DeliveryLocation"), "cac:Address")
        add(place, "cbc:StreetName", address.street)
        add(place, "cbc:CityName", address.city)
        if address.postal_code:
            add(place, "cbc:PostalZone", address.postal_code)
        add(place, "cbc:CountrySubentity", address.county)
        add(add(place, "cac:Country"), "cbc:IdentificationCode", address.country)

    def _payment_means(self) -> None:
        """Credit transfer (UNCL4461 code 30) to the seller's IBAN (BR-61 wants the account
        for a credit transfer, and the seller's account is what the invoice gives)."""
        add = self.xml.add
        seller = self.doc.seller
        means = add(self.xml.root, "cac:PaymentMeans")
        add(means, "cbc:PaymentMeansCode", "30")
        add(means, "cbc:PaymentID", self.doc.number.strip()[:140])
        account = add(means, "cac:PayeeFinancialAccount")
        add(account, "cbc:ID", _compact(seller.iban))
        # BT-85 is the account holder's name (the seller's, ≤ 200 like the seller's name).
        add(account, "cbc:Name", " ".join(seller.name.split()))

    def _payment_terms(self) -> str:
        doc = self.doc
        if self.credit:
            if doc.due_date is not None:
                return f"Suma se restituie sau se compensează până la {doc.due_date:%d.%m.%Y}"
            return "Suma se restituie sau se compensează cu facturi ulterioare"
        return "Plata la primirea facturii"

    def _document_discount(self, group: _Group) -> None:
        add = self.xml.add
        allowance = add(self.xml.root, "cac:AllowanceCharge")
        add(allowance, "cbc:ChargeIndicator", "false")
        add(allowance, "cbc:AllowanceChargeReasonCode", "95")
        add(
            allowance,
            "cbc:AllowanceChargeReason",
            f"Discount {plain_decimal(self.doc.discount_percent)}%",
        )
        self._amount(allowance, "cbc:Amount", group.discount)
        self._tax_category(allowance, "cac:TaxCategory", group)

    def _line(self, index: int, line: EfacturaLine, net: Decimal, group: _Group) -> None:
        add = self.xml.add
        field = f"lines[{index}]"
        name, description, note = item_texts(line.description, f"{field}.description")
        if not name:
            raise EfacturaError(f"{field}.description: must not be empty")
        price = (
            net_from_gross(line.unit_price, line.vat_rate, self.currency)
            if self.doc.prices_include_vat
            else line.unit_price
        )
        element = add(self.xml.root, "cac:CreditNoteLine" if self.credit else "cac:InvoiceLine")
        add(element, "cbc:ID", str(index + 1))
        if note:
            add(element, "cbc:Note", note)
        add(
            element,
            "cbc:CreditedQuantity" if self.credit else "cbc:InvoicedQuantity",
            plain_decimal(line.quantity),
            unitCode=unit_code(line.unit),
        )
        self._amount(element, "cbc:LineExtensionAmount", net)
        before_discount = round_money(line.quantity * price, self.currency)
        if line.discount_percent and before_discount > net:
            allowance = add(element, "cac:AllowanceCharge")
            add(allowance, "cbc:ChargeIndicator", "false")
            add(allowance, "cbc:AllowanceChargeReasonCode", "95")
            add(
                allowance,
                "cbc:AllowanceChargeReason",
                f"Discount {plain_decimal(line.discount_percent)}%",
            )
            self._amount(allowance, "cbc:Amount", before_discount - net)
        item = add(element, "cac:Item")
        if description:
            add(item, "cbc:Description", description)
        add(item, "cbc:Name", name)
        self._tax_category(item, "cac:ClassifiedTaxCategory", group)
        price_element = add(element, "cac:Price")
        add(price_element, "cbc:PriceAmount", _price(price), currencyID=self.currency)
