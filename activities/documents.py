"""Documents: Jinja2 templates (overridable via Q2C_TEMPLATES_DIR) and WeasyPrint PDFs.

WeasyPrint is CPU-bound, so it runs on an executor, never on the event loop; the PDF is
stored in PostgreSQL and only its key travels between steps.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import mimetypes
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from activities import store
from activities.store import Connection, Row
from domain.i18n import format_day, format_money, labels, pick_locale
from domain.money import compute_totals, plain_decimal
from domain.words import amount_in_words

# An asyncpg Record or, for samples, a plain dict: both are read by key.
RowLike = Any

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_override() -> str | None:
    """The user's template folder (Q2C_TEMPLATES_DIR), searched before the built-in one."""
    return os.environ.get("Q2C_TEMPLATES_DIR") or None


def template_environment() -> jinja2.Environment:
    search_path = [str(BUILTIN_TEMPLATES)]
    override = template_override()
    if override:
        search_path.insert(0, override)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment


def localized_template(template: str, locale: str) -> list[str]:
    """``pdf/invoice.html`` in Romanian is ``pdf/invoice.ro.html``, else the plain name."""
    stem, dot, suffix = template.rpartition(".")
    if not dot:
        return [template]
    return [f"{stem}.{pick_locale(locale)}.{suffix}", template]


def _write_pdf(html: str, base_url: str, override: str | None = None) -> bytes:
    from weasyprint import HTML  # imported in the executor so the worker starts fast
    from weasyprint.urls import URLFetcher

    builtin = BUILTIN_TEMPLATES.as_uri() + "/"

    class Overriding(URLFetcher):  # type: ignore[misc]
        """Fonts, stylesheets and images under templates/ may be overridden too: a file of
        the same relative name in Q2C_TEMPLATES_DIR wins."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if override and url.startswith(builtin):
                candidate = Path(override) / url.removeprefix(builtin)
                if candidate.is_file():
                    url = candidate.as_uri()
            return super().fetch(url, headers)

    fetcher = Overriding() if override else None
    pdf: bytes = HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()
    return pdf


@dataclass(frozen=True)
class StoredDocument:
    key: str
    sha256: str


class DocumentRenderer:
    def __init__(self, executor: Executor | None = None) -> None:
        self.templates = template_environment()
        self._executor = executor

    def render_text(self, template: str, **context: Any) -> str:
        return self.templates.get_template(template).render(**context)

    async def render_pdf(self, template: str, context: dict[str, Any]) -> bytes:
        html = self.render_html(template, context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _write_pdf, html, str(BUILTIN_TEMPLATES), template_override()
        )

    def render_html(self, template: str, context: dict[str, Any]) -> str:
        """The document's HTML: ``pdf/invoice.<locale>.html`` when there is one (the layout
        of that country's documents), else the template as named."""
        names = localized_template(template, str(context.get("locale", "")))
        return self.templates.select_template(names).render(**context)

    def email(self, kind: str, locale: str, **context: Any) -> tuple[str, str]:
        """(subject, body) from templates/email/<locale>/<kind>.txt: a Subject line, a blank
        line, then the body."""
        text = self.render_text(f"email/{pick_locale(locale)}/{kind}.txt", **context)
        head, _, body = text.partition("\n\n")
        if not head.startswith("Subject: "):
            raise ValueError(f"email template {kind} must start with 'Subject: '")
        return head.removeprefix("Subject: ").strip(), body.strip() + "\n"


async def store_document(conn: Connection, key: str, content: bytes) -> StoredDocument:
    digest = hashlib.sha256(content).hexdigest()
    await conn.execute(
        """INSERT INTO documents (key, content, sha256) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET content = EXCLUDED.content,
               sha256 = EXCLUDED.sha256, created_at = now()""",
        key,
        content,
        digest,
    )
    return StoredDocument(key, digest)


def _line_view(row: RowLike, currency: str, locale: str) -> dict[str, Any]:
    return {
        "description": row["description"],
        "quantity": plain_decimal(row["quantity"]),
        "unit": row["unit"],
        "unit_price": format_money(row["unit_price"], currency, locale),
        "discount_percent": plain_decimal(row["discount_percent"]),
        "vat_rate": plain_decimal(row["vat_rate"]),
        "net": format_money(row["net_amount"], currency, locale),
    }


async def document_context(
    conn: Connection, document: Row, line_rows: list[Row], kind: str
) -> dict[str, Any]:
    """Everything a proposal or invoice template shows, already formatted for the locale."""
    seller = await store.company(conn, document["company_id"])
    buyer = await store.client(conn, document["client_id"])
    bank = await seller_bank_account(conn, seller, document["currency"].strip())
    return context_for(kind, document, line_rows, seller, buyer, bank, await _brand(conn, seller))


def context_for(
    kind: str,
    document: RowLike,
    line_rows: Sequence[RowLike],
    seller: RowLike,
    buyer: RowLike,
    bank: Mapping[str, str],
    brand: Mapping[str, str],
) -> dict[str, Any]:
    """The template context from rows already read (also used by `make samples`)."""
    locale = pick_locale(buyer["locale"])
    currency = document["currency"].strip()
    totals = compute_totals(store.as_lines(line_rows), currency)

    def money(value: Decimal) -> str:
        return format_money(value, currency, locale)

    def day(value: date | None) -> str:
        return format_day(value, locale) if value else ""

    paid = document["amount_paid"] if "amount_paid" in document else Decimal(0)
    due = max(totals.total - paid, Decimal(0))
    return {
        "kind": kind,
        "locale": locale,
        "t": labels(locale),
        "seller": dict(seller),
        "buyer": dict(buyer),
        "number": document["number"] if "number" in document else None,
        "issue_date": day(document["issue_date"]) if "issue_date" in document else "",
        "due_date": day(document["due_date"]) if "due_date" in document else "",
        "valid_until": day(document["valid_until"]) if "valid_until" in document else "",
        "currency": currency,
        "lines": [_line_view(row, currency, locale) for row in line_rows],
        "vat_groups": [
            {"rate": plain_decimal(group.rate), "base": money(group.base), "vat": money(group.vat)}
            for group in totals.vat_groups
        ],
        "subtotal": money(totals.subtotal),
        "vat_total": money(totals.vat_total),
        "total": money(totals.total),
        "amount_paid": money(paid),
        "amount_due": money(due),
        "notes": document["notes"],
        # Added for the per-locale layouts (issue 4); the keys above keep their meaning.
        "seller_bank": dict(bank),
        "amount_in_words": amount_in_words(totals.total, currency, locale),
        "amount_due_in_words": amount_in_words(due, currency, locale),
        "line_count": len(line_rows),
        "vat_free": all(group.rate == 0 for group in totals.vat_groups),
        "brand": dict(brand),
        "terms_days": (
            document["payment_terms_days"] if "payment_terms_days" in document else None
        ),
    }


_BANK_FIELDS = (
    "bank_name",
    "iban",
    "bic",
    "settlement_account",
    "bik",
    "correspondent_account",
)


async def seller_bank_account(conn: Connection, seller: RowLike, currency: str) -> dict[str, str]:
    """The account printed on a document: the seller's default account in the document's
    currency, else its first account in that currency, else the details on the company."""
    row = await conn.fetchrow(
        """SELECT * FROM company_bank_accounts WHERE company_id = $1 AND currency = $2
           ORDER BY is_default DESC, created_at, id LIMIT 1""",
        seller["id"],
        currency,
    )
    source: RowLike = row if row is not None else seller
    return {field: (source[field] or "").strip() for field in _BANK_FIELDS}


async def _brand(conn: Connection, seller: RowLike) -> dict[str, str]:
    """The seller's logo (a documents-table key or a file path, as a data URI), accent
    colour and footer line."""
    logo = (seller["logo"] or "").strip()
    logo_uri = ""
    if logo:
        stored = await conn.fetchrow(
            "SELECT content, content_type FROM documents WHERE key = $1", logo
        )
        content: bytes | None = None
        content_type = ""
        if stored is not None:
            content, content_type = bytes(stored["content"]), stored["content_type"]
        else:
            path = Path(logo)
            if not path.is_absolute():
                path = BUILTIN_TEMPLATES / path
            if path.is_file():
                content = path.read_bytes()
                content_type = mimetypes.guess_type(path.name)[0] or ""
        if content is not None and content_type.startswith("image/"):
            logo_uri = f"data:{content_type};base64," + base64.b64encode(content).decode()
    return {
        "logo": logo_uri,
        "accent": (seller["accent_color"] or "#1f4e79").strip(),
        "footer": (seller["footer_text"] or "").strip(),
    }
