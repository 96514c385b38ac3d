"""Documents: Jinja2 templates (overridable via Q2C_TEMPLATES_DIR) and WeasyPrint PDFs.

WeasyPrint is CPU-bound, so it runs on an executor, never on the event loop; the PDF is
stored in PostgreSQL and only its key travels between steps.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
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

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def template_environment() -> jinja2.Environment:
    search_path = [str(BUILTIN_TEMPLATES)]
    override = os.environ.get("Q2C_TEMPLATES_DIR")
    if override:
        search_path.insert(0, override)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment


def _write_pdf(html: str, base_url: str) -> bytes:
    from weasyprint import HTML  # imported in the executor so the worker starts fast

    pdf: bytes = HTML(string=html, base_url=base_url).write_pdf()
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
        html = self.render_text(template, **context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _write_pdf, html, str(BUILTIN_TEMPLATES))

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


def _line_view(row: Row, currency: str, locale: str) -> dict[str, Any]:
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
    locale = pick_locale(buyer["locale"])
    currency = document["currency"].strip()
    totals = compute_totals(store.as_lines(line_rows), currency)

    def money(value: Decimal) -> str:
        return format_money(value, currency, locale)

    def day(value: date | None) -> str:
        return format_day(value, locale) if value else ""

    paid = document["amount_paid"] if "amount_paid" in document else Decimal(0)
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
        "amount_due": money(max(totals.total - paid, Decimal(0))),
        "notes": document["notes"],
    }
