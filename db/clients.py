"""Clients: reading one, and making them as operators enter them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from db import keyset
from db.connection import Connection, lock_key
from db.errors import NotFound
from db.rows import ClientRow, row_as, rows_as
from domain.addresses import Address, needs_review


async def get(conn: Connection, client_id: Any, *, lock: bool = False) -> ClientRow:
    """A client; `lock` holds its row until the caller's transaction ends (so two changes
    to its details take their turns)."""
    if lock:
        record = await conn.fetchrow("SELECT * FROM clients WHERE id = $1 FOR UPDATE", client_id)
    else:
        record = await conn.fetchrow("SELECT * FROM clients WHERE id = $1", client_id)
    if record is None:
        raise NotFound("client", str(client_id))
    return row_as(ClientRow, record)


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client's columns as entered, its requisites already checked for its country."""

    name: str
    email: str
    country: str
    locale: str
    legal_form: str
    address: str
    # The address in parts (domain/addresses.py, already checked); `address` is its
    # printed line.
    street: str
    city: str
    postal_code: str
    county: str
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


async def insert(conn: Connection, company_id: Any, client: NewClient) -> UUID:
    """A new client of the company; returns its id. An address given only as a printed line
    is flagged for review (`address_needs_review`)."""
    client_id: UUID = await conn.fetchval(
        """INSERT INTO clients (company_id, name, email, country, locale, legal_form, address,
               tax_id, registration_number, vat_id, kpp, iban, bic, bik, settlement_account,
               correspondent_account, bank_name, street, city, postal_code, county,
               address_needs_review)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
               $18, $19, $20, $21, $22)
           RETURNING id""",
        company_id,
        *_column_values(client),
    )
    return client_id


def address_of(client: NewClient | ClientRow) -> Address:
    return Address(
        client.street, client.city, client.postal_code, client.county, client.country.strip()
    )


async def set_reminder_settings(
    conn: Connection,
    client_id: Any,
    *,
    time_zone: str | None,
    offsets_days: list[int] | None,
    hour: int | None,
    repeat_days: int | None,
    repeat_max: int | None,
) -> None:
    """The client's own reminder settings and time zone; None inherits the company's."""
    await conn.execute(
        """UPDATE clients SET time_zone = $2, reminder_offsets_days = $3,
               reminder_hour = $4, reminder_repeat_days = $5, reminder_repeat_max = $6
           WHERE id = $1""",
        client_id,
        time_zone,
        offsets_days,
        hour,
        repeat_days,
        repeat_max,
    )


async def set_details(conn: Connection, client_id: Any, client: NewClient) -> None:
    """The client's details as an operator changed them (checked, all written back); an
    address given only as a printed line is flagged for review, one with its parts is not."""
    await conn.execute(
        """UPDATE clients SET name = $2, email = $3, country = $4, locale = $5,
               legal_form = $6, address = $7, tax_id = $8, registration_number = $9,
               vat_id = $10, kpp = $11, iban = $12, bic = $13, bik = $14,
               settlement_account = $15, correspondent_account = $16, bank_name = $17,
               street = $18, city = $19, postal_code = $20, county = $21,
               address_needs_review = $22
           WHERE id = $1""",
        client_id,
        *_column_values(client),
    )


# --- the client list, archiving, one tax id per company ---


async def same_tax_id(
    conn: Connection, company_id: Any, tax_id: str, *, other_than: Any = None
) -> ClientRow | None:
    """The company's client (not `other_than`) whose tax id is `tax_id` once normalised, if
    any. It takes a lock on that tax id until the caller's transaction ends, so two clients
    entered at once with the same tax id take turns and the second sees the first (there is
    no unique index: see migration 20261204160000)."""
    # The tax id as compared: letters and digits only, upper case ("ro 185-472.90" is
    # "RO18547290"); the same expression as the index clients_tax_id_key_idx.
    key = await conn.fetchval(
        "SELECT upper(regexp_replace($1::text, '[^0-9A-Za-z]', '', 'g'))", tax_id
    )
    if not key:
        return None
    await lock_key(conn, f"client-tax-id:{company_id}:{key}")
    record = await conn.fetchrow(
        """SELECT * FROM clients
           WHERE company_id = $1 AND tax_id <> ''
             AND upper(regexp_replace(tax_id, '[^0-9A-Za-z]', '', 'g')) = $2
             AND ($3::uuid IS NULL OR id <> $3)
           ORDER BY created_at, id LIMIT 1""",
        company_id,
        key,
        other_than,
    )
    return None if record is None else row_as(ClientRow, record)


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere (its own % _ \\ taken literally)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Clients by name, then id (two clients may share a name).
ORDER = keyset.Order((keyset.Key("name", "text"), keyset.Key("id", "uuid")))


async def search(
    conn: Connection,
    company_id: Any,
    *,
    text: str | None,
    archived: bool,
    after: Sequence[Any] | None,
    limit: int,
) -> list[ClientRow]:
    """The company's clients whose name, tax id or email contains `text` (any case), in
    ORDER, from just after the key `after` (keyset paging: a client added or archived
    between two pages neither repeats nor hides another); archived ones only if `archived`."""
    records = await conn.fetch(
        """SELECT * FROM clients
           WHERE company_id = $1
             AND ($2 OR archived_at IS NULL)
             AND ($3::text IS NULL OR name ILIKE $3 OR tax_id ILIKE $3 OR email ILIKE $3)
             AND (name, id) > ($4::text, $5::uuid)
           ORDER BY name, id
           LIMIT $6""",
        company_id,
        archived,
        None if not text else _like(text),
        *ORDER.params(after),
        limit,
    )
    return rows_as(ClientRow, records)


async def archive(conn: Connection, client_id: Any, by: str) -> None:
    """Archive the client now in `by`'s name."""
    await conn.execute(
        "UPDATE clients SET archived_at = now(), archived_by = $2 WHERE id = $1", client_id, by
    )


async def unarchive(conn: Connection, client_id: Any, by: str) -> None:
    """Bring the client back now in `by`'s name (who had archived it stays recorded)."""
    await conn.execute(
        """UPDATE clients SET archived_at = NULL, unarchived_at = now(), unarchived_by = $2
           WHERE id = $1""",
        client_id,
        by,
    )


def _column_values(client: NewClient) -> tuple[Any, ...]:
    """A client's columns as insert and set_details write them ($2 … $22), in that order."""
    return (
        client.name,
        client.email,
        client.country,
        client.locale,
        client.legal_form,
        client.address,
        client.tax_id,
        client.registration_number,
        client.vat_id,
        client.kpp,
        client.iban,
        client.bic,
        client.bik,
        client.settlement_account,
        client.correspondent_account,
        client.bank_name,
        client.street,
        client.city,
        client.postal_code,
        client.county,
        needs_review(client.address, address_of(client)),
    )
