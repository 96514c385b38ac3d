"""The documents per locale, rendered with the real templates and read back with pypdf:
the factură's art. 319 mentions, the счёт's bank block and totals, the English invoice,
the amounts in words, the diacritics and Cyrillic as text, page breaks, template overrides."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from activities import pdf_engine
from activities.documents import DocumentRenderer, context_for, sample_lines
from activities.pdf_engine import BUILTIN_TEMPLATES
from domain.money import line_net
from starter.devstack.samples import SAMPLES, render_samples, sample_context
from tests.helpers import pdf_text


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import asyncio

    out = tmp_path_factory.mktemp("samples")
    paths = asyncio.run(render_samples(out))
    return {path.stem: pdf_text(path.read_bytes()).replace("\u202f", " ") for path in paths}


def test_romanian_factura_has_every_mention_of_article_319(samples: dict[str, str]) -> None:
    text = samples["invoice-ro"]
    for mention in (
        "FACTURĂ",
        "Seria și numărul",
        "IAV-2026-00042",
        "Data emiterii",
        "23 noiembrie 2026",
        "Casa de Avocatură Ionescu și Asociații",  # ș ț ă î â as text
        "Nr. Reg. Com.: J40/1234/2020",
        "CUI/CIF: RO18547290",
        "Str. Știrbei Vodă 12",
        "IBAN: RO49AAAA1B31007593840000",
        "Banca Transilvania",
        "Șantierul Naval Constanța SA",
        "CUI/CIF: RO12345674",
        "Nr. Reg. Com.: J13/567/1991",
        "Preț unitar (fără TVA)",
        "450,00 RON",
        # 12 x 450 + 3200 less 10 % = 8280.00 at 21 %; 8 x 60 = 480.00 at 11 %.
        "Baza de impozitare TVA",
        "Cota 21% 8.280,00 RON 1.738,80 RON",
        "Cota 11% 480,00 RON 52,80 RON",
        "Total 8.760,00 RON 1.791,60 RON",
        "Total de plată 10.551,60 RON",
        "zece mii cinci sute cincizeci și unu de lei și șaizeci de bani",
    ):
        assert mention in text, mention


def test_russian_schet_has_the_bank_block_totals_words_and_signatures(
    samples: dict[str, str],
) -> None:
    text = samples["invoice-ru"]
    for mention in (
        "ПАО Сбербанк, г. Москва",
        "Банк получателя",
        "БИК 044525225",
        "30101810400000000225",
        "40702810938000012345",
        "ИНН 7707083893",
        "КПП 773601001",
        "Получатель",
        "Счёт на оплату № СЧ-2026-00017 от 23 ноября 2026 г.",
        "Поставщик",
        "Покупатель",
        "АО «Северный порт»",
        # 10 x 5000 + 15000 = 65000 net, НДС 22 % = 14300.
        "Итого: 79 300,00 ₽",
        "В том числе НДС (22%): 14 300,00 ₽",
        "Всего к оплате: 79 300,00 ₽",
        "Всего наименований 2, на сумму 79 300,00 ₽",
        "Семьдесят девять тысяч триста рублей 00 копеек",
        "Руководитель",
        "Бухгалтер",
    ):
        assert mention in text, mention
    # The bank block comes before the title, as on a payment order.
    assert text.index("БИК") < text.index("Счёт на оплату")


def test_english_invoice_and_zero_rated_schet(samples: dict[str, str]) -> None:
    text = samples["invoice-en"]
    for mention in (
        "Invoice No. INV-2026-00108",
        "November 23, 2026",
        "Nordic Shipping GmbH",
        "VAT ID: DE136695976",
        "IBAN: RO09BCYP0000001234567890",
        "Subtotal",
        "Total",
        "1,330.00",
        "one thousand three hundred and thirty euro",
    ):
        assert mention in text, mention


def test_proposals_per_locale(samples: dict[str, str]) -> None:
    assert "OFERTĂ" in samples["proposal-ro"] and "10.551,60 RON" in samples["proposal-ro"]
    assert "Valabilă până la" in samples["proposal-ro"]
    assert "Коммерческое предложение" in samples["proposal-ru"]
    assert "79 300,00 ₽" in samples["proposal-ru"] and "Без НДС" not in samples["proposal-ru"]
    assert "Proposal" in samples["proposal-en"] and "Valid until" in samples["proposal-en"]


async def test_a_hundred_lines_break_cleanly(tmp_path: Path) -> None:
    renderer = DocumentRenderer()
    short = await renderer.render_pdf("pdf/invoice.html", sample_context("ro", "invoice", 15))
    assert len(PdfReader(io.BytesIO(short)).pages) == 1, "15 lines fit on one A4 page"

    long = await renderer.render_pdf("pdf/invoice.html", sample_context("ro", "invoice", 100))
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(long)).pages]
    assert len(pages) > 1
    for page in pages:
        assert "Preț unitar (fără TVA)" in page, "the table header repeats on every page"
    assert all("Total de plată" not in page for page in pages[:-1])
    assert "Total de plată" in pages[-1]
    assert "(100)" in pages[-1]


async def test_a_template_override_folder_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "invoice.ro.html").write_text(
        '{% extends "pdf/_layout.html" %}{% block body %}'
        "<h1>Factura noastră {{ number }}</h1><p>{{ total }}</p>{% endblock %}",
        encoding="utf-8",
    )
    monkeypatch.setenv("Q2C_TEMPLATES_DIR", str(tmp_path))
    text = pdf_text(
        await DocumentRenderer().render_pdf("pdf/invoice.html", sample_context("ro", "invoice"))
    )
    assert "Factura noastră IAV-2026-00042" in text and "10.551,60 RON" in text
    # The other locales keep the built-in layout.
    text = pdf_text(
        await DocumentRenderer().render_pdf("pdf/invoice.html", sample_context("ru", "invoice"))
    )
    assert "Всего к оплате" in text


def _ro_invoice_context(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The Romanian sample invoice with other lines."""
    sample = SAMPLES["ro"]
    rows = [{"unit": "", "discount_percent": Decimal(0)} | row for row in rows]
    for row, line in zip(rows, sample_lines(rows), strict=True):
        row["net_amount"] = line_net(line, sample.currency)
    context = sample_context("ro", "invoice")
    document = {"currency": sample.currency, "notes": "", "number": sample.number}
    brand = {"logo": "", "accent": "#1f4e79", "footer": ""}
    buyer = sample.buyer | {"locale": "ro"}
    return (
        context
        | context_for("invoice", document, rows, sample.seller, buyer, sample.bank, brand)
        | {"issue_date": context["issue_date"], "due_date": context["due_date"]}
    )


def _text_outside_its_cell(document: Any) -> list[str]:
    """Every piece of text laid out past the edges of the table cell it is in (its padding
    included: a line number hangs into it)."""
    from weasyprint.formatting_structure import boxes

    overflowing = []
    for page in document.pages:
        for cell in page._page_box.descendants():
            if not isinstance(cell, boxes.TableCellBox):
                continue
            left = cell.padding_box_x()
            right = left + cell.padding_width()
            for text in cell.descendants():
                if isinstance(text, boxes.TextBox) and (
                    text.position_x < left - 0.01 or text.position_x + text.width > right + 0.01
                ):
                    overflowing.append(text.text)
    return overflowing


async def test_a_long_description_wraps_and_a_12_digit_amount_fits_its_column() -> None:
    unbroken = "Servicii" + "ABCDEFGHIJ" * 18
    context = _ro_invoice_context(
        [
            {
                "description": unbroken,
                "unit": "oră",
                "quantity": Decimal("1"),
                "unit_price": Decimal("1234567890.12"),
                "vat_rate": Decimal("21"),
            },
            {
                "description": "Consultanță juridică maritimă",
                "unit": "oră",
                "quantity": Decimal("12"),
                "unit_price": Decimal("450.00"),
                "vat_rate": Decimal("21"),
            },
        ]
    )
    renderer = DocumentRenderer()
    html = renderer.render_html("pdf/invoice.html", context)
    laid_out = pdf_engine.render_document(html, str(BUILTIN_TEMPLATES))
    assert _text_outside_its_cell(laid_out) == []

    pdf = await renderer.render_pdf("pdf/invoice.html", context)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    text = pdf_text(pdf)
    assert unbroken in text.replace("\n", ""), "the description wraps, none of it is lost"
    assert "1.234.567.890,12 RON" in text  # the unit price and the line's net
    # 1.234.567.890,12 + 5.400,00 at 21 %: base 1.234.573.290,12, VAT 259.260.390,93.
    assert "Total 1.234.573.290,12 RON 259.260.390,93 RON" in text
    assert "Total de plată 1.493.833.681,05 RON" in text


def test_no_text_leaves_its_cell_in_any_sample_document() -> None:
    renderer = DocumentRenderer()
    for locale in SAMPLES:
        for kind in ("invoice", "proposal"):
            html = renderer.render_html(f"pdf/{kind}.html", sample_context(locale, kind, 15))
            laid_out = pdf_engine.render_document(html, str(BUILTIN_TEMPLATES))
            assert len(laid_out.pages) == 1, f"{kind}-{locale}: 15 lines on one page"
            assert _text_outside_its_cell(laid_out) == [], f"{kind}-{locale}"


def test_the_pdf_engine_lays_out_with_its_own_user_agent_stylesheet() -> None:
    """pdf_engine replaces WeasyPrint's private HTML._ua_stylesheets: if a WeasyPrint
    release stops calling it, this fails instead of the documents quietly changing."""
    calls: list[bool] = []

    class Recording(pdf_engine._lean_html()):  # type: ignore[misc]
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            calls.append(forms)
            sheets: list[Any] = super()._ua_stylesheets(forms)
            return sheets

    Recording(string="<h1>Factură</h1><table><tr><td>1</td><td>2</td></tr></table>").render()
    assert calls, "WeasyPrint no longer asks HTML._ua_stylesheets for its stylesheet"

    # What the small stylesheet gives: a bold heading, table cells side by side.
    pdf = pdf_engine.write_pdf(
        "<h1>Factură</h1><table><tr><td>Cota 21%</td><td>1.738,80 RON</td></tr></table>",
        str(BUILTIN_TEMPLATES),
    )
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    resources: Any = page["/Resources"]
    fonts = [str(font.get_object()["/BaseFont"]) for font in resources["/Font"].values()]
    assert any("Bold" in font for font in fonts), fonts
    assert "Cota 21% 1.738,80 RON" in pdf_text(pdf)


async def test_an_override_folders_base_css_is_the_house_stylesheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pdf").mkdir()
    house = (BUILTIN_TEMPLATES / "pdf" / "base.css").read_text(encoding="utf-8")
    (tmp_path / "pdf" / "base.css").write_text(
        house + 'h1::after { content: " (copie)"; }', encoding="utf-8"
    )
    monkeypatch.setenv("Q2C_TEMPLATES_DIR", str(tmp_path))
    text = pdf_text(
        await DocumentRenderer().render_pdf("pdf/invoice.html", sample_context("ro", "invoice"))
    )
    assert "FACTURĂ (copie)" in text
    assert "Total de plată 10.551,60 RON" in text
