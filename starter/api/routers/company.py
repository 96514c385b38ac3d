"""The seller's legal details and bank accounts, and the checks clients' details go through.

Requisites are entered once here (and on each client) and filled into every document. Every
identifier is checked for the party's country by `domain.requisites.validate_party`; a bad
one is refused with 422 naming the API field, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError

from db import clients, companies, store
from db.rows import CompanyBankAccountRow, CompanyRow
from domain import addresses
from domain.errors import InvalidInput
from domain.requisites import validate_party
from starter.api.deps import API_KEY, State
from starter.api.schemas import BankAccountIn, BankAccountOut, ClientIn, CompanyOut, CompanyPatch

# The columns that hold checked identifiers, on companies and clients alike.
REQUISITE_COLUMNS = (
    "tax_id",
    "registration_number",
    "vat_id",
    "kpp",
    "iban",
    "bic",
    "bik",
    "settlement_account",
    "correspondent_account",
)

# What `registration_number` is called by validate_party, per country (elsewhere it is kept
# as typed: there is nothing to check it against).
_REGISTRATION_FIELD = {"RO": "reg_com", "RU": "ogrn"}

COMPANY_COLUMNS = companies.DETAIL_COLUMNS

CLIENT_COLUMNS = (
    "name",
    "email",
    "country",
    "locale",
    "legal_form",
    "address",
    "street",
    "city",
    "postal_code",
    "county",
    *REQUISITE_COLUMNS,
    "bank_name",
)


def refuse(field: str, message: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, with the body field at fault in `loc`."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def check_requisites(country: str, values: Mapping[str, str]) -> dict[str, str]:
    """The requisite columns of ``values`` checked for ``country`` and normalised.

    Blank values stay blank. A column a party of that country does not have (a КПП on a
    Romanian client, say) is refused, as validate_party refuses unknown fields.
    """
    code = country.strip().upper()
    to_api = {"reg_com": "registration_number", "ogrn": "registration_number"}
    fields: dict[str, str] = {}
    result = {column: values.get(column, "").strip() for column in REQUISITE_COLUMNS}
    for column, value in result.items():
        if not value:
            continue
        if column == "registration_number":
            if code in _REGISTRATION_FIELD:
                fields[_REGISTRATION_FIELD[code]] = value
            continue
        fields[column] = value
    try:
        checked = validate_party(code, fields)
    except InvalidInput as bad:
        message = str(bad)
        name, _, _ = message.partition(":")
        field = to_api.get(name, name)
        if field != name:
            message = field + message[len(name) :]
        raise refuse(field if field in REQUISITE_COLUMNS else "country", message) from None
    for name, value in checked.items():
        result[to_api.get(name, name)] = value
    return result


# The parts of an address (domain/addresses.py), on companies and clients alike.
ADDRESS_PARTS = ("street", "city", "postal_code", "county")


def check_address(values: Mapping[str, str], *, prefix: str = "") -> dict[str, str]:
    """The address columns of ``values`` checked and canonical (county RO-CJ, city
    SECTOR1), ``address`` the printed line: as given, else made from the parts. A bad part
    raises InvalidInput naming it (``county: ...``; ``client.county: ...`` with a prefix),
    which the API answers with 422."""
    line, parts = addresses.settle(
        values.get("address", ""),
        addresses.Address(
            street=values.get("street", ""),
            city=values.get("city", ""),
            postal_code=values.get("postal_code", ""),
            county=values.get("county", ""),
            country=values.get("country", ""),
        ),
        prefix=prefix,
    )
    return {
        "address": line,
        "street": parts.street,
        "city": parts.city,
        "postal_code": parts.postal_code,
        "county": parts.county,
    }


def address_change(
    country_before: str, merged: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, str]:
    """The address columns after a PATCH (``merged``: the row with ``changes`` applied),
    checked. Parts changed without ``address`` make the printed line anew: the old line
    described the old address. A new country without new parts leaves only the printed
    line, flagged for review: the old parts (a Romanian county) belong to the old country."""
    values = dict(merged)
    if merged["country"].strip() != country_before.strip() and not any(
        part in changes for part in ADDRESS_PARTS
    ):
        values.update({part: "" for part in ADDRESS_PARTS})
    elif "address" not in changes and any(part in changes for part in ADDRESS_PARTS):
        values["address"] = ""
    return check_address(values)


async def insert_client(conn: store.Connection, company_id: str, body: ClientIn) -> UUID:
    """A new client of ``company_id`` with its details checked; returns its id."""
    values = body.model_dump()
    values.update(check_requisites(body.country, values))
    values.update(check_address(values))
    return await clients.insert(
        conn, company_id, clients.NewClient(**{column: values[column] for column in CLIENT_COLUMNS})
    )


def bank_account_json(row: CompanyBankAccountRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "currency": row.currency.strip(),
        "bank_name": row.bank_name,
        "iban": row.iban,
        "bic": row.bic,
        "settlement_account": row.settlement_account,
        "bik": row.bik,
        "correspondent_account": row.correspondent_account,
        "is_default": row.is_default,
    }


def company_json(row: CompanyRow, accounts: list[CompanyBankAccountRow]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(row.id)}
    for column in COMPANY_COLUMNS:
        value = getattr(row, column)
        body[column] = value.strip() if isinstance(value, str) else value
    body["address_needs_review"] = row.address_needs_review
    body["bank_accounts"] = [bank_account_json(account) for account in accounts]
    return body


def check_bank_account(body: BankAccountIn) -> dict[str, str]:
    """An account's numbers checked: an IBAN/BIC anywhere, a р/с and к/с against the БИК.

    The account's own numbers decide how it is checked, not the company's country: a
    Romanian firm may hold a rouble account in Russia and a Russian one a euro IBAN."""
    values = {
        "iban": body.iban,
        "bic": body.bic,
        "settlement_account": body.settlement_account,
        "bik": body.bik,
        "correspondent_account": body.correspondent_account,
    }
    if not (body.iban.strip() or body.settlement_account.strip()):
        raise refuse("iban", "iban: give an IBAN, or a settlement_account (р/с) with its bik")
    russian = any(
        values[name].strip() for name in ("settlement_account", "bik", "correspondent_account")
    )
    checked = {name: value.strip() for name, value in values.items()}
    if russian:
        ru = {name: values[name] for name in ("settlement_account", "bik", "correspondent_account")}
        if values["bic"].strip():
            ru["bic"] = values["bic"]
        checked.update({k: v for k, v in check_requisites("RU", ru).items() if k in ru})
    if body.iban.strip() or (values["bic"].strip() and not russian):
        # Checked as an international account, whatever the company's country.
        international = {"iban": body.iban, "bic": body.bic}
        checked.update(
            {k: v for k, v in check_requisites("DE", international).items() if k in international}
        )
    return checked


router = APIRouter()


@router.get("/api/v1/company", response_model=CompanyOut, dependencies=API_KEY, tags=["company"])
async def get_company(state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        row = await companies.get(conn, company_id)
        return company_json(row, await companies.bank_accounts(conn, company_id))


@router.patch("/api/v1/company", response_model=CompanyOut, dependencies=API_KEY, tags=["company"])
async def patch_company(body: CompanyPatch, state: State) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise refuse(name, f"{name}: must not be null")
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        async with conn.transaction():
            row = await companies.get(conn, company_id, lock=True)
            merged = {column: getattr(row, column) for column in COMPANY_COLUMNS} | changes
            merged.update(check_requisites(merged["country"], merged))
            merged.update(address_change(row.country, merged, changes))
            changed = any(
                merged[column] != getattr(row, column) or column in changes
                for column in COMPANY_COLUMNS
            )
            if changed:
                # Every detail is written back; those not changed keep their value.
                details = {column: merged[column] for column in COMPANY_COLUMNS}
                await companies.set_details(conn, company_id, companies.CompanyDetails(**details))
        row = await companies.get(conn, company_id)
        return company_json(row, await companies.bank_accounts(conn, company_id))


@router.get(
    "/api/v1/company/bank-accounts",
    response_model=list[BankAccountOut],
    dependencies=API_KEY,
    tags=["company"],
)
async def list_bank_accounts(state: State) -> list[dict[str, Any]]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        return [bank_account_json(row) for row in await companies.bank_accounts(conn, company_id)]


@router.post(
    "/api/v1/company/bank-accounts",
    response_model=BankAccountOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["company"],
)
async def add_bank_account(body: BankAccountIn, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        checked = check_bank_account(body)
        async with conn.transaction():
            # One default per currency: serialise the accounts of this company.
            await companies.get(conn, company_id, lock=True)
            has_default = await companies.has_default_account(conn, company_id, body.currency)
            is_default = body.is_default or not has_default
            if is_default and has_default:
                await companies.clear_default_account(conn, company_id, body.currency)
            row = await companies.insert_bank_account(
                conn,
                company_id,
                companies.NewBankAccount(
                    currency=body.currency,
                    bank_name=body.bank_name,
                    iban=checked["iban"],
                    bic=checked["bic"],
                    settlement_account=checked["settlement_account"],
                    bik=checked["bik"],
                    correspondent_account=checked["correspondent_account"],
                    is_default=is_default,
                ),
            )
        return bank_account_json(row)
