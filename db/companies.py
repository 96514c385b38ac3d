"""Companies (the sellers) and their bank accounts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from db.connection import Connection
from db.errors import NotFound
from db.rows import CompanyBankAccountRow, CompanyRow, row_as, rows_as
from domain.addresses import Address, needs_review


async def bank_account_for(
    conn: Connection, company_id: Any, currency: str
) -> CompanyBankAccountRow | None:
    """The company's default account in `currency`, else its first one in it."""
    record = await conn.fetchrow(
        """SELECT * FROM company_bank_accounts WHERE company_id = $1 AND currency = $2
           ORDER BY is_default DESC, created_at, id LIMIT 1""",
        company_id,
        currency,
    )
    return row_as(CompanyBankAccountRow, record) if record is not None else None


# --- for starter/api (routers) ---


async def get(conn: Connection, company_id: Any, *, lock: bool = False) -> CompanyRow:
    """A company; `lock` holds its row until the caller's transaction ends (so changes to
    its details, or to which of its accounts is the default, take their turns)."""
    if lock:
        record = await conn.fetchrow("SELECT * FROM companies WHERE id = $1 FOR UPDATE", company_id)
    else:
        record = await conn.fetchrow("SELECT * FROM companies WHERE id = $1", company_id)
    if record is None:
        raise NotFound("company", str(company_id))
    return row_as(CompanyRow, record)


@dataclass(frozen=True, slots=True)
class CompanyDetails:
    """The details of the seller an operator may change (its requisites already checked)."""

    name: str
    legal_form: str
    address: str
    # The address in parts (domain/addresses.py, already checked); `address` is its
    # printed line.
    street: str
    city: str
    postal_code: str
    county: str
    country: str
    email: str
    phone: str
    locale: str
    default_currency: str
    tax_id: str
    registration_number: str
    vat_id: str
    kpp: str
    iban: str
    bic: str
    bik: str
    settlement_account: str
    correspondent_account: str
    bank_name: str
    director_name: str
    accountant_name: str
    logo: str
    accent_color: str
    footer_text: str
    invoice_series: str
    proposal_series: str
    credit_note_series: str


# The one list of the seller's editable details: the API's answer and its PATCH use it.
DETAIL_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(CompanyDetails))


def address_of(details: CompanyDetails | CompanyRow) -> Address:
    return Address(
        details.street, details.city, details.postal_code, details.county, details.country
    )


async def set_details(conn: Connection, company_id: Any, details: CompanyDetails) -> None:
    """The seller's details; an address given only as a printed line is flagged for review
    (`address_needs_review`), one with its parts is not."""
    await conn.execute(
        """UPDATE companies SET
               name = $2,
               legal_form = $3,
               address = $4,
               country = $5,
               email = $6,
               phone = $7,
               locale = $8,
               default_currency = $9,
               tax_id = $10,
               registration_number = $11,
               vat_id = $12,
               kpp = $13,
               iban = $14,
               bic = $15,
               bik = $16,
               settlement_account = $17,
               correspondent_account = $18,
               bank_name = $19,
               director_name = $20,
               accountant_name = $21,
               logo = $22,
               accent_color = $23,
               footer_text = $24,
               invoice_series = $25,
               proposal_series = $26,
               credit_note_series = $27,
               street = $28,
               city = $29,
               postal_code = $30,
               county = $31,
               address_needs_review = $32
           WHERE id = $1""",
        company_id,
        details.name,
        details.legal_form,
        details.address,
        details.country,
        details.email,
        details.phone,
        details.locale,
        details.default_currency,
        details.tax_id,
        details.registration_number,
        details.vat_id,
        details.kpp,
        details.iban,
        details.bic,
        details.bik,
        details.settlement_account,
        details.correspondent_account,
        details.bank_name,
        details.director_name,
        details.accountant_name,
        details.logo,
        details.accent_color,
        details.footer_text,
        details.invoice_series,
        details.proposal_series,
        details.credit_note_series,
        details.street,
        details.city,
        details.postal_code,
        details.county,
        needs_review(details.address, address_of(details)),
    )


async def bank_accounts(conn: Connection, company_id: Any) -> list[CompanyBankAccountRow]:
    """The company's accounts by currency, each currency's default first."""
    records = await conn.fetch(
        """SELECT * FROM company_bank_accounts WHERE company_id = $1
           ORDER BY currency, is_default DESC, created_at, id""",
        company_id,
    )
    return rows_as(CompanyBankAccountRow, records)


async def has_default_account(conn: Connection, company_id: Any, currency: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM company_bank_accounts
           WHERE company_id = $1 AND currency = $2 AND is_default)""",
        company_id,
        currency,
    )
    return found


async def clear_default_account(conn: Connection, company_id: Any, currency: str) -> None:
    """No account in `currency` is the default any more (one is about to be)."""
    await conn.execute(
        """UPDATE company_bank_accounts SET is_default = false
           WHERE company_id = $1 AND currency = $2 AND is_default""",
        company_id,
        currency,
    )


@dataclass(frozen=True, slots=True)
class NewBankAccount:
    currency: str
    bank_name: str
    iban: str
    bic: str
    settlement_account: str
    bik: str
    correspondent_account: str
    is_default: bool


async def insert_bank_account(
    conn: Connection, company_id: Any, account: NewBankAccount
) -> CompanyBankAccountRow:
    record = await conn.fetchrow(
        """INSERT INTO company_bank_accounts (company_id, currency, bank_name, iban,
               bic, settlement_account, bik, correspondent_account, is_default)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        company_id,
        account.currency,
        account.bank_name,
        account.iban,
        account.bic,
        account.settlement_account,
        account.bik,
        account.correspondent_account,
        account.is_default,
    )
    assert record is not None
    return row_as(CompanyBankAccountRow, record)
