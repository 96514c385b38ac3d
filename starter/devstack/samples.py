"""Sample documents per locale: a Romanian factură, a Russian счёт на оплату, an English
invoice and a proposal for each, rendered with the real templates from fixed sample data
(no database). `make samples` writes them into samples/ (PDF, then PNG with pdftoppm),
with the Romanian invoice's RO e-Factura XML (invoice-ro.xml, checked with the official
rules); tests/test_documents.py renders them into a temporary folder and reads them back.

    python -m starter.devstack.samples [out_dir] [--lines N]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from activities.documents import DocumentRenderer, context_for, sample_lines
from activities.efactura_rules import fatal, validate
from domain.efactura import (
    DocumentKind,
    EfacturaAddress,
    EfacturaDocument,
    EfacturaLine,
    EfacturaParty,
    build_xml,
)
from domain.money import line_net
from domain.vat import compute_document_totals

D = Decimal


@dataclass(frozen=True)
class Sample:
    locale: str
    currency: str
    seller: dict[str, Any]
    buyer: dict[str, Any]
    bank: dict[str, str]
    lines: list[dict[str, Any]]
    number: str


_RO_SELLER = {
    "id": "seller-ro",
    "name": "Casa de Avocatură Ionescu și Asociații",
    "legal_form": "SCA",
    "country": "RO",
    "email": "facturi@ionescu-avocati.ro",
    "phone": "+40 21 555 0101",
    "address": "Str. Știrbei Vodă 12, București, sector 1",
    "street": "Str. Știrbei Vodă 12",
    "city": "SECTOR1",
    "postal_code": "010102",
    "county": "RO-B",
    "tax_id": "RO18547290",
    "registration_number": "J40/1234/2020",
    "vat_id": "",
    "kpp": "",
    "director_name": "",
    "accountant_name": "",
}
_RU_SELLER = {
    "id": "seller-ru",
    "name": "ООО «Правовой центр „Щит“»",
    "legal_form": "",
    "country": "RU",
    "email": "schet@shchit.ru",
    "phone": "+7 495 555-01-01",
    "address": "125009, г. Москва, ул. Тверская, д. 7, офис 12",
    "tax_id": "7707083893",
    "kpp": "773601001",
    "registration_number": "1027700132195",
    "vat_id": "",
    "director_name": "Иванов И. И.",
    "accountant_name": "Петрова А. С.",
}
_EN_SELLER = _RO_SELLER | {"id": "seller-en", "name": "Ionescu & Partners Law Firm"}

_RO_BANK = {
    "bank_name": "Banca Transilvania",
    "iban": "RO49AAAA1B31007593840000",
    "bic": "BTRLRO22",
    "settlement_account": "",
    "bik": "",
    "correspondent_account": "",
}
_RU_BANK = {
    "bank_name": "ПАО Сбербанк, г. Москва",
    "iban": "",
    "bic": "",
    "settlement_account": "40702810938000012345",
    "bik": "044525225",
    "correspondent_account": "30101810400000000225",
}

SAMPLES: dict[str, Sample] = {
    "ro": Sample(
        "ro",
        "RON",
        _RO_SELLER,
        {
            "name": "Șantierul Naval Constanța",
            "legal_form": "SA",
            "country": "RO",
            "locale": "ro",
            "email": "contabilitate@snc.ro",
            "address": "Incinta Port, Poarta 10, Constanța",
            "street": "Incinta Port, Poarta 10",
            "city": "Constanța",
            "postal_code": "900900",
            "county": "RO-CT",
            "tax_id": "RO12345674",
            "registration_number": "J13/567/1991",
            "vat_id": "",
            "kpp": "",
        },
        _RO_BANK,
        [
            {
                "description": "Consultanță juridică maritimă",
                "unit": "oră",
                "quantity": D("12"),
                "unit_price": D("450.00"),
                "vat_rate": D("21"),
            },
            {
                "description": "Redactare contract navlosire",
                "unit": "buc",
                "quantity": D("1"),
                "unit_price": D("3200.00"),
                "vat_rate": D("21"),
                "discount_percent": D("10"),
            },
            {
                "description": "Traducere autorizată",
                "unit": "pag",
                "quantity": D("8"),
                "unit_price": D("60.00"),
                "vat_rate": D("11"),
            },
        ],
        "IAV-2026-00042",
    ),
    "ru": Sample(
        "ru",
        "RUB",
        _RU_SELLER,
        {
            "name": "АО «Северный порт»",
            "legal_form": "",
            "country": "RU",
            "locale": "ru",
            "email": "buh@sevport.ru",
            "address": "183038, г. Мурманск, ул. Портовая, д. 1",
            "tax_id": "7707083893",
            "kpp": "773601001",
            "registration_number": "",
            "vat_id": "",
        },
        _RU_BANK,
        [
            {
                "description": "Юридическая консультация по договору фрахтования",
                "unit": "ч",
                "quantity": D("10"),
                "unit_price": D("5000.00"),
                "vat_rate": D("22"),
            },
            {
                "description": "Подготовка претензии",
                "unit": "шт",
                "quantity": D("1"),
                "unit_price": D("15000.00"),
                "vat_rate": D("22"),
            },
        ],
        "СЧ-2026-00017",
    ),
    "en": Sample(
        "en",
        "EUR",
        _EN_SELLER,
        {
            "name": "Nordic Shipping GmbH",
            "legal_form": "",
            "country": "DE",
            "locale": "en",
            "email": "ap@nordic-shipping.de",
            "address": "Am Sandtorkai 1, 20457 Hamburg",
            "tax_id": "",
            "vat_id": "DE136695976",
            "registration_number": "HRB 12345",
            "kpp": "",
        },
        _RO_BANK | {"iban": "RO09BCYP0000001234567890"},
        [
            {
                "description": "Legal opinion on charter party dispute",
                "unit": "h",
                "quantity": D("6"),
                "unit_price": D("180.00"),
                "vat_rate": D("0"),
                # A Romanian firm's service to an EU business: the client accounts for the VAT.
                "vat_category": "reverse_charge",
            },
            {
                "description": "Court filing fees (disbursement)",
                "unit": "pc",
                "quantity": D("1"),
                "unit_price": D("250.00"),
                "vat_rate": D("0"),
                # Paid on the client's behalf and passed on at cost: outside the scope of VAT.
                "vat_category": "not_subject",
            },
        ],
        "INV-2026-00108",
    ),
}

ISSUE_DATE = date(2026, 11, 23)
DUE_DATE = date(2026, 12, 7)


def _rows(sample: Sample, lines: int | None) -> list[dict[str, Any]]:
    base = [{"unit": "", "discount_percent": D(0)} | line for line in sample.lines]
    if lines is None:
        return base
    return [
        base[index % len(base)]
        | {"description": f"{base[index % len(base)]['description']} ({index + 1})"}
        for index in range(lines)
    ]


def sample_context(locale: str, kind: str, lines: int | None = None) -> dict[str, Any]:
    """The template context of a sample invoice (``kind`` "invoice") or proposal."""
    sample = SAMPLES[locale]
    rows = _rows(sample, lines)
    for row, line in zip(rows, sample_lines(rows), strict=True):
        row["net_amount"] = line_net(line, sample.currency)
    document: dict[str, Any] = {
        "currency": sample.currency,
        "notes": "",
        "payment_terms_days": 14,
    }
    if kind == "invoice":
        document |= {
            "number": sample.number,
            "issue_date": ISSUE_DATE,
            "due_date": DUE_DATE,
            "amount_paid": D(0),
        }
    else:
        document |= {"valid_until": date(2026, 12, 23)}
    brand = {
        "logo": "",
        "accent": "#1f4e79",
        "footer": f"{sample.seller['name']} · {sample.seller['email']}",
    }
    buyer = sample.buyer | {"locale": locale}
    return context_for(kind, document, rows, sample.seller, buyer, sample.bank, brand)


async def render_samples(out_dir: Path, lines: int | None = None) -> list[Path]:
    """invoice-<locale>.pdf and proposal-<locale>.pdf for ro, ru and en in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a script, not the server)
    renderer = DocumentRenderer()
    written = []
    for locale in SAMPLES:
        for kind in ("invoice", "proposal"):
            pdf = await renderer.render_pdf(f"pdf/{kind}.html", sample_context(locale, kind, lines))
            path = out_dir / f"{kind}-{locale}.pdf"
            path.write_bytes(pdf)
            written.append(path)
    return written


def _party(data: dict[str, Any], bank: dict[str, str] | None = None) -> EfacturaParty:
    name = " ".join(part for part in (data["name"], data.get("legal_form", "")) if part)
    return EfacturaParty(
        name=name,
        tax_id=data["tax_id"],
        vat_id=data["vat_id"],
        registration_number=data["registration_number"],
        address=EfacturaAddress(
            street=data["street"],
            city=data["city"],
            postal_code=data["postal_code"],
            county=data["county"],
            country=data["country"],
        ),
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        iban=bank["iban"] if bank else "",
        bank_name=bank["bank_name"] if bank else "",
    )


def sample_efactura(lines: int | None = None) -> EfacturaDocument:
    """The Romanian sample invoice as the e-Factura document its XML is built from: the same
    lines, parties and dates as its PDF, with the totals `domain.vat` gives (as stored)."""
    sample = SAMPLES["ro"]
    rows = _rows(sample, lines)
    items = sample_lines(rows)
    totals = compute_document_totals(items, sample.currency)
    return EfacturaDocument(
        kind=DocumentKind.INVOICE,
        number=sample.number,
        issue_date=ISSUE_DATE,
        due_date=DUE_DATE,
        currency=sample.currency,
        exchange_rate=None,
        seller=_party(sample.seller, sample.bank),
        buyer=_party(sample.buyer),
        lines=tuple(
            EfacturaLine(
                description=item.description,
                quantity=item.quantity,
                unit=item.unit,
                unit_price=item.unit_price,
                discount_percent=item.discount_percent,
                vat_rate=item.vat_rate,
                vat_category=item.category,
                legal_basis=item.legal_basis,
                net_amount=net,
            )
            for item, net in zip(items, totals.line_nets, strict=True)
        ),
        prices_include_vat=False,
        discount_percent=D(0),
        subtotal=totals.subtotal,
        vat_total=totals.vat_total,
        total=totals.total,
    )


def write_efactura_sample(out_dir: Path, lines: int | None = None) -> Path:
    """invoice-ro.xml in ``out_dir``: the Romanian sample's UBL, refused (RuntimeError with
    the rule ids) if the official rules find a fatal fault in it."""
    xml = build_xml(sample_efactura(lines))
    failures = fatal(validate(xml))
    if failures:
        raise RuntimeError("invoice-ro.xml breaks " + "; ".join(map(str, failures)))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "invoice-ro.xml"
    path.write_bytes(xml)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", nargs="?", default="samples")
    parser.add_argument("--lines", type=int, default=None, help="repeat the lines to N lines")
    args = parser.parse_args()
    for path in asyncio.run(render_samples(Path(args.out_dir), args.lines)):
        print(path)
    print(write_efactura_sample(Path(args.out_dir), args.lines))


if __name__ == "__main__":
    main()
