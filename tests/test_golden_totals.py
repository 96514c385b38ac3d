"""Golden invoices: every expected figure below was worked out by hand (the arithmetic is in
the comments), never taken from the code under test. Plus the VAT rate table and mentions.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from domain.errors import InvalidInput
from domain.money import Line, MoneyError, compute_totals
from domain.vat import (
    DocumentTotals,
    VatCategory,
    VatLine,
    check_rate,
    compute_document_totals,
    legal_mention,
    net_from_gross,
    rates_on,
    vat_in_ron,
)

D = Decimal


def line(qty: str, price: str, rate: str, discount: str = "0") -> Line:
    return Line("item", D(qty), D(price), D(rate), discount_percent=D(discount))


def special(qty: str, price: str, category: VatCategory, discount: str = "0") -> VatLine:
    return VatLine("item", D(qty), D(price), D(0), discount_percent=D(discount), category=category)


def breakdown(totals: DocumentTotals) -> list[tuple[str, str, str, str, str]]:
    """(rate, category, lines_net, discount, vat) per group, as plain strings."""
    return [
        (str(g.rate), g.category.value, str(g.lines_net), str(g.discount), str(g.vat))
        for g in totals.groups
    ]


def figures(totals: DocumentTotals) -> tuple[str, str, str]:
    return (str(totals.subtotal), str(totals.vat_total), str(totals.total))


# --- the golden invoices -------------------------------------------------------------------


def test_01_three_vat_rates_on_one_romanian_invoice() -> None:
    # July 2025: 19 %, 9 % and 5 % are all still valid.
    for rate in ("19", "9", "5"):
        check_rate("RO", date(2025, 7, 15), D(rate))
    lines = [line("3", "120.00", "19"), line("2", "45.50", "9"), line("7", "12.35", "5")]
    totals = compute_document_totals(lines, "RON")
    # 3 x 120.00 = 360.00 -> VAT 19 % = 68.40
    # 2 x 45.50 = 91.00 -> VAT 9 % = 8.19
    # 7 x 12.35 = 86.45 -> VAT 5 % = 4.3225 -> 4.32
    assert breakdown(totals) == [
        ("19", "standard", "360.00", "0.00", "68.40"),
        ("9", "standard", "91.00", "0.00", "8.19"),
        ("5", "standard", "86.45", "0.00", "4.32"),
    ]
    # 360.00 + 91.00 + 86.45 = 537.45; 68.40 + 8.19 + 4.32 = 80.91; 618.36
    assert figures(totals) == ("537.45", "80.91", "618.36")
    assert totals.as_totals() == compute_totals(lines, "RON")  # same as the existing rule


def test_02_line_discounts() -> None:
    lines = [
        line("10", "250.00", "21", "10"),  # 2500.00 - 250.00 = 2250.00
        line("3", "33.33", "21", "15"),  # 99.99 x 0.85 = 84.9915 -> 84.99
        line("1", "19.99", "11", "12.5"),  # 19.99 x 0.875 = 17.49125 -> 17.49
    ]
    totals = compute_document_totals(lines, "RON")
    assert [str(a) for a in totals.line_amounts] == ["2250.00", "84.99", "17.49"]
    # 21 %: 2250.00 + 84.99 = 2334.99 -> 490.3479 -> 490.35
    # 11 %: 17.49 -> 1.9239 -> 1.92
    assert breakdown(totals) == [
        ("21", "standard", "2334.99", "0.00", "490.35"),
        ("11", "standard", "17.49", "0.00", "1.92"),
    ]
    # 2334.99 + 17.49 = 2352.48; 490.35 + 1.92 = 492.27; 2844.75
    assert figures(totals) == ("2352.48", "492.27", "2844.75")
    assert totals.as_totals() == compute_totals(lines, "RON")


def test_03_document_discount_per_rate_group_before_vat() -> None:
    lines = [
        line("4", "199.90", "21"),  # 799.60
        line("1", "49.95", "11"),  # 49.95
        line("2", "0.99", "21"),  # 1.98
    ]
    totals = compute_document_totals(lines, "EUR", document_discount_percent=D("5"))
    # 21 %: 799.60 + 1.98 = 801.58; 5 % = 40.079 -> 40.08; base 761.50; VAT 159.915 -> 159.92
    # 11 %: 49.95; 5 % = 2.4975 -> 2.50; base 47.45; VAT 5.2195 -> 5.22
    assert breakdown(totals) == [
        ("21", "standard", "801.58", "40.08", "159.92"),
        ("11", "standard", "49.95", "2.50", "5.22"),
    ]
    assert [str(g.base) for g in totals.groups] == ["761.50", "47.45"]
    # lines 801.58 + 49.95 = 851.53; discount 40.08 + 2.50 = 42.58
    assert (str(totals.lines_net), str(totals.discount)) == ("851.53", "42.58")
    # 761.50 + 47.45 = 808.95; 159.92 + 5.22 = 165.14; 974.09
    assert figures(totals) == ("808.95", "165.14", "974.09")


def test_04_gross_prices_keep_what_the_client_was_quoted() -> None:
    lines = [
        line("1", "100.00", "21"),  # gross 100.00
        line("3", "16.49", "21"),  # gross 49.47
        line("2", "55.50", "11"),  # gross 111.00
    ]
    totals = compute_document_totals(lines, "RON", prices_include_vat=True)
    # 21 %: gross 149.47; VAT = 149.47 x 21 / 121 = 3138.87 / 121 = 25.9410 -> 25.94;
    #       base 149.47 - 25.94 = 123.53
    # 11 %: gross 111.00; VAT = 111.00 x 11 / 111 = 11.00; base 100.00
    assert breakdown(totals) == [
        ("21", "standard", "123.53", "0.00", "25.94"),
        ("11", "standard", "100.00", "0.00", "11.00"),
    ]
    # 123.53 + 100.00 = 223.53; 25.94 + 11.00 = 36.94; 260.47 = 149.47 + 111.00 as quoted
    assert figures(totals) == ("223.53", "36.94", "260.47")
    assert [str(a) for a in totals.line_amounts] == ["100.00", "49.47", "111.00"]
    # Line nets: 100.00 / 1.21 = 82.6446 -> 82.64 and 49.47 / 1.21 = 40.8843 -> 40.88 make
    # 123.52, one ban short of the base; the line rounded down most (82.64, by 0.0046 against
    # 0.0043) takes it. 111.00 / 1.11 = 100.00.
    assert [str(n) for n in totals.line_nets] == ["82.65", "40.88", "100.00"]
    assert str(net_from_gross(D("100.00"), D("21"), "RON")) == "82.64"
    assert str(net_from_gross(D("55.50"), D("11"), "RON")) == "50.00"


def test_05_gross_prices_with_a_document_discount() -> None:
    lines = [line("2", "60.50", "21"), line("1", "242.00", "21")]  # gross 121.00 + 242.00
    totals = compute_document_totals(
        lines, "RON", prices_include_vat=True, document_discount_percent=D("10")
    )
    # gross 363.00, less 10 % (36.30) = 326.70 to pay; VAT 326.70 x 21 / 121 = 56.70;
    # base 270.00. Without the discount the lines' VAT is 363.00 x 21 / 121 = 63.00, so
    # their nets are 300.00 and the net discount 300.00 - 270.00 = 30.00.
    assert breakdown(totals) == [("21", "standard", "300.00", "30.00", "56.70")]
    assert [str(n) for n in totals.line_nets] == ["100.00", "200.00"]
    assert figures(totals) == ("270.00", "56.70", "326.70")


def test_06_jpy_has_no_minor_unit() -> None:
    lines = [
        line("3", "1980", "10"),  # 5940
        line("1", "12345", "10", "7"),  # 12345 x 0.93 = 11480.85 -> 11481
        line("2", "333", "8"),  # 666
    ]
    totals = compute_document_totals(lines, "JPY")
    # 10 %: 5940 + 11481 = 17421 -> 1742.1 -> 1742;  8 %: 666 -> 53.28 -> 53
    assert breakdown(totals) == [
        ("10", "standard", "17421", "0", "1742"),
        ("8", "standard", "666", "0", "53"),
    ]
    # 17421 + 666 = 18087; 1742 + 53 = 1795; 19882
    assert figures(totals) == ("18087", "1795", "19882")


def test_07_kwd_has_three_decimals() -> None:
    lines = [
        line("2", "12.345", "5"),  # 24.690
        line("3", "1.2345", "5"),  # 3.7035 -> 3.704 (half-up)
        line("1", "7.0005", "5", "10"),  # 6.30045 -> 6.300
    ]
    totals = compute_document_totals(lines, "KWD")
    # 24.690 + 3.704 + 6.300 = 34.694; VAT 5 % = 1.7347 -> 1.735; total 36.429
    assert breakdown(totals) == [("5", "standard", "34.694", "0.000", "1.735")]
    assert figures(totals) == ("34.694", "1.735", "36.429")


def test_08_a_hundred_lines() -> None:
    # Line i (1..100): one unit at i + 0.25; odd lines at 21 %, even lines at 11 %.
    lines = [line("1", f"{i}.25", "21" if i % 2 else "11") for i in range(1, 101)]
    totals = compute_document_totals(lines, "RON")
    # odd:  1 + 3 + ... + 99 = 2500, plus 50 x 0.25 = 12.50 -> 2512.50; 21 % = 527.625 -> 527.63
    # even: 2 + 4 + ... + 100 = 2550, plus 12.50 -> 2562.50; 11 % = 281.875 -> 281.88
    assert breakdown(totals) == [
        ("21", "standard", "2512.50", "0.00", "527.63"),
        ("11", "standard", "2562.50", "0.00", "281.88"),
    ]
    # 2512.50 + 2562.50 = 5075.00; 527.63 + 281.88 = 809.51; 5884.51
    assert figures(totals) == ("5075.00", "809.51", "5884.51")
    assert len(totals.line_amounts) == 100


def test_09_a_reverse_charge_line_next_to_a_taxed_one() -> None:
    # Romanian domestic reverse charge (e.g. mobile phones, Codul fiscal art. 331) and a
    # normally taxed accessory on the same invoice.
    lines = [
        special("12", "850.00", VatCategory.REVERSE_CHARGE),  # 10200.00, no VAT charged
        line("12", "24.90", "21"),  # 298.80 -> 21 % = 62.748 -> 62.75
    ]
    totals = compute_document_totals(lines, "RON")
    assert breakdown(totals) == [
        ("21", "standard", "298.80", "0.00", "62.75"),
        ("0", "reverse_charge", "10200.00", "0.00", "0.00"),
    ]
    # 298.80 + 10200.00 = 10498.80; VAT 62.75; 10561.55
    assert figures(totals) == ("10498.80", "62.75", "10561.55")
    assert [g.category.en16931_code for g in totals.groups] == ["S", "AE"]
    assert totals.legal_mentions("ro") == ["Taxare inversă"]
    assert totals.legal_mentions("en") == ["Reverse charge"]


def test_10_a_russian_invoice_without_vat() -> None:
    # A seller on УСН that does not charge VAT: «Без НДС».
    lines = [
        special("8", "3500.00", VatCategory.NOT_SUBJECT),  # 28000.00
        special("1", "1250.50", VatCategory.NOT_SUBJECT, "20"),  # 1250.50 x 0.8 = 1000.40
    ]
    totals = compute_document_totals(lines, "RUB")
    assert breakdown(totals) == [("0", "not_subject", "29000.40", "0.00", "0.00")]
    assert figures(totals) == ("29000.40", "0.00", "29000.40")
    assert totals.legal_mentions("ru") == ["Без НДС"]
    assert check_rate("RU", date(2026, 3, 2), D(0), VatCategory.NOT_SUBJECT).category == (
        VatCategory.NOT_SUBJECT
    )


def test_11_a_russian_invoice_at_22_percent_with_prices_including_vat() -> None:
    check_rate("RU", date(2026, 1, 15), D("22"))
    totals = compute_document_totals([line("5", "1200.00", "22")], "RUB", prices_include_vat=True)
    # gross 6000.00; «в том числе НДС 22 %» = 6000.00 x 22 / 122 = 1081.9672 -> 1081.97;
    # base 6000.00 - 1081.97 = 4918.03
    assert breakdown(totals) == [("22", "standard", "4918.03", "0.00", "1081.97")]
    assert figures(totals) == ("4918.03", "1081.97", "6000.00")


def test_12_a_eur_romanian_invoice_shows_its_vat_in_ron() -> None:
    lines = [line("10", "150.00", "21"), line("4", "37.45", "11")]
    totals = compute_document_totals(lines, "EUR")
    # 21 %: 1500.00 -> 315.00;  11 %: 149.80 -> 16.478 -> 16.48
    assert figures(totals) == ("1649.80", "331.48", "1981.28")
    ron = vat_in_ron(totals.groups, D("5.0853"))
    # 315.00 x 5.0853 = 1575 + 26.8695 = 1601.8695 -> 1601.87
    # 16.48 x 5.0853 = 82.40 + 1.405744 = 83.805744 -> 83.81
    assert [(str(g.rate), str(g.vat), str(g.vat_ron)) for g in ron.groups] == [
        ("21", "315.00", "1601.87"),
        ("11", "16.48", "83.81"),
    ]
    assert str(ron.vat_total_ron) == "1685.68"  # 1601.87 + 83.81
    # The existing Totals work too.
    assert vat_in_ron(compute_totals(lines, "EUR").vat_groups, D("5.0853")) == ron


def test_13_an_exempt_line_with_its_legal_basis() -> None:
    lines = [
        special("1", "1500.00", VatCategory.EXEMPT),  # e.g. training exempt under art. 292
        line("1", "200.00", "21", "50"),  # 100.00 -> 21.00
    ]
    totals = compute_document_totals(lines, "RON", document_discount_percent=D("10"))
    # 21 %: 100.00 less 10.00 = 90.00 -> 18.90;  exempt: 1500.00 less 150.00 = 1350.00
    assert breakdown(totals) == [
        ("21", "standard", "100.00", "10.00", "18.90"),
        ("0", "exempt", "1500.00", "150.00", "0.00"),
    ]
    assert figures(totals) == ("1440.00", "18.90", "1458.90")
    assert totals.legal_mentions("ro") == ["Scutit de TVA"]
    basis = "art. 292 alin. (2) lit. a) pct. 4 din Codul fiscal"
    assert legal_mention(VatCategory.EXEMPT, "ro", basis) == f"Scutit de TVA conform {basis}"


# --- consistency and refusals --------------------------------------------------------------


def test_net_prices_without_discount_agree_with_compute_totals() -> None:
    # Seven lines of 1.07 at 21 %: the per-group rounding of test_domain (1.57 VAT).
    lines = [line("1", "1.07", "21")] * 7
    totals = compute_document_totals(lines, "EUR")
    assert figures(totals) == ("7.49", "1.57", "9.06")
    assert totals.as_totals() == compute_totals(lines, "EUR")


def test_bad_document_input_is_refused_with_the_field_named() -> None:
    with pytest.raises(MoneyError, match=r"^vat_rate: a reverse_charge line has 0 %"):
        compute_document_totals(
            [VatLine("x", D(1), D(1), D(21), category=VatCategory.REVERSE_CHARGE)], "RON"
        )
    with pytest.raises(MoneyError, match=r"^vat_rate: a standard line needs a rate"):
        compute_document_totals(
            [VatLine("x", D(1), D(1), D(0), category=VatCategory.STANDARD)], "RON"
        )
    with pytest.raises(MoneyError, match=r"^document_discount_percent: "):
        compute_document_totals([line("1", "1", "21")], "RON", document_discount_percent=D(101))
    with pytest.raises(MoneyError, match=r"^lines: "):
        compute_document_totals([], "RON")
    with pytest.raises(MoneyError, match=r"^quantity: "):
        compute_document_totals([line("0", "1", "21")], "RON")
    with pytest.raises(MoneyError, match=r"^exchange_rate: "):
        vat_in_ron([], D(0))


# --- the rate table ------------------------------------------------------------------------


def taxed(country: str, day: date) -> list[str]:
    return [str(r.rate) for r in rates_on(country, day) if r.category.charges_vat]


def test_romanian_rates_change_on_1_august_2025() -> None:
    assert taxed("RO", date(2025, 7, 31)) == ["19", "9", "5"]
    assert taxed("RO", date(2025, 8, 1)) == ["21", "11"]
    assert taxed("ro", date(2026, 11, 23)) == ["21", "11"]
    zero = {r.category for r in rates_on("RO", date(2026, 1, 1)) if r.rate == 0}
    assert zero == {
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.NOT_SUBJECT,
        VatCategory.INTRA_COMMUNITY,
    }
    assert check_rate("RO", date(2025, 8, 1), D("21")).category == VatCategory.STANDARD
    assert check_rate("RO", date(2025, 8, 1), D("11")).category == VatCategory.REDUCED
    with pytest.raises(InvalidInput, match=r"^vat_rate: 19 % is not a RO VAT rate on 2025-08-01"):
        check_rate("RO", date(2025, 8, 1), D("19"))
    with pytest.raises(InvalidInput, match=r"^vat_rate: 21 % is not a RO VAT rate on 2025-07-31"):
        check_rate("RO", date(2025, 7, 31), D("21.00"))
    with pytest.raises(InvalidInput, match=r"^vat_rate: 9 % "):
        check_rate("RO", date(2025, 9, 1), D("9"))


def test_russian_rates_change_on_1_january_2026() -> None:
    assert taxed("RU", date(2025, 12, 31)) == ["20", "10", "7", "5"]
    assert taxed("RU", date(2026, 1, 1)) == ["22", "10", "7", "5"]
    assert taxed("RU", date(2024, 12, 31)) == ["20", "10"]  # УСН rates from 2025
    with pytest.raises(InvalidInput, match=r"^vat_rate: 22 % is not a RU VAT rate on 2025-12-31"):
        check_rate("RU", date(2025, 12, 31), D("22"))
    with pytest.raises(InvalidInput, match=r"^vat_rate: 20 % "):
        check_rate("RU", date(2026, 1, 1), D("20"))
    assert check_rate("RU", date(2026, 1, 1), D("0")).category == VatCategory.ZERO
    with pytest.raises(InvalidInput, match=r"^vat_rate: 0 % \(reverse_charge\)"):
        check_rate("RU", date(2026, 1, 1), D("0"), VatCategory.REVERSE_CHARGE)


def test_a_country_without_a_table_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"^country: no VAT rates are recorded for 'DE'"):
        rates_on("DE", date(2026, 1, 1))


def test_legal_mentions_per_locale() -> None:
    assert legal_mention(VatCategory.STANDARD, "ro") is None
    assert legal_mention(VatCategory.REDUCED, "ru") is None
    assert legal_mention(VatCategory.REVERSE_CHARGE, "ro") == "Taxare inversă"
    assert legal_mention(VatCategory.EXEMPT, "ro") == "Scutit de TVA"
    assert legal_mention(VatCategory.NOT_SUBJECT, "ru") == "Без НДС"
    assert legal_mention(VatCategory.EXEMPT, "ru") == "Без налога (НДС)"
    assert legal_mention(VatCategory.REVERSE_CHARGE, "en") == "Reverse charge"
    assert legal_mention(VatCategory.EXEMPT, "en") == "VAT exempt"
    assert legal_mention(VatCategory.EXEMPT, "de") == "VAT exempt"  # unknown locale: English
    assert (
        legal_mention(VatCategory.EXEMPT, "en", "Article 132(1)(i) of Directive 2006/112/EC")
        == "VAT exempt (Article 132(1)(i) of Directive 2006/112/EC)"
    )
    assert legal_mention(VatCategory.REVERSE_CHARGE, "ro", "art. 331 din Codul fiscal") == (
        "Taxare inversă conform art. 331 din Codul fiscal"
    )


def test_gross_line_nets_always_add_up_to_the_group() -> None:
    # Not golden figures but the invariants behind them, over awkward prices: the client
    # pays the gross sum; line nets add up to each group's lines_net (EN 16931 BR-CO-10).
    lines = [
        line(str(1 + i % 4), f"{i * 7 % 97}.{i * 13 % 100:02d}", ("21", "11")[i % 2], str(i % 3))
        for i in range(1, 101)
    ]
    totals = compute_document_totals(
        lines, "RON", prices_include_vat=True, document_discount_percent=D("2.5")
    )
    for group in totals.groups:
        members = [
            net
            for net, source in zip(totals.line_nets, lines, strict=True)
            if source.vat_rate == group.rate
        ]
        assert sum(members) == group.lines_net
        assert group.lines_net - group.discount == group.base
    # The discount is taken per group off the gross, half-up to the ban.
    expected = D(0)
    for rate in (D(21), D(11)):
        group_gross = sum(
            a for a, s in zip(totals.line_amounts, lines, strict=True) if s.vat_rate == rate
        )
        expected += group_gross - (group_gross * D("0.025")).quantize(D("0.01"), ROUND_HALF_UP)
    assert totals.total == expected
