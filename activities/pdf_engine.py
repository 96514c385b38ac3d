"""HTML to PDF with WeasyPrint, and nothing else: the module the worker's render processes
import, so each carries WeasyPrint and not the worker's database, template and locale code
(about 25 MiB less per process).

Every PDF is laid out with two stylesheets this module parses once per process instead of
once per document: a small user-agent stylesheet (`_USER_AGENT_CSS`, in place of
WeasyPrint's full HTML one) and the house stylesheet `templates/pdf/base.css` (or the
override folder's), applied with the "user" origin so a template's own ``<style>`` still
wins over it. WeasyPrint's time is per box and per line of text, so the templates are
written to make few of them (see base.css)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from templates import TEMPLATES_DIR

BUILTIN_TEMPLATES = TEMPLATES_DIR
HOUSE_STYLESHEET = "pdf/base.css"

# What the templates need of WeasyPrint's HTML user-agent stylesheet (html5_ua.css, ~170
# rules, matched against every element of every document): which elements are blocks,
# tables and hidden, and which are bold or italic. Margins, paddings and sizes all come
# from base.css. Replacing it goes through `HTML._ua_stylesheets`, a private method, so
# pyproject.toml pins WeasyPrint's minor version and tests/test_documents.py checks that
# headings are bold and tables are tables, which would fail if the hook stopped applying.
_USER_AGENT_CSS = """
head, link, meta, script, style, title, template, [hidden] { display: none }
address, article, aside, blockquote, body, div, dl, dt, dd, figure, figcaption, footer,
form, h1, h2, h3, h4, h5, h6, header, hr, html, main, nav, ol, p, pre, section, ul
{ display: block }
li { display: list-item }
ol { list-style-type: decimal }
ul { list-style-type: disc }
ol, ul { padding-left: 40px; counter-reset: list-item }
table { display: table; box-sizing: border-box; border-collapse: separate; border-spacing: 0 }
caption { display: table-caption }
colgroup { display: table-column-group }
col { display: table-column }
thead { display: table-header-group }
tbody { display: table-row-group }
tfoot { display: table-footer-group }
tr { display: table-row }
td, th { display: table-cell; vertical-align: inherit }
thead, tbody, tfoot, table > tr { vertical-align: middle }
b, strong, th, h1, h2, h3, h4, h5, h6 { font-weight: bold }
em, i, cite, address { font-style: italic }
pre, code, kbd, samp { font-family: monospace }
pre { white-space: pre }
small, sub, sup { font-size: smaller }
sub { vertical-align: sub }
sup { vertical-align: super }
u, ins { text-decoration: underline }
s, del { text-decoration: line-through }
br::before { content: "\\A"; white-space: pre-line }
img, svg { overflow: hidden }
h1, h2, h3, h4, h5, h6 { break-after: avoid; break-inside: avoid }
@page {
  margin: 75px;
  @top-left { text-align: left; vertical-align: middle }
  @top-center { text-align: center; vertical-align: middle }
  @top-right { text-align: right; vertical-align: middle }
  @bottom-left { text-align: left; vertical-align: middle }
  @bottom-center { text-align: center; vertical-align: middle }
  @bottom-right { text-align: right; vertical-align: middle }
}
"""


# Per thread (so per process in a process pool): a WeasyPrint FontConfiguration is a
# fontconfig setup plus a Pango font map, not safe to share between threads, and costly
# enough (fontconfig init, @font-face files written and scanned) to make once, not per PDF.
# Keyed by the override folder, since its fonts may differ from the built-in ones. The
# house stylesheet registers its @font-face rules with that configuration, so it is kept
# beside it.
_render_state = threading.local()


def _font_config(override: str | None) -> Any:
    from weasyprint.text.fonts import FontConfiguration

    configs: dict[str | None, Any] | None = getattr(_render_state, "font_configs", None)
    if configs is None:
        configs = _render_state.font_configs = {}
    if override not in configs:
        configs[override] = FontConfiguration()
    return configs[override]


def _house_stylesheet_path(override: str | None) -> Path:
    if override:
        candidate = Path(override) / HOUSE_STYLESHEET
        if candidate.is_file():
            return candidate
    return BUILTIN_TEMPLATES / HOUSE_STYLESHEET


def _house_stylesheet(override: str | None, base_url: str, url_fetcher: Any) -> Any:
    """base.css parsed once per thread: its selectors compiled and its fonts registered.
    Parsed again when the file changes, as Jinja reloads a changed template."""
    from weasyprint import CSS

    path = _house_stylesheet_path(override)
    key = (override, str(path), path.stat().st_mtime_ns, base_url)
    sheets: dict[str | None, tuple[Any, Any]] | None = getattr(_render_state, "house", None)
    if sheets is None:
        sheets = _render_state.house = {}
    cached = sheets.get(override)
    if cached is None or cached[0] != key:
        sheet = CSS(
            string=path.read_text(encoding="utf-8"),
            base_url=base_url,
            url_fetcher=url_fetcher,
            font_config=_font_config(override),
        )
        cached = sheets[override] = (key, sheet)
    return cached[1]


_lean_html_class: Any = None


def _lean_html() -> Any:
    """weasyprint.HTML with `_USER_AGENT_CSS` as its user-agent stylesheet."""
    global _lean_html_class
    if _lean_html_class is None:
        from weasyprint import CSS, HTML  # imported in the executor so the worker starts fast

        user_agent = CSS(string=_USER_AGENT_CSS)

        class LeanHTML(HTML):  # type: ignore[misc]
            def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
                return [user_agent]

        _lean_html_class = LeanHTML
    return _lean_html_class


def _url_fetcher(override: str | None) -> Any:
    """The fetcher of `_templates_only_fetcher`, made once per thread and override folder."""
    fetchers: dict[str | None, Any] | None = getattr(_render_state, "fetchers", None)
    if fetchers is None:
        fetchers = _render_state.fetchers = {}
    if override not in fetchers:
        fetchers[override] = _templates_only_fetcher(override)
    return fetchers[override]


def _templates_only_fetcher(override: str | None) -> Any:
    """Only `data:` URLs and files inside the template folders are fetched: a template or a
    value in it (a client's logo URL, a pasted <img>) must not read /etc/passwd into a PDF
    or reach the network (cloud metadata at 169.254.169.254, internal services).
    Fonts, stylesheets and images under templates/ may be overridden too: a file of the
    same relative name in Q2C_TEMPLATES_DIR wins."""
    from urllib.request import url2pathname

    from weasyprint.urls import URLFetcher

    builtin = BUILTIN_TEMPLATES.as_uri() + "/"
    folder = Path(override) if override else None
    allowed = [BUILTIN_TEMPLATES.resolve()] + ([folder.resolve()] if folder else [])

    def inside_templates(url: str) -> bool:
        if not url.lower().startswith("file:"):
            return False
        local = Path(url2pathname(url.split("?")[0].split("#")[0].removeprefix("file:")))
        resolved = local.resolve()
        return any(resolved.is_relative_to(root) for root in allowed)

    class TemplatesOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if folder is not None and url.startswith(builtin):
                candidate = folder / url.removeprefix(builtin)
                if candidate.is_file():
                    url = candidate.as_uri()
            if not (url.lower().startswith("data:") or inside_templates(url)):
                # WeasyPrint logs it and lays the document out without the resource.
                raise ValueError(f"refused to fetch {url[:200]!r}: not data: or templates/")
            return super().fetch(url, headers)

    return TemplatesOnly(allowed_protocols=("data", "file"), allow_redirects=False)


def render_document(html: str, base_url: str, override: str | None = None) -> Any:
    """The laid-out WeasyPrint document (pages of boxes), before it is drawn as a PDF."""
    fetcher = _url_fetcher(override)
    source = _lean_html()(string=html, base_url=base_url, url_fetcher=fetcher)
    return source.render(
        font_config=_font_config(override),
        stylesheets=[_house_stylesheet(override, base_url, fetcher)],
    )


def write_pdf(html: str, base_url: str, override: str | None = None) -> bytes:
    pdf: bytes = render_document(html, base_url, override).write_pdf()
    return pdf


_WARM_UP_HTML = """<!doctype html><html><head><meta charset="utf-8"></head>
<body><h1>Factură № 1</h1><table><thead><tr><th>Ș ț ă</th></tr></thead>
<tbody><tr><td>Счёт 1.234,56 RON €</td></tr></tbody></table></body></html>"""


def warm_up_renderer(override: str | None = None) -> None:
    """Import WeasyPrint, parse the house stylesheet and lay out one small page with the
    fonts of the template folders (`override`, the user's Q2C_TEMPLATES_DIR, passed in by
    the worker: a render process reads no settings), so the first real document in this
    process (a process-pool worker's initializer) is a warm one: the cold first render
    costs several times a warm one."""
    write_pdf(_WARM_UP_HTML, str(BUILTIN_TEMPLATES), override)


# WeasyPrint subsets each embedded font with HarfBuzz's subset library when the system has
# it (Debian: libharfbuzz-subset0, HarfBuzz >= 4.1) and with fontTools otherwise, which
# makes a warm invoice render about twice as slow. `make run`, `make test` and `make bench`
# install the library; the worker warns at start when it is missing.
FAST_PATH_PACKAGES = ("libharfbuzz-subset0",)


def fast_font_subsetting() -> bool:
    """Whether WeasyPrint will subset fonts with HarfBuzz (its fast path), as it decides in
    weasyprint.pdf.fonts.Font.subset."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    return harfbuzz_subset is not None and bool(harfbuzz.hb_version_atleast(4, 1, 0))


def ready() -> bool:
    """A no-op task: submitting one per process makes a process pool start them all."""
    return True
