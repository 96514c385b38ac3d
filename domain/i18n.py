"""Locale choice and locale-aware formatting of money and dates (babel)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency

SUPPORTED_LOCALES = ("ro", "ru", "en")
DEFAULT_LOCALE = "en"


def pick_locale(requested: str | None) -> str:
    if requested and requested.lower()[:2] in SUPPORTED_LOCALES:
        return requested.lower()[:2]
    return DEFAULT_LOCALE


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    return str(format_currency(amount, currency, locale=pick_locale(locale)))


def format_day(day: date, locale: str) -> str:
    return str(babel_format_date(day, format="long", locale=pick_locale(locale)))


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "draft_invoice": "Draft invoice",
        "draft_notice": "DRAFT — not a tax document, awaiting review",
        "proposal": "Proposal",
        "number": "No.",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "valid_until": "Valid until",
        "seller": "Seller",
        "buyer": "Client",
        "tax_id": "Tax ID",
        "iban": "IBAN",
        "bank": "Bank",
        "description": "Description",
        "quantity": "Qty",
        "unit": "Unit",
        "unit_price": "Unit price (net)",
        "discount": "Discount",
        "vat_rate": "VAT %",
        "net": "Net",
        "subtotal": "Subtotal",
        "vat": "VAT",
        "vat_at": "VAT at {rate}% on {base}",
        "total": "Total",
        "amount_paid": "Paid",
        "amount_due": "Amount due",
        "notes": "Notes",
        "payment_reference": "Please quote invoice {number} with your payment.",
        "sign_title": "Review and sign",
        "your_name": "Full name",
        "your_email": "Email (optional)",
        "sign_button": "Sign the proposal",
        "decline_button": "Decline",
        "decline_reason": "Reason (optional)",
        "closed_signed": "This proposal has already been signed.",
        "closed_declined": "This proposal was declined.",
        "closed_expired": "This proposal has expired and can no longer be signed.",
        "thanks_signed": "Thank you, {name}. Your signature has been recorded; the invoice will follow by email.",
        "thanks_declined": "Your answer has been recorded. Thank you.",
        "field_missing": "Please fill in this field.",
    },
    "ro": {
        "invoice": "Factură",
        "draft_invoice": "Factură — ciornă",
        "draft_notice": "CIORNĂ — nu este document fiscal, în curs de verificare",
        "proposal": "Ofertă",
        "number": "Nr.",
        "issue_date": "Data emiterii",
        "due_date": "Scadența",
        "valid_until": "Valabilă până la",
        "seller": "Furnizor",
        "buyer": "Client",
        "tax_id": "CUI",
        "iban": "IBAN",
        "bank": "Banca",
        "description": "Denumire",
        "quantity": "Cant.",
        "unit": "U.M.",
        "unit_price": "Preț unitar (fără TVA)",
        "discount": "Reducere",
        "vat_rate": "Cota TVA",
        "net": "Valoare",
        "subtotal": "Total fără TVA",
        "vat": "TVA",
        "vat_at": "TVA {rate}% la baza {base}",
        "total": "Total de plată",
        "amount_paid": "Achitat",
        "amount_due": "Rest de plată",
        "notes": "Mențiuni",
        "payment_reference": "Vă rugăm să menționați factura {number} la plată.",
        "sign_title": "Consultați și semnați",
        "your_name": "Nume complet",
        "your_email": "Email (opțional)",
        "sign_button": "Semnez oferta",
        "decline_button": "Refuz",
        "decline_reason": "Motiv (opțional)",
        "closed_signed": "Această ofertă a fost deja semnată.",
        "closed_declined": "Această ofertă a fost refuzată.",
        "closed_expired": "Această ofertă a expirat și nu mai poate fi semnată.",
        "thanks_signed": "Vă mulțumim, {name}. Semnătura a fost înregistrată; factura vă va fi trimisă pe email.",
        "thanks_declined": "Răspunsul dumneavoastră a fost înregistrat. Vă mulțumim.",
        "field_missing": "Vă rugăm să completați acest câmp.",
    },
    "ru": {
        "invoice": "Счёт на оплату",
        "draft_invoice": "Счёт — черновик",
        "draft_notice": "ЧЕРНОВИК — не является расчётным документом",
        "proposal": "Коммерческое предложение",
        "number": "№",
        "issue_date": "Дата",
        "due_date": "Оплатить до",
        "valid_until": "Действительно до",
        "seller": "Поставщик",
        "buyer": "Покупатель",
        "tax_id": "ИНН",
        "iban": "Р/с",
        "bank": "Банк",
        "description": "Наименование",
        "quantity": "Кол-во",
        "unit": "Ед.",
        "unit_price": "Цена без НДС",
        "discount": "Скидка",
        "vat_rate": "НДС %",
        "net": "Сумма",
        "subtotal": "Итого без НДС",
        "vat": "НДС",
        "vat_at": "НДС {rate}% с суммы {base}",
        "total": "Всего к оплате",
        "amount_paid": "Оплачено",
        "amount_due": "Осталось оплатить",
        "notes": "Примечания",
        "payment_reference": "В назначении платежа укажите счёт {number}.",
        "sign_title": "Ознакомьтесь и подпишите",
        "your_name": "ФИО",
        "your_email": "Email (необязательно)",
        "sign_button": "Подписать предложение",
        "decline_button": "Отклонить",
        "decline_reason": "Причина (необязательно)",
        "closed_signed": "Это предложение уже подписано.",
        "closed_declined": "Это предложение было отклонено.",
        "closed_expired": "Срок действия предложения истёк, подписать его нельзя.",
        "thanks_signed": "Спасибо, {name}. Ваша подпись сохранена; счёт придёт по электронной почте.",
        "thanks_declined": "Ваш ответ сохранён. Спасибо.",
        "field_missing": "Заполните это поле.",
    },
}


def labels(locale: str) -> dict[str, str]:
    return LABELS[pick_locale(locale)]
