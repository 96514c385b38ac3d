"""Documents: Jinja2 templates (overridable via Q2C_TEMPLATES_DIR) and WeasyPrint PDFs.

WeasyPrint is CPU-bound, so it runs on an executor, never on the event loop; the PDF is
stored in PostgreSQL and only its key travels between steps.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import mimetypes
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from babel.numbers import format_decimal

from activities import metrics
from activities.pdf_engine import BUILTIN_TEMPLATES
from activities.pdf_engine import write_pdf as _write_pdf
from db import clients, companies, contracts, documents, store
from db.rows import ClientRow, CompanyRow, ContractRow, CreditNoteRow, InvoiceRow, ProposalRow
from db.store import Connection, LineRow
from domain.contracts import DocumentLine
from domain.i18n import format_day, format_money, labels, pick_locale
from domain.money import Line, plain_decimal
from domain.parties import BankDetails, BuyerDetails, IssuedParties, SellerDetails, parties_of
from domain.vat import (
    DocumentTotals,
    VatCategory,
    compute_document_totals,
    legal_mention,
    line_category,
    net_from_gross,
    vat_in_ron,
)
from domain.words import amount_in_words
from settings import Settings

# What the template side reads by column name: stored rows as dicts (dataclasses.asdict),
# or the plain dicts of `make samples`.
RowLike = Mapping[str, Any]


def template_override(templates_dir: Path | None = None) -> Path | None:
    """The user's template folder, searched before the built-in one: `templates_dir`, else
    the one the settings name (Q2C_TEMPLATES_DIR), else none."""
    return templates_dir or Settings.from_env().templates_dir


def template_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    search_path = [str(BUILTIN_TEMPLATES)]
    override = template_override(templates_dir)
    if override:
        search_path.insert(0, str(override))
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


@dataclass(frozen=True)
class StoredDocument:
    key: str
    sha256: str


class DocumentRenderer:
    def __init__(self, executor: Executor | None = None, templates_dir: Path | None = None) -> None:
        override = template_override(templates_dir)
        self.templates = template_environment(override)
        # Passed with every PDF: the render processes read no settings of their own.
        self._override = str(override) if override else None
        self._executor = executor

    def render_text(self, template: str, **context: Any) -> str:
        return self.templates.get_template(template).render(**context)

    async def render_pdf(self, template: str, context: dict[str, Any]) -> bytes:
        # Counted here, in the worker: the render processes have registries of their own.
        kind = metrics.document_kind(template, context)
        started = time.perf_counter()
        try:
            html = self.render_html(template, context)
            loop = asyncio.get_running_loop()
            pdf = await loop.run_in_executor(
                self._executor, _write_pdf, html, str(BUILTIN_TEMPLATES), self._override
            )
        except Exception:
            metrics.RENDER_FAILURES.labels(kind).inc()
            raise
        metrics.RENDER_SECONDS.labels(kind).observe(time.perf_counter() - started)
        metrics.DOCUMENTS_RENDERED.labels(kind).inc()
        return pdf

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


async def store_document(
    conn: Connection, key: str, content: bytes, content_type: str = "application/pdf"
) -> StoredDocument:
    digest = hashlib.sha256(content).hexdigest()
    await documents.put(conn, key, content, digest, content_type)
    return StoredDocument(key, digest)


def _line_view(
    row: RowLike,
    currency: str,
    locale: str,
    *,
    net: Decimal | None = None,
    prices_include_vat: bool = False,
) -> dict[str, Any]:
    """One line as printed: the unit price without VAT (a gross price is shown net, as
    Codul fiscal art. 319 asks) and the line's net (`net`, else the stored one)."""
    unit_price = row["unit_price"]
    if prices_include_vat:
        unit_price = net_from_gross(unit_price, row["vat_rate"], currency)
    return {
        "description": row["description"],
        "quantity": plain_decimal(row["quantity"]),
        "unit": row["unit"],
        "unit_price": format_money(unit_price, currency, locale),
        "discount_percent": plain_decimal(row["discount_percent"]),
        "vat_rate": plain_decimal(row["vat_rate"]),
        "net": format_money(row["net_amount"] if net is None else net, currency, locale),
    }


async def document_context(
    conn: Connection,
    document: InvoiceRow | ProposalRow,
    line_rows: Sequence[LineRow],
    kind: str,
) -> dict[str, Any]:
    """Everything a proposal or invoice template shows, already formatted for the locale:
    the parties as issued once it is (`parties_for`)."""
    seller, buyer, bank = await parties_for(conn, document)
    contract = None
    if document.contract_id is not None:
        contract = await contracts.find(conn, document.contract_id)
    items = store.as_lines(line_rows)
    return context_for(
        kind,
        asdict(document),
        [asdict(row) for row in line_rows],
        asdict(seller),
        asdict(buyer),
        bank,
        await _brand(conn, seller),
        contract=contract,
        totals=store.document_totals(document, items),
        items=items,
    )


async def live_parties(
    conn: Connection, company_id: Any, client_id: Any, currency: str
) -> IssuedParties:
    """The parties as a document issued now prints them: what the numbering (or sending)
    transaction stores with it."""
    seller = await companies.get(conn, company_id)
    buyer = await clients.get(conn, client_id)
    bank = await seller_bank_account(conn, seller, currency.strip())
    return IssuedParties(
        seller=SellerDetails.of(seller),
        buyer=BuyerDetails.of(buyer),
        bank=BankDetails.from_dict(bank),
    )


async def parties_for(
    conn: Connection, document: InvoiceRow | ProposalRow | CreditNoteRow
) -> tuple[CompanyRow, ClientRow, dict[str, str]]:
    """The seller, the buyer and the seller's bank account of a document: as it was issued
    when it stored them, else (a draft, which must show the client's corrected details,
    or a document issued before they were stored) the live rows."""
    seller = await companies.get(conn, document.company_id)
    buyer = await clients.get(conn, document.client_id)
    issued = parties_of(document.issued_parties)
    if issued is None:
        return seller, buyer, await seller_bank_account(conn, seller, document.currency.strip())
    return issued.seller.over(seller), issued.buyer.over(buyer), issued.bank.as_dict()


def as_issued(
    document: InvoiceRow | ProposalRow | CreditNoteRow, seller: CompanyRow, buyer: ClientRow
) -> tuple[CompanyRow, ClientRow]:
    """The live rows already read, with the document's issued details laid over them (no
    further reads: the reminders of a morning are bound by round trips). For what an email
    prints; its recipient stays the live address, which an operator corrects."""
    issued = parties_of(document.issued_parties)
    if issued is None:
        return seller, buyer
    return issued.seller.over(seller), issued.buyer.over(buyer)


def sample_lines(rows: Sequence[RowLike]) -> list[DocumentLine]:
    """Lines given as dicts (`make samples`), read as db.store.as_lines reads stored ones;
    a line without a VAT category follows the rule."""
    return [
        DocumentLine(
            description=row["description"],
            quantity=row["quantity"],
            unit_price=row["unit_price"],
            vat_rate=row["vat_rate"],
            unit=row["unit"],
            discount_percent=row["discount_percent"],
            category=VatCategory(row["vat_category"]) if row.get("vat_category") else None,
            legal_basis=row.get("vat_legal_basis") or "",
        )
        for row in rows
    ]


def context_for(
    kind: str,
    document: RowLike,
    line_rows: Sequence[RowLike],
    seller: RowLike,
    buyer: RowLike,
    bank: Mapping[str, str],
    brand: Mapping[str, str],
    *,
    contract: ContractRow | None = None,
    totals: DocumentTotals | None = None,
    items: Sequence[Line] | None = None,
) -> dict[str, Any]:
    """The template context from rows already read (also used by `make samples`).

    Totals come from `domain.vat.compute_document_totals` with the document's pricing
    (`prices_include_vat`, `discount_percent`; absent keys: net, no discount), unless the
    caller gives them (a document whose figures are derived, e.g. negated). `contract` is
    printed as the document's reference. `items`: the lines as db.store.as_lines reads
    them (else `sample_lines`)."""
    locale = pick_locale(buyer["locale"])
    currency = document["currency"].strip()
    items = list(items) if items is not None else sample_lines(line_rows)
    if totals is None:
        totals = compute_document_totals(
            items,
            currency,
            prices_include_vat=bool(document.get("prices_include_vat")),
            document_discount_percent=document.get("discount_percent") or Decimal(0),
        )
    gross = totals.prices_include_vat

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
        "lines": [
            _line_view(row, currency, locale, net=net, prices_include_vat=gross)
            for row, net in zip(line_rows, totals.line_nets, strict=True)
        ],
        "vat_groups": [
            {
                "rate": plain_decimal(group.rate),
                "base": money(group.base),
                "vat": money(group.vat),
                "category": group.category.value,
                "mention": legal_mention(group.category, locale) or "",
            }
            for group in totals.groups
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
        "vat_free": all(group.rate == 0 for group in totals.groups),
        "brand": dict(brand),
        "terms_days": (
            document["payment_terms_days"] if "payment_terms_days" in document else None
        ),
        # VAT as issue 4 point 4 wants it on the document (domain.vat).
        "prices_include_vat": gross,
        "document_discount": (
            {
                "percent": plain_decimal(totals.document_discount_percent),
                "lines_net": money(totals.lines_net),
                "amount": money(-totals.discount),
            }
            if totals.discount
            else None
        ),
        "legal_mentions": _legal_mentions(totals, items, locale),
        "vat_in_ron": _vat_in_ron(document, seller, totals, locale),
        "contract": (
            {
                "number": contract.number,
                "date": day(contract.contract_date),
                "subject": contract.subject,
            }
            if contract is not None
            else None
        ),
    }


def _legal_mentions(totals: DocumentTotals, items: Sequence[Line], locale: str) -> list[str]:
    """Each VAT group's mention, once per legal basis its lines cite ("Scutit de TVA
    conform art. 292 ..."), else the plain one; in group order, without repeats."""
    mentions: list[str] = []
    for group in totals.groups:
        bases = [
            item.legal_basis
            for item in items
            if isinstance(item, DocumentLine)
            and item.legal_basis.strip()
            and item.vat_rate == group.rate
            and line_category(item) == group.category
        ]
        for basis in dict.fromkeys(bases) or [None]:
            mention = legal_mention(group.category, locale, basis)
            if mention is not None and mention not in mentions:
                mentions.append(mention)
    return mentions


def _vat_in_ron(
    document: RowLike, seller: RowLike, totals: DocumentTotals, locale: str
) -> dict[str, Any] | None:
    """A Romanian seller's invoice in another currency shows its VAT in lei at the exchange
    rate recorded on it (Codul fiscal art. 319 alin. (20) lit. l))."""
    exchange_rate = document["exchange_rate"] if "exchange_rate" in document.keys() else None
    foreign = totals.currency != "RON" and (seller["country"] or "").strip() == "RO"
    if exchange_rate is None or not foreign:
        return None
    ron = vat_in_ron(totals.groups, exchange_rate)
    return {
        # As the central bank publishes it: four decimals at least, the locale's separator.
        "exchange_rate": format_decimal(exchange_rate, format="#,##0.0000##", locale=locale),
        "currency": totals.currency,
        "groups": [
            {
                "rate": plain_decimal(group.rate),
                "vat": format_money(group.vat, totals.currency, locale),
                "vat_ron": format_money(group.vat_ron, "RON", locale),
            }
            for group in ron.groups
            if group.rate
        ],
        "total": format_money(ron.vat_total_ron, "RON", locale),
    }


_BANK_FIELDS = (
    "bank_name",
    "iban",
    "bic",
    "settlement_account",
    "bik",
    "correspondent_account",
)


async def seller_bank_account(
    conn: Connection, seller: CompanyRow, currency: str
) -> dict[str, str]:
    """The account printed on a document: the seller's default account in the document's
    currency, else its first account in that currency, else the details on the company."""
    account = await companies.bank_account_for(conn, seller.id, currency)
    if account is not None:
        return {field: (getattr(account, field) or "").strip() for field in _BANK_FIELDS}
    return {field: (getattr(seller, field) or "").strip() for field in _BANK_FIELDS}


async def _brand(conn: Connection, seller: CompanyRow) -> dict[str, str]:
    """The seller's logo (a documents-table key or a file path, as a data URI), accent
    colour and footer line."""
    logo = (seller.logo or "").strip()
    logo_uri = ""
    if logo:
        stored = await documents.content_of(conn, logo)
        content: bytes | None = None
        content_type = ""
        if stored is not None:
            content, content_type = stored.content, stored.content_type
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
        "accent": (seller.accent_color or "#1f4e79").strip(),
        "footer": (seller.footer_text or "").strip(),
    }
