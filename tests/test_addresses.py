"""Addresses in parts, as CIUS-RO wants them (domain/addresses.py): the county table, the
Bucharest sectors, what is accepted on input and how it is stored and printed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from db import MIGRATIONS_DIR, clients, companies
from domain.addresses import (
    RO_COUNTIES,
    SECTORS,
    Address,
    canonical_county,
    check,
    needs_review,
    printed_line,
    sector,
    settle,
)
from domain.errors import InvalidInput
from starter.devstack.migrate import migrate

# This branch's migration: rows from before it are what it must carry over.
ADDRESSES_MIGRATION = "20261204100000"

RULES = (
    Path(__file__).resolve().parents[1]
    / "activities"
    / "efactura_rules"
    / "cius-ro-1.0.9"
    / "schematron"
    / "cius-ro"
    / "RO16931-rules.sch"
)

CLUJ = Address("Str. Memorandumului 28", "Cluj-Napoca", "400114", "RO-CJ", "RO")
BUCHAREST = Address("Str. Exemplu 1", "SECTOR1", "010011", "RO-B", "RO")


def _official_list(name: str) -> set[str]:
    """A code list as the official CIUS-RO schematron declares it (`<let name=...>`)."""
    text = RULES.read_text(encoding="utf-8")
    found = re.search(rf'<let name="{name}" value="\(([^)]*)\)"', text)
    assert found is not None, name
    return {code.strip().strip("'") for code in found.group(1).split(",")}


def test_the_county_and_sector_tables_are_the_official_lists() -> None:
    """The 41 counties and Bucharest, and the six sectors, exactly as CIUS-RO lists them."""
    assert len(RO_COUNTIES) == 42
    assert set(RO_COUNTIES) == _official_list("ISO-3166-RO-CODES")
    assert set(SECTORS) == _official_list("SECTOR-RO-CODES")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Sector 1", "SECTOR1"),
        ("sector1", "SECTOR1"),
        ("SECTOR 3", "SECTOR3"),
        ("  sectorul  6 ", "SECTOR6"),
        ("Sector-2", "SECTOR2"),
        ("SECTOR4", "SECTOR4"),
        ("București, sector 5", "SECTOR5"),
        ("Municipiul Bucuresti Sectorul 2", "SECTOR2"),
    ],
)
def test_a_bucharest_sector_is_accepted_as_written_and_stored_canonically(
    given: str, stored: str
) -> None:
    assert sector(given) == stored
    assert check(Address("Calea Victoriei 12", given, "", "RO-B", "RO")).city == stored


@pytest.mark.parametrize("city", ["București", "Bucharest", "Sector 7", "Sector 0", "Sector"])
def test_a_bucharest_address_must_name_its_sector(city: str) -> None:
    with pytest.raises(InvalidInput, match=r"^city: .*SECTOR1 … SECTOR6"):
        check(Address("Calea Victoriei 12", city, "", "RO-B", "RO"))


def test_a_sector_outside_bucharest_is_refused_on_the_county() -> None:
    with pytest.raises(InvalidInput, match=r"^county: RO-CJ: SECTOR2 is a sector of Bucharest"):
        check(Address("Str. X 1", "Sector 2", "", "RO-CJ", "RO"))


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("RO-CJ", "RO-CJ"),
        ("ro-cj", "RO-CJ"),
        ("CJ", "RO-CJ"),
        ("B", "RO-B"),
        ("Cluj", "RO-CJ"),
        ("bistrita-nasaud", "RO-BN"),
        ("Municipiul București", "RO-B"),
        ("Caraș Severin", "RO-CS"),
        ("", ""),
    ],
)
def test_a_romanian_county_is_stored_as_its_iso_code(given: str, stored: str) -> None:
    assert canonical_county("RO", given) == stored


@pytest.mark.parametrize("given", ["RO-XX", "Cluj-Napoca", "DE-BY", "RO-", "XX"])
def test_an_unknown_romanian_county_is_refused_by_name(given: str) -> None:
    with pytest.raises(InvalidInput, match=r"^county: .*not a Romanian county"):
        canonical_county("RO", given)


def test_a_foreign_county_is_a_code_of_that_country_or_empty() -> None:
    assert canonical_county("DE", "de-by") == "DE-BY"
    assert canonical_county("US", "US-CA") == "US-CA"
    assert canonical_county("DE", "") == ""
    for bad in ("RO-CJ", "Bayern", "DE-TOOLONG"):
        with pytest.raises(InvalidInput, match=r"^county: .*ISO 3166-2 code of DE"):
            canonical_county("DE", bad)
    checked = check(Address("Unter den Linden 1", "Berlin", "10117", "", "DE"))
    assert checked.county == "" and checked.city == "Berlin"


def test_the_parts_are_bounded_as_cius_ro_bounds_them() -> None:
    check(Address("S" * 150, "C" * 50, "", "RO-CJ", "RO"))
    check(Address("S", "C", "P" * 20, "", "DE"))
    for field, address in (
        ("street", Address("S" * 151, "Cluj-Napoca", "", "RO-CJ", "RO")),
        ("city", Address("S", "C" * 51, "", "RO-CJ", "RO")),
        ("postal_code", Address("S", "Berlin", "1" * 21, "", "DE")),
    ):
        with pytest.raises(InvalidInput, match=rf"^{field}: at most"):
            check(address)


def test_a_structured_address_needs_its_city_and_for_romania_its_county() -> None:
    with pytest.raises(InvalidInput, match=r"^city: needed"):
        check(Address("Str. X 1", "", "400114", "RO-CJ", "RO"))
    with pytest.raises(InvalidInput, match=r"^county: a Romanian address names its county"):
        check(Address("Str. X 1", "Cluj-Napoca", "400114", "", "RO"))
    with pytest.raises(InvalidInput, match=r"^postal_code: .*6 digits"):
        check(Address("Str. X 1", "Cluj-Napoca", "4001", "RO-CJ", "RO"))
    with pytest.raises(InvalidInput, match=r"^country: "):
        check(Address("Str. X 1", "Cluj-Napoca", "", "RO-CJ", "Romania"))
    with pytest.raises(InvalidInput, match=r"^street: .*one line"):
        check(Address("Str. X 1\nBcc: x@y", "Cluj-Napoca", "", "RO-CJ", "RO"))


def test_no_parts_at_all_is_an_address_known_only_by_its_line() -> None:
    assert check(Address(country="RO")) == Address(country="RO")
    assert needs_review("Str. Memorandumului 28, Cluj-Napoca", Address(country="RO"))
    assert not needs_review("", Address(country="RO"))
    assert not needs_review("Str. Memorandumului 28, Cluj-Napoca", CLUJ)


def test_a_nested_field_is_named_with_its_prefix() -> None:
    with pytest.raises(InvalidInput, match=r"^client\.county: "):
        check(Address("Str. X 1", "Cluj-Napoca", "", "RO-XX", "RO"), prefix="client.")


def test_the_printed_line_is_made_from_the_parts_unless_one_is_given() -> None:
    assert printed_line(CLUJ) == "Str. Memorandumului 28, 400114 Cluj-Napoca, jud. Cluj"
    assert printed_line(BUCHAREST) == "Str. Exemplu 1, 010011 București, Sector 1"
    assert printed_line(Address("Unter den Linden 1", "Berlin", "10117", "DE-BE", "DE")) == (
        "Unter den Linden 1, 10117 Berlin, BE"
    )
    line, parts = settle("", Address(" Str.  Exemplu 1 ", "sector 1", "010011", "b", "RO"))
    assert (line, parts) == ("Str. Exemplu 1, 010011 București, Sector 1", BUCHAREST)
    line, parts = settle("Str. Exemplu 1, București", BUCHAREST)
    assert line == "Str. Exemplu 1, București", "a typed line is the printed form"


async def test_existing_rows_keep_their_line_and_are_flagged_not_split(
    owner_pool: asyncpg.Pool, owner_database_url: str, tmp_path: Path
) -> None:
    """A database migrated up to the migration before this one, with a company and clients
    in it, then migrated on: each address line stays as it was, nothing is split, and a
    party with a line is flagged for review (one without is not)."""
    name = "q2c_addresses_migration"
    await owner_pool.execute(f"DROP DATABASE IF EXISTS {name}")
    await owner_pool.execute(f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(owner_database_url)._replace(path=f"/{name}"))
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < ADDRESSES_MIGRATION:
            shutil.copy(path, before / path.name)
    migrate(url, before)

    conn = await asyncpg.connect(url)
    try:
        company_id = await conn.fetchval(
            "INSERT INTO companies (name, address) VALUES ('Vechi SRL', $1) RETURNING id",
            "Str. Exemplu 1, București",
        )
        lines = {
            "cluj": "Str. Memorandumului 28, Cluj-Napoca",
            "moscow": "Москва, ул. Вавилова, 19",
            "none": "",
        }
        ids = {
            key: await conn.fetchval(
                "INSERT INTO clients (company_id, name, email, country, address)"
                " VALUES ($1, $2, $3, 'RO', $4) RETURNING id",
                company_id,
                key,
                f"{key}@exemplu.ro",
                line,
            )
            for key, line in lines.items()
        }
        migrate(url)

        company = await companies.get(conn, company_id)
        assert company.address == "Str. Exemplu 1, București"
        assert company.address_needs_review
        assert (company.street, company.city, company.postal_code, company.county) == ("",) * 4
        for key, line in lines.items():
            client = await clients.get(conn, ids[key])
            assert client.address == line, "the line stays as it was"
            assert (client.street, client.city, client.county) == ("", "", ""), "not guessed"
            assert client.address_needs_review is bool(line), key
    finally:
        await conn.close()
        await owner_pool.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
