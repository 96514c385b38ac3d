"""PDFs render on WeasyPrint's fast path: fonts subset with HarfBuzz's subset library, not
with fontTools (about twice the time for a warm invoice). The Makefile installs the
library; these tests fail on a machine where renders would take the fallback."""

from __future__ import annotations

import logging

import pytest

import worker
from activities.pdf_engine import BUILTIN_TEMPLATES, fast_font_subsetting, write_pdf

FALLBACK_WARNING = "Using fontTools instead of HarfBuzz-Subset"
INVOICE_LIKE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<h1>Factură № 12</h1><p>Счёт · Ș ț ă î â · 4 477,00 RON</p></body></html>"""


def test_fonts_are_subset_with_harfbuzz() -> None:
    assert fast_font_subsetting(), (
        "HarfBuzz's subset library is missing: install the Debian package libharfbuzz-subset0"
        " (make test does)"
    )


def test_a_render_does_not_take_the_fonttools_fallback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = write_pdf(INVOICE_LIKE, str(BUILTIN_TEMPLATES))
    assert pdf.startswith(b"%PDF")
    assert not [r for r in caplog.records if FALLBACK_WARNING in r.getMessage()]


def test_the_fallback_is_seen_when_the_library_is_missing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two checks above can fail: without the library WeasyPrint warns on every font
    it subsets, fast_font_subsetting says so, and the worker warns at start."""
    import weasyprint.pdf.fonts
    import weasyprint.text.ffi

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    monkeypatch.setattr(weasyprint.text.ffi, "harfbuzz_subset", None)
    with caplog.at_level(logging.WARNING):
        write_pdf(INVOICE_LIKE.replace("12", "13"), str(BUILTIN_TEMPLATES))
        assert not fast_font_subsetting()
        worker.warn_of_slow_renders()
    messages = [record.getMessage() for record in caplog.records]
    assert any(FALLBACK_WARNING in message for message in messages)
    assert any("libharfbuzz-subset0" in message for message in messages)
