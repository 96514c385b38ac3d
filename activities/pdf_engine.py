"""HTML to PDF with WeasyPrint, and nothing else: the module the worker's render processes
import, so each carries WeasyPrint and not the worker's database, template and locale code
(about 25 MiB less per process)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_override() -> str | None:
    """The user's template folder (Q2C_TEMPLATES_DIR), searched before the built-in one."""
    return os.environ.get("Q2C_TEMPLATES_DIR") or None


# Per thread (so per process in a process pool): a WeasyPrint FontConfiguration is a
# fontconfig setup plus a Pango font map, not safe to share between threads, and costly
# enough (fontconfig init, @font-face files written and scanned) to make once, not per PDF.
# Keyed by the override folder, since its fonts may differ from the built-in ones.
_render_state = threading.local()


def _font_config(override: str | None) -> Any:
    from weasyprint.text.fonts import FontConfiguration

    configs: dict[str | None, Any] | None = getattr(_render_state, "font_configs", None)
    if configs is None:
        configs = _render_state.font_configs = {}
    if override not in configs:
        configs[override] = FontConfiguration()
    return configs[override]


def _url_fetcher(override: str | None) -> Any:
    """Fonts, stylesheets and images under templates/ may be overridden too: a file of the
    same relative name in Q2C_TEMPLATES_DIR wins."""
    if not override:
        return None
    from weasyprint.urls import URLFetcher

    builtin = BUILTIN_TEMPLATES.as_uri() + "/"
    folder = Path(override)

    class Overriding(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith(builtin):
                candidate = folder / url.removeprefix(builtin)
                if candidate.is_file():
                    url = candidate.as_uri()
            return super().fetch(url, headers)

    return Overriding()


def write_pdf(html: str, base_url: str, override: str | None = None) -> bytes:
    from weasyprint import HTML  # imported in the executor so the worker starts fast

    document = HTML(string=html, base_url=base_url, url_fetcher=_url_fetcher(override))
    pdf: bytes = document.write_pdf(font_config=_font_config(override))
    return pdf


_WARM_UP_HTML = """<!doctype html><html><head><meta charset="utf-8"><style>
@font-face { font-family: "Q2C Sans"; src: url("fonts/DejaVuSans.ttf"); }
@font-face { font-family: "Q2C Sans"; font-weight: bold; src: url("fonts/DejaVuSans-Bold.ttf"); }
@page { size: A4; @bottom-right { content: counter(page) " / " counter(pages); } }
body { font-family: "Q2C Sans", sans-serif; }</style></head>
<body><h1>Factură № 1</h1><table><thead><tr><th>Ș ț ă</th></tr></thead>
<tbody><tr><td>Счёт 1.234,56 RON €</td></tr></tbody></table></body></html>"""


def warm_up_renderer() -> None:
    """Import WeasyPrint and lay out one small page with the built-in fonts, so the first
    real document in this process (a process-pool worker's initializer) is a warm one:
    the cold first render costs several times a warm one."""
    write_pdf(_WARM_UP_HTML, str(BUILTIN_TEMPLATES), template_override())


def ready() -> bool:
    """A no-op task: submitting one per process makes a process pool start them all."""
    return True
