"""RO e-Factura XML (issue 14, points 2–3): every kind of document q2c issues is built by
`domain.efactura.build_xml` and run through the official CIUS-RO 1.0.9 rules (the Ministry
of Finance's XSLT, by Saxon) with no fatal assertion; the amounts in the XML are the stored
ones; what CIUS-RO cannot express is refused with the field named.

The stylesheet is compiled once per process (`activities.efactura_rules`), so the matrix
runs in seconds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from activities.efactura_rules import EXAMPLES_DIR, RuleFailure, fatal, validate
from domain.efactura import (
    CUSTOMIZATION_ID,
    PRIVATE_PERSON_ID,
    DocumentKind,
    EfacturaAddress,
    EfacturaDocument,
    EfacturaError,
    EfacturaLine,
    EfacturaParty,
    bucharest_sector,
    build_xml,
    item_texts,
    normalized_address,
    ro_county,
    unit_code,
)
from domain.vat import VatCategory, VatLine, compute_document_totals, vat_in_ron
from starter.devstack.samples import sample_context, write_efactura_sample
from tests.conftest import Stack
from tests.helpers import create_client, get_json

D = Decimal
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

SELLER = EfacturaParty(
    name="Casa de Avocatură Ionescu și Asociații SCA",
    tax_id="RO18547290",
    vat_id="",
    registration_number="J40/1234/2020",
    address=EfacturaAddress("Str. Știrbei Vodă 12", "București, sector 1", "010102", "RO-B", "RO"),
    email="facturi@ionescu-avocati.ro",
    phone="+40 21 555 0101",
    iban="RO49 AAAA 1B31 0075 9384 0000",
    bank_name="Banca Transilvania",
)
RO_BUYER = EfacturaParty(
    name="Șantierul Naval Constanța SA",
    tax_id="RO12345674",
    vat_id="",
    registration_number="J13/567/1991",
    address=EfacturaAddress("Incinta Port, Poarta 10", "Constanța", "900900", "RO-CT", "RO"),
    email="contabilitate@snc.ro",
)
EU_BUYER = EfacturaParty(
    name="Nordic Shipping GmbH",
    tax_id="",
    vat_id="DE136695976",
    registration_number="HRB 12345",
    address=EfacturaAddress("Am Sandtorkai 1", "Hamburg", "20457", "DE-HH", "DE"),
)
BUCHAREST_BUYER = replace(
    RO_BUYER,
    name="Editura Litera SRL",
    tax_id="14399840",  # a CUI without "RO": not a VAT payer, a legal id
    registration_number="J40/5873/2001",
    address=EfacturaAddress("Bd. Unirii 20, bl. 5B", "Sector 4", "040106", "RO-B", "RO"),
)
PRIVATE_BUYER = EfacturaParty(
    name="Maria Popescu",
    tax_id="",
    vat_id="",
    registration_number="",
    address=EfacturaAddress("Str. Memorandumului 3, ap. 4", "Cluj-Napoca", "400114", "CJ", "RO"),
    email="maria.popescu@example.ro",
)


def line(
    description: str,
    quantity: str,
    price: str,
    rate: str = "21",
    *,
    unit: str = "h",
    discount: str = "0",
    category: VatCategory | None = None,
    basis: str = "",
) -> EfacturaLine:
    # net_amount is filled in by `document`, from domain.vat as the application stores it.
    return EfacturaLine(
        description, D(quantity), unit, D(price), D(discount), D(rate), category, basis, D(0)
    )


def vat_lines(lines: Sequence[EfacturaLine]) -> list[VatLine]:
    return [
        VatLine(
            item.description,
            item.quantity,
            item.unit_price,
            item.vat_rate,
            item.unit,
            item.discount_percent,
            item.vat_category,
        )
        for item in lines
    ]


def document(
    lines: list[EfacturaLine],
    *,
    buyer: EfacturaParty = RO_BUYER,
    currency: str = "RON",
    exchange_rate: str | None = None,
    gross: bool = False,
    discount: str = "0",
    number: str = "IAV-2026-00042",
) -> EfacturaDocument:
    """An issued invoice with the totals the application stores (`domain.vat`)."""
    totals = compute_document_totals(
        vat_lines(lines),
        currency,
        prices_include_vat=gross,
        document_discount_percent=D(discount),
    )
    stored = tuple(
        replace(item, net_amount=net) for item, net in zip(lines, totals.line_nets, strict=True)
    )
    return EfacturaDocument(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        currency=currency,
        exchange_rate=D(exchange_rate) if exchange_rate else None,
        seller=SELLER,
        buyer=buyer,
        lines=stored,
        prices_include_vat=gross,
        discount_percent=D(discount),
        subtotal=totals.subtotal,
        vat_total=totals.vat_total,
        total=totals.total,
        contract_reference="Contract de asistență juridică nr. 7/2026",
        notes="Vă mulțumim pentru colaborare.\nPlata în contul de mai jos.",
    )


def credit_note(invoice: EfacturaDocument) -> EfacturaDocument:
    """The credit note cancelling ``invoice``: its figures, positive, and a reference to it."""
    return replace(
        invoice,
        kind=DocumentKind.CREDIT_NOTE,
        number="CN-2026-00007",
        issue_date=date(2026, 11, 30),
        due_date=None,
        billing_reference_number=invoice.number,
        billing_reference_date=invoice.issue_date,
    )


EXEMPT_BASIS = "art. 292 alin. (2) lit. a) pct. 1 din Codul fiscal"

MATRIX: dict[str, EfacturaDocument] = {
    "one 21% line": document([line("Consultanță juridică maritimă", "12", "450.00")]),
    "21% and 11% mixed": document(
        [
            line("Consultanță juridică maritimă", "12", "450.00"),
            line("Redactare contract navlosire", "1", "3200.00", unit="buc", discount="10"),
            line("Traducere autorizată", "8", "60.00", "11", unit="pag"),
        ]
    ),
    "exempt line with its legal basis": document(
        [
            line("Consultanță juridică", "2", "450.00"),
            line(
                "Curs de formare profesională",
                "1",
                "1500.00",
                "0",
                unit="",
                category=VatCategory.EXEMPT,
                basis=EXEMPT_BASIS,
            ),
        ]
    ),
    "reverse charge to an EU buyer": document(
        [
            line(
                "Legal opinion on charter party dispute",
                "6",
                "180.00",
                "0",
                category=VatCategory.REVERSE_CHARGE,
                basis="art. 278 alin. (2) din Codul fiscal",
            )
        ],
        buyer=EU_BUYER,
        currency="EUR",
        exchange_rate="4.9771",
    ),
    "intra-community supply (K)": document(
        [
            line(
                "Registre maritime legate (set)",
                "40",
                "37.50",
                "0",
                unit="buc",
                category=VatCategory.INTRA_COMMUNITY,
                basis="art. 294 alin. (2) lit. a) din Codul fiscal",
            )
        ],
        buyer=EU_BUYER,
        currency="EUR",
        exchange_rate="4.9771",
    ),
    "document discount": document(
        [
            line("Consultanță juridică", "3.5", "433.33"),
            line("Traducere autorizată", "7", "61.17", "11", unit="pag"),
        ],
        discount="7.5",
    ),
    "gross prices": document(
        [
            line("Abonament asistență juridică", "3", "999.99", unit="lună"),
            line("Traducere autorizată", "11", "66.66", "11", unit="pag", discount="5"),
            line("Ore suplimentare", "1.25", "544.50"),
        ],
        gross=True,
        discount="3",
    ),
    "EUR with its exchange rate": document(
        [
            line("Legal consultancy", "7.5", "180.00"),
            line("Certified translation", "3", "45.55", "11", unit="pag"),
        ],
        currency="EUR",
        exchange_rate="4.9771",
    ),
    "100 lines": document(
        [
            line(f"Ședință de consultanță nr. {index + 1}", str(1 + index % 4), "123.45")
            for index in range(100)
        ]
    ),
    "buyer in Bucharest (sector)": document(
        [line("Consultanță juridică", "2", "450.00")], buyer=BUCHAREST_BUYER
    ),
    "private-person buyer": document(
        [line("Consultație juridică (persoană fizică)", "1", "300.00")], buyer=PRIVATE_BUYER
    ),
    "not subject to VAT (disbursements)": document(
        [
            line(
                "Taxă judiciară de timbru achitată în numele clientului",
                "1",
                "250.00",
                "0",
                unit="",
                category=VatCategory.NOT_SUBJECT,
            )
        ]
    ),
    "zero-rated line (Z) beside a 21% one": document(
        [
            line("Consultanță juridică", "1", "450.00"),
            line(
                "Transport internațional de bunuri",
                "1",
                "800.00",
                "0",
                unit="",
                category=VatCategory.ZERO,
            ),
        ]
    ),
    "seller not registered for VAT": replace(
        document(
            [
                line(
                    "Consultanță juridică (neplătitor de TVA)",
                    "3",
                    "200.00",
                    "0",
                    category=VatCategory.NOT_SUBJECT,
                )
            ],
            buyer=PRIVATE_BUYER,
        ),
        seller=replace(SELLER, tax_id="18547290"),
    ),
}
CASES = [pytest.param(doc, id=name) for name, doc in MATRIX.items()] + [
    pytest.param(credit_note(doc), id=f"{name}, credit note") for name, doc in MATRIX.items()
]


def fatal_failures(xml: bytes) -> list[RuleFailure]:
    return fatal(validate(xml))


def assert_valid(xml: bytes) -> None:
    failures = fatal_failures(xml)
    assert not failures, "fatal CIUS-RO assertions:\n" + "\n".join(
        f"{failure} @ {failure.location}" for failure in failures
    )


def parse(xml: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(xml)


def text(root: ElementTree.Element, path: str) -> str:
    found = root.find(path, NS)
    assert found is not None, path
    return found.text or ""


def amounts(root: ElementTree.Element, path: str) -> list[Decimal]:
    return [D(element.text or "") for element in root.findall(path, NS)]


# --- the matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("doc", CASES)
def test_every_document_passes_the_official_rules(doc: EfacturaDocument) -> None:
    xml = build_xml(doc)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert_valid(xml)


@pytest.mark.parametrize("doc", CASES)
def test_the_xml_carries_the_stored_amounts_to_the_cent(doc: EfacturaDocument) -> None:
    root = parse(build_xml(doc))
    line_tag = "cac:CreditNoteLine" if doc.kind is DocumentKind.CREDIT_NOTE else "cac:InvoiceLine"
    assert root.tag.endswith("CreditNote" if doc.kind is DocumentKind.CREDIT_NOTE else "Invoice")
    assert text(root, "cbc:CustomizationID") == CUSTOMIZATION_ID
    assert text(root, "cbc:ID") == doc.number
    total = "cac:LegalMonetaryTotal/"
    assert amounts(root, total + "cbc:TaxExclusiveAmount") == [doc.subtotal]
    assert amounts(root, total + "cbc:TaxInclusiveAmount") == [doc.total]
    assert amounts(root, total + "cbc:PayableAmount") == [doc.total]
    vat_totals = root.findall("cac:TaxTotal", NS)
    in_currency = vat_totals[0].find("cbc:TaxAmount", NS)
    assert in_currency is not None and in_currency.get("currencyID") == doc.currency
    assert D(in_currency.text or "") == doc.vat_total
    assert sum(amounts(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount")) == doc.vat_total
    assert sum(amounts(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount")) == doc.subtotal
    assert amounts(root, f"{line_tag}/cbc:LineExtensionAmount") == [
        item.net_amount for item in doc.lines
    ]
    for amount in root.iter():
        if amount.get("currencyID") is not None:
            decimals = "{2,}" if amount.tag.endswith("PriceAmount") else "{2}"
            assert re.fullmatch(rf"\d+\.\d{decimals}", amount.text or ""), amount.text
    if doc.kind is DocumentKind.CREDIT_NOTE:
        reference = "cac:BillingReference/cac:InvoiceDocumentReference/"
        assert text(root, reference + "cbc:ID") == "IAV-2026-00042"
        assert text(root, reference + "cbc:IssueDate") == "2026-11-23"
        assert text(root, "cbc:CreditNoteTypeCode") == "381"
    else:
        assert text(root, "cbc:InvoiceTypeCode") == "380"
        assert text(root, "cbc:DueDate") == "2026-12-07"


# The UBL 2.1 schema's order of the document's children (the ones EN 16931 uses). The
# rules read elements by name and would not notice a wrong order; the XSD and ANAF would.
INVOICE_ORDER = (
    "UBLVersionID CustomizationID ProfileID ID IssueDate DueDate InvoiceTypeCode Note "
    "TaxPointDate DocumentCurrencyCode TaxCurrencyCode AccountingCost BuyerReference "
    "InvoicePeriod OrderReference BillingReference DespatchDocumentReference "
    "ReceiptDocumentReference OriginatorDocumentReference ContractDocumentReference "
    "AdditionalDocumentReference ProjectReference AccountingSupplierParty "
    "AccountingCustomerParty PayeeParty TaxRepresentativeParty Delivery PaymentMeans "
    "PaymentTerms AllowanceCharge TaxTotal LegalMonetaryTotal InvoiceLine"
).split()
CREDIT_NOTE_ORDER = (
    "UBLVersionID CustomizationID ProfileID ID IssueDate TaxPointDate CreditNoteTypeCode Note "
    "DocumentCurrencyCode TaxCurrencyCode AccountingCost BuyerReference InvoicePeriod "
    "OrderReference BillingReference DespatchDocumentReference ReceiptDocumentReference "
    "ContractDocumentReference AdditionalDocumentReference OriginatorDocumentReference "
    "ProjectReference AccountingSupplierParty AccountingCustomerParty PayeeParty "
    "TaxRepresentativeParty Delivery PaymentMeans PaymentTerms AllowanceCharge TaxTotal "
    "LegalMonetaryTotal CreditNoteLine"
).split()
PARTY_ORDER = (
    "EndpointID PartyIdentification PartyName PostalAddress PartyTaxScheme PartyLegalEntity Contact"
).split()
ADDRESS_ORDER = (
    "StreetName AdditionalStreetName CityName PostalZone CountrySubentity Country".split()
)
LINE_ORDER = (
    "ID Note InvoicedQuantity CreditedQuantity LineExtensionAmount AccountingCost "
    "InvoicePeriod OrderLineReference DocumentReference AllowanceCharge Item Price"
).split()
ITEM_ORDER = "Description Name SellersItemIdentification ClassifiedTaxCategory".split()
TAX_CATEGORY_ORDER = "ID Percent TaxExemptionReasonCode TaxExemptionReason TaxScheme".split()
ALLOWANCE_ORDER = (
    "ChargeIndicator AllowanceChargeReasonCode AllowanceChargeReason MultiplierFactorNumeric "
    "Amount BaseAmount TaxCategory"
).split()
TOTALS_ORDER = (
    "LineExtensionAmount TaxExclusiveAmount TaxInclusiveAmount AllowanceTotalAmount "
    "ChargeTotalAmount PrepaidAmount PayableRoundingAmount PayableAmount"
).split()


def assert_in_order(element: ElementTree.Element, order: list[str]) -> None:
    names = [child.tag.rpartition("}")[2] for child in element]
    assert all(name in order for name in names), names
    positions = [order.index(name) for name in names]
    assert positions == sorted(positions), names


@pytest.mark.parametrize("doc", CASES)
def test_elements_come_in_the_ubl_schemas_order(doc: EfacturaDocument) -> None:
    root = parse(build_xml(doc))
    credit = doc.kind is DocumentKind.CREDIT_NOTE
    assert_in_order(root, CREDIT_NOTE_ORDER if credit else INVOICE_ORDER)
    for party in root.iterfind("*/cac:Party", NS):
        assert_in_order(party, PARTY_ORDER)
    for address in root.iter(f"{{{NS['cac']}}}PostalAddress"):
        assert_in_order(address, ADDRESS_ORDER)
    for line in root.iterfind("cac:CreditNoteLine" if credit else "cac:InvoiceLine", NS):
        assert_in_order(line, LINE_ORDER)
        item = line.find("cac:Item", NS)
        assert item is not None
        assert_in_order(item, ITEM_ORDER)
    for name in ("TaxCategory", "ClassifiedTaxCategory"):
        for category in root.iter(f"{{{NS['cac']}}}{name}"):
            assert_in_order(category, TAX_CATEGORY_ORDER)
    for allowance in root.iter(f"{{{NS['cac']}}}AllowanceCharge"):
        assert_in_order(allowance, ALLOWANCE_ORDER)
    totals = root.find("cac:LegalMonetaryTotal", NS)
    assert totals is not None
    assert_in_order(totals, TOTALS_ORDER)


# --- what each case shows -----------------------------------------------------------


def test_a_foreign_currency_invoice_states_its_vat_in_ron_at_its_exchange_rate() -> None:
    doc = MATRIX["EUR with its exchange rate"]
    root = parse(build_xml(doc))
    assert text(root, "cbc:DocumentCurrencyCode") == "EUR"
    assert text(root, "cbc:TaxCurrencyCode") == "RON"
    # 7.5 h × 180.00 = 1350.00 at 21 % → 283.50; 3 × 45.55 = 136.65 at 11 % → 15.03.
    assert doc.vat_total == D("298.53")
    ron = [
        element
        for element in root.findall("cac:TaxTotal/cbc:TaxAmount", NS)
        if element.get("currencyID") == "RON"
    ]
    # Per group, half-up to bani: 283.50 × 4.9771 = 1411.00785 → 1411.01 and
    # 15.03 × 4.9771 = 74.805813 → 74.81; BT-111 is their sum.
    assert [element.text for element in ron] == ["1485.82"]
    # As the PDF prints it (domain.vat.vat_in_ron): the groups' lei add up to the total; one
    # rounding of 298.53 × 4.9771 = 1485.8137 would give a ban less.
    printed = vat_in_ron(compute_document_totals(vat_lines(doc.lines), "EUR").groups, D("4.9771"))
    assert printed.vat_total_ron == D("1485.82")
    assert len(root.findall("cac:TaxTotal", NS)) == 2
    assert root.findall("cac:TaxTotal", NS)[1].find("cac:TaxSubtotal", NS) is None


def test_a_ron_invoice_has_no_second_vat_total() -> None:
    root = parse(build_xml(MATRIX["one 21% line"]))
    assert root.find("cbc:TaxCurrencyCode", NS) is None
    assert len(root.findall("cac:TaxTotal", NS)) == 1


def test_gross_prices_become_net_amounts_equal_to_the_stored_ones() -> None:
    doc = MATRIX["gross prices"]
    root = parse(build_xml(doc))
    # UBL prices are net: 999.99 with 21 % VAT is 826.44 without.
    assert root.findall("cac:InvoiceLine/cac:Price/cbc:PriceAmount", NS)[0].text == "826.44"
    nets = amounts(root, "cac:InvoiceLine/cbc:LineExtensionAmount")
    assert nets == [item.net_amount for item in doc.lines]
    assert sum(nets) - sum(amounts(root, "cac:AllowanceCharge/cbc:Amount")) == doc.subtotal
    assert amounts(root, "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount") == [doc.total]


def test_the_document_discount_is_an_allowance_per_vat_category() -> None:
    doc = MATRIX["document discount"]
    root = parse(build_xml(doc))
    allowances = root.findall("cac:AllowanceCharge", NS)
    assert [text(a, "cac:TaxCategory/cbc:Percent") for a in allowances] == ["21", "11"]
    assert [text(a, "cbc:ChargeIndicator") for a in allowances] == ["false", "false"]
    # 3.5 × 433.33 = 1516.655 → 1516.66, 7.5 % of it 113.7495 → 113.75; 7 × 61.17 = 428.19,
    # 7.5 % → 32.114 → 32.11.
    assert amounts(root, "cac:AllowanceCharge/cbc:Amount") == [D("113.75"), D("32.11")]
    assert amounts(root, "cac:LegalMonetaryTotal/cbc:AllowanceTotalAmount") == [D("145.86")]
    assert amounts(root, "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount") == [
        D("1402.91"),
        D("396.08"),
    ]


def test_exemptions_carry_their_reason_and_vatex_code() -> None:
    exempt = parse(build_xml(MATRIX["exempt line with its legal basis"]))
    categories = exempt.findall("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert [text(c, "cbc:ID") for c in categories] == ["S", "E"]
    assert text(categories[1], "cbc:TaxExemptionReason") == f"Scutit de TVA conform {EXEMPT_BASIS}"
    assert categories[0].find("cbc:TaxExemptionReason", NS) is None
    reverse = parse(build_xml(MATRIX["reverse charge to an EU buyer"]))
    category = reverse.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert category is not None
    assert text(category, "cbc:ID") == "AE"
    assert text(category, "cbc:TaxExemptionReasonCode") == "VATEX-EU-AE"
    assert text(category, "cbc:TaxExemptionReason").startswith("Taxare inversă")
    supply = parse(build_xml(MATRIX["intra-community supply (K)"]))
    category = supply.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert category is not None
    assert text(category, "cbc:ID") == "K"
    assert text(category, "cbc:TaxExemptionReasonCode") == "VATEX-EU-IC"
    delivery = "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
    assert text(supply, delivery) == "DE"
    assert text(supply, "cac:Delivery/cbc:ActualDeliveryDate") == "2026-11-23"


def test_parties_carry_cui_registration_vat_id_and_structured_address() -> None:
    root = parse(build_xml(MATRIX["buyer in Bucharest (sector)"]))
    seller = "cac:AccountingSupplierParty/cac:Party/"
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert text(root, seller + "cac:PartyTaxScheme/cbc:CompanyID") == "RO18547290"
    assert text(root, seller + "cac:PartyLegalEntity/cbc:CompanyID") == "J40/1234/2020"
    assert text(root, seller + "cac:PostalAddress/cbc:CityName") == "SECTOR1"
    assert text(root, seller + "cac:PostalAddress/cbc:CountrySubentity") == "RO-B"
    # A CUI without "RO" is a legal id, not a VAT id: no PartyTaxScheme for this buyer.
    assert root.find(buyer + "cac:PartyTaxScheme", NS) is None
    assert text(root, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == "14399840"
    assert text(root, buyer + "cac:PartyIdentification/cbc:ID") == "J40/5873/2001"
    assert text(root, buyer + "cac:PostalAddress/cbc:CityName") == "SECTOR4"
    assert text(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == "30"
    assert (
        text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID")
        == "RO49AAAA1B31007593840000"
    )
    assert text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:Name") == SELLER.name
    assert text(root, "cac:ContractDocumentReference/cbc:ID").startswith("Contract de asistență")


def test_a_document_not_subject_to_vat_names_no_vat_id() -> None:
    for name in ("not subject to VAT (disbursements)", "seller not registered for VAT"):
        root = parse(build_xml(MATRIX[name]))
        assert root.find(".//cac:PartyTaxScheme", NS) is None  # BR-O-02
        seller = "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/"
        assert text(root, seller + "cbc:CompanyID") == "18547290"
        assert text(root, seller + "cbc:CompanyLegalForm") == "Reg. Com. J40/1234/2020"
        category = root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
        assert category is not None and category.find("cbc:Percent", NS) is None
        assert text(category, "cbc:TaxExemptionReasonCode") == "VATEX-EU-O"
    mixed = document(
        [
            line("Consultanță", "1", "100.00"),
            line("Taxă de timbru", "1", "50.00", "0", category=VatCategory.NOT_SUBJECT),
        ]
    )
    with pytest.raises(EfacturaError, match="BR-O-11"):
        build_xml(mixed)


def test_a_private_person_is_identified_as_cius_ro_requires() -> None:
    root = parse(build_xml(MATRIX["private-person buyer"]))
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert root.find(buyer + "cac:PartyTaxScheme", NS) is None
    assert text(root, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == PRIVATE_PERSON_ID
    assert text(root, buyer + "cac:PostalAddress/cbc:CountrySubentity") == "RO-CJ"
    # A private person who gave a CNP is identified by it.
    with_cnp = replace(
        MATRIX["private-person buyer"], buyer=replace(PRIVATE_BUYER, tax_id="1800101221144")
    )
    cnp = parse(build_xml(with_cnp))
    assert text(cnp, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == "1800101221144"
    assert cnp.find(buyer + "cac:PartyTaxScheme", NS) is None
    # Without it the rules refuse the document (BR-RO-120).
    no_id = build_xml(MATRIX["private-person buyer"]).replace(
        f"<cbc:CompanyID>{PRIVATE_PERSON_ID}</cbc:CompanyID>".encode(), b""
    )
    assert "BR-RO-120" in {failure.rule_id for failure in fatal_failures(no_id)}


def test_long_descriptions_and_odd_characters_survive() -> None:
    long = "Asistență juridică & reprezentare <în\x07 instanță> " + "detaliată " * 40
    doc = document([line(long.strip(), "1", "100.00")], buyer=replace(RO_BUYER, name="A & B <SRL>"))
    xml = build_xml(doc)
    assert_valid(xml)
    root = parse(xml)
    name = text(root, "cac:InvoiceLine/cac:Item/cbc:Name")
    # Markup is escaped and the control character (not allowed in XML) dropped.
    assert len(name) <= 100 and name.startswith("Asistență juridică & reprezentare <în instanță>")
    combined = (
        text(root, "cac:InvoiceLine/cac:Item/cbc:Description")
        + " "
        + text(root, "cac:InvoiceLine/cbc:Note")
    )
    assert combined.split() == long.replace("\x07", "").split()
    assert (
        text(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name") == "A & B <SRL>"
    )


# --- what cannot be expressed -------------------------------------------------------


def test_a_broken_document_fails_with_the_rule_id() -> None:
    xml = build_xml(MATRIX["one 21% line"])
    no_county = re.sub(
        rb"(<cac:AccountingSupplierParty>.*?)<cbc:CountrySubentity>RO-B</cbc:CountrySubentity>",
        rb"\1",
        xml,
        flags=re.DOTALL,
    )
    assert no_county != xml
    assert "BR-RO-110" in {failure.rule_id for failure in fatal_failures(no_county)}


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        (replace(SELLER, address=replace(SELLER.address, county="")), "seller.address.county"),
        (replace(SELLER, address=replace(SELLER.address, street=" ")), "seller.address.street"),
        (replace(SELLER, address=replace(SELLER.address, city="")), "seller.address.city"),
        (replace(SELLER, address=replace(SELLER.address, city="București")), "seller.address.city"),
        (replace(SELLER, address=replace(SELLER.address, county="RO-XX")), "seller.address.county"),
    ],
)
def test_a_seller_address_cius_ro_cannot_take_is_refused_naming_the_field(
    changed: EfacturaParty, field: str
) -> None:
    with pytest.raises(EfacturaError, match=re.escape(field)):
        build_xml(replace(MATRIX["one 21% line"], seller=changed))


def test_totals_that_differ_from_the_lines_are_refused() -> None:
    doc = MATRIX["21% and 11% mixed"]
    with pytest.raises(EfacturaError, match="vat_total"):
        build_xml(replace(doc, vat_total=doc.vat_total + D("0.01"), total=doc.total + D("0.01")))
    with pytest.raises(EfacturaError, match=r"lines\[1\].net_amount"):
        build_xml(replace(doc, lines=(doc.lines[0], replace(doc.lines[1], net_amount=D(1)))))


def test_other_documents_cius_ro_cannot_take_are_refused() -> None:
    eur = MATRIX["EUR with its exchange rate"]
    with pytest.raises(EfacturaError, match="exchange_rate"):
        build_xml(replace(eur, exchange_rate=None))
    with pytest.raises(EfacturaError, match="billing_reference_number"):
        build_xml(replace(credit_note(eur), billing_reference_number=""))
    supply = MATRIX["intra-community supply (K)"]
    no_region = replace(EU_BUYER, address=replace(EU_BUYER.address, county=""))
    with pytest.raises(EfacturaError, match=r"buyer\.address\.county"):
        build_xml(replace(supply, buyer=no_region))
    with pytest.raises(EfacturaError, match=r"lines\[0\].description"):
        build_xml(document([line("word " * 200, "1", "1.00")]))


# --- the official examples and the pure helpers ---------------------------------------


@pytest.mark.parametrize("name", ["eInvoice_ex.xml", "creditNote_ex.xml"])
def test_the_official_examples_pass_once_their_customization_id_is_current(name: str) -> None:
    example = (EXAMPLES_DIR / name).read_bytes()
    assert [failure.rule_id for failure in fatal_failures(example)] == ["BR-RO-001"]
    current = re.sub(
        rb"<cbc:CustomizationID>[^<]*</cbc:CustomizationID>",
        f"<cbc:CustomizationID>{CUSTOMIZATION_ID}</cbc:CustomizationID>".encode(),
        example,
    )
    assert_valid(current)


def test_units_map_to_un_ece_codes() -> None:
    assert [unit_code(u) for u in ("h", "ore", "ora", "oră", "hour", " H ")] == ["HUR"] * 6
    assert [unit_code(u) for u in ("buc", "pcs", "buc.")] == ["H87"] * 3
    assert unit_code("") == "C62"
    assert unit_code("pag") == "C62"  # not in the table: counted in units
    assert (unit_code("zile"), unit_code("lună"), unit_code("kg")) == ("DAY", "MON", "KGM")


def test_addresses_normalize_to_cius_ro_codes() -> None:
    assert ro_county("cj", "f") == "RO-CJ"
    assert ro_county("RO-B", "f") == "RO-B"
    assert ro_county("Bistrita-Nasaud", "f") == "RO-BN"
    with pytest.raises(EfacturaError, match="f: "):
        ro_county("Narnia", "f")
    assert bucharest_sector("București, sector 3", "f") == "SECTOR3"
    assert bucharest_sector("SECTOR6", "f") == "SECTOR6"
    with pytest.raises(EfacturaError, match="SECTOR1"):
        bucharest_sector("Sector 7", "f")
    foreign = normalized_address(EfacturaAddress(" Am  Sandtorkai 1", "Hamburg", "", "", "de"), "x")
    assert (foreign.street, foreign.country, foreign.county) == ("Am Sandtorkai 1", "DE", "")


def test_item_names_are_at_most_100_characters() -> None:
    assert item_texts("Scurt", "f") == ("Scurt", "", "")
    name, description, note = item_texts("cuvânt " * 25, "f")
    assert len(name) <= 100 and name.endswith("…")
    assert description == ("cuvânt " * 25).strip() and note == ""
    name, description, note = item_texts("cuvânt " * 40, "f")
    assert len(description) <= 200 and len(note) <= 300
    assert f"{description} {note}".split() == ["cuvânt"] * 40


# --- the new category in the database -------------------------------------------------


async def test_an_intra_community_line_is_stored_and_read_back(stack: Stack) -> None:
    client_id = await create_client(stack)
    response = await stack.api.post(
        "/api/v1/contracts",
        json={
            "client_id": client_id,
            "number": "C-2026/K1",
            "contract_date": "2026-11-01",
            "currency": "EUR",
            "payment_terms_days": 30,
            "lines": [
                {
                    "description": "Registre maritime legate (set)",
                    "unit": "buc",
                    "quantity": "40",
                    "unit_price": "37.50",
                    "vat_rate": "0",
                    "vat_category": "intra_community",
                    "vat_legal_basis": "art. 294 alin. (2) lit. a) din Codul fiscal",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    contract = await get_json(stack, f"/api/v1/contracts/{response.json()['id']}")
    assert [line["vat_category"] for line in contract["lines"]] == ["intra_community"]
    assert (contract["subtotal"], contract["vat_total"]) == ("1500.00", "0.00")


def test_make_samples_writes_the_romanian_invoices_xml_with_the_pdfs_figures(
    tmp_path: Path,
) -> None:
    path = write_efactura_sample(tmp_path)
    assert path == tmp_path / "invoice-ro.xml"
    xml = path.read_bytes()
    assert_valid(xml)
    root = parse(xml)
    printed = sample_context("ro", "invoice")

    def digits(value: str) -> str:
        return re.sub(r"\D", "", value)

    assert text(root, "cbc:ID") == printed["number"] == "IAV-2026-00042"
    for tag, key in (
        ("cbc:TaxExclusiveAmount", "subtotal"),
        ("cbc:TaxInclusiveAmount", "total"),
        ("cbc:PayableAmount", "total"),
    ):
        assert digits(text(root, f"cac:LegalMonetaryTotal/{tag}")) == digits(printed[key])
    assert digits(text(root, "cac:TaxTotal/cbc:TaxAmount")) == digits(printed["vat_total"])
    assert len(root.findall("cac:InvoiceLine", NS)) == len(printed["lines"]) == 3
    seller = "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/"
    assert (text(root, seller + "cbc:CityName"), text(root, seller + "cbc:CountrySubentity")) == (
        "SECTOR1",
        "RO-B",
    )
    assert (
        len(
            parse(write_efactura_sample(tmp_path, lines=100).read_bytes()).findall(
                "cac:InvoiceLine", NS
            )
        )
        == 100
    )
