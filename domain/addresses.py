"""Postal addresses in parts, as CIUS-RO (the Romanian e-Factura profile) needs them.

A party (the company, a client) has its address as parts: ``street``, ``city``,
``postal_code``, ``county`` (an ISO 3166-2 subdivision code) and ``country`` (ISO alpha-2),
and as one printed line (``address``) for documents. The line is typed by the operator, or
derived from the parts when only they are given.

CIUS-RO's rules for a Romanian address: the county is one of the 42 ISO 3166-2:RO codes
(BR-RO-110/111) and a Bucharest address (``RO-B``) names its sector as its city,
``SECTOR1`` … ``SECTOR6`` (BR-RO-100/101); street ≤ 150, city ≤ 50, postal code ≤ 20
characters (BR-RO-L150/L050/L020).

Pure functions, no I/O. A refused part raises `InvalidInput` naming its field
(``"county: ..."``), with the caller's prefix for nested inputs (``"client.county: ..."``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from domain.errors import InvalidInput

STREET_MAX = 150
CITY_MAX = 50
POSTAL_CODE_MAX = 20

BUCHAREST = "RO-B"

# ISO 3166-2:RO: the 41 counties and the municipality of Bucharest, as CIUS-RO lists them.
RO_COUNTIES: dict[str, str] = {
    "RO-AB": "Alba",
    "RO-AG": "Argeș",
    "RO-AR": "Arad",
    "RO-B": "București",
    "RO-BC": "Bacău",
    "RO-BH": "Bihor",
    "RO-BN": "Bistrița-Năsăud",
    "RO-BR": "Brăila",
    "RO-BT": "Botoșani",
    "RO-BV": "Brașov",
    "RO-BZ": "Buzău",
    "RO-CJ": "Cluj",
    "RO-CL": "Călărași",
    "RO-CS": "Caraș-Severin",
    "RO-CT": "Constanța",
    "RO-CV": "Covasna",
    "RO-DB": "Dâmbovița",
    "RO-DJ": "Dolj",
    "RO-GJ": "Gorj",
    "RO-GL": "Galați",
    "RO-GR": "Giurgiu",
    "RO-HD": "Hunedoara",
    "RO-HR": "Harghita",
    "RO-IF": "Ilfov",
    "RO-IL": "Ialomița",
    "RO-IS": "Iași",
    "RO-MH": "Mehedinți",
    "RO-MM": "Maramureș",
    "RO-MS": "Mureș",
    "RO-NT": "Neamț",
    "RO-OT": "Olt",
    "RO-PH": "Prahova",
    "RO-SB": "Sibiu",
    "RO-SJ": "Sălaj",
    "RO-SM": "Satu Mare",
    "RO-SV": "Suceava",
    "RO-TL": "Tulcea",
    "RO-TM": "Timiș",
    "RO-TR": "Teleorman",
    "RO-VL": "Vâlcea",
    "RO-VN": "Vrancea",
    "RO-VS": "Vaslui",
}

# CIUS-RO's SECTOR-RO code list: Bucharest's six sectors, written as the city.
SECTORS: tuple[str, ...] = tuple(f"SECTOR{n}" for n in range(1, 7))

# Matched on the folded text, so "București, Sector 1" and "sectorul-1" read alike.
_SECTOR_INPUT = re.compile(r"^(?:(?:municipiul )?(?:bucuresti|bucharest) )?sector(?:ul)? ?([1-6])$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# ISO 3166-2 subdivision codes: the country, a hyphen, one to three letters or digits.
_SUBDIVISION = re.compile(r"^([A-Z]{2})-([A-Z0-9]{1,3})$")
_RO_POSTAL_CODE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True, slots=True)
class Address:
    """An address in parts; ``""`` is a part not given."""

    street: str = ""
    city: str = ""
    postal_code: str = ""
    county: str = ""
    country: str = ""

    @property
    def is_structured(self) -> bool:
        """Whether any part below the country is given (the country alone says little)."""
        return bool(self.street or self.city or self.postal_code or self.county)


def _fold(text: str) -> str:
    """Lower case without diacritics or punctuation: "Bistrița-Năsăud" ~ "bistrita nasaud"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare.lower()).split())


_RO_COUNTY_BY_NAME: dict[str, str] = {_fold(name): code for code, name in RO_COUNTIES.items()}
_RO_COUNTY_BY_NAME.update({_fold("Bucharest"): BUCHAREST, _fold("Municipiul București"): BUCHAREST})


def _refuse(prefix: str, field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{prefix}{field}: {message}")


def _text(value: str, field: str, limit: int, prefix: str) -> str:
    """One line of text: spaces collapsed, no control characters, at most `limit` long."""
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise _refuse(prefix, field, "must be one line without control characters")
    text = " ".join(value.split())
    if len(text) > limit:
        raise _refuse(prefix, field, f"at most {limit} characters (CIUS-RO), got {len(text)}")
    return text


def sector(value: str) -> str | None:
    """``SECTOR1`` … ``SECTOR6`` for "Sector 1", "sector1", "SECTORUL 1", "București,
    sector 1", …; else None."""
    found = _SECTOR_INPUT.match(_fold(value))
    return f"SECTOR{found.group(1)}" if found else None


def canonical_county(country: str, value: str, *, prefix: str = "") -> str:
    """The ISO 3166-2 code of ``value`` for ``country``, or ``""`` when none is given.

    For Romania a code ("RO-CJ", "ro-cj"), its letters alone ("CJ") or the county's name
    ("Cluj", "Bistrita-Nasaud", "București") are accepted and the code is returned. For
    another country the value must be a code of that country ("DE-BY")."""
    text = " ".join(value.split())
    if not text:
        return ""
    code = text.upper()
    if country == "RO":
        if code in RO_COUNTIES:
            return code
        if f"RO-{code}" in RO_COUNTIES:
            return f"RO-{code}"
        by_name = _RO_COUNTY_BY_NAME.get(_fold(text))
        if by_name is not None:
            return by_name
        raise _refuse(
            prefix,
            "county",
            f"{text!r} is not a Romanian county: give its ISO 3166-2:RO code "
            "(RO-AB … RO-VS, RO-B for Bucharest)",
        )
    found = _SUBDIVISION.match(code)
    if found is None or found.group(1) != country:
        raise _refuse(
            prefix,
            "county",
            f"{text!r} is not an ISO 3166-2 code of {country} ({country}-… or empty)",
        )
    return code


def check(address: Address, *, prefix: str = "") -> Address:
    """The address with its parts checked and written canonically.

    An address with no part but the country is accepted as it stands (a party may have
    only a printed line). Once any part is given, the city is needed, and for Romania the
    county too; a Bucharest city is its sector, stored as ``SECTORn``."""
    country = address.country.strip().upper()
    if not _COUNTRY.match(country):
        raise _refuse(prefix, "country", f"{address.country!r} is not an ISO alpha-2 code")
    street = _text(address.street, "street", STREET_MAX, prefix)
    city = _text(address.city, "city", CITY_MAX, prefix)
    postal_code = _text(address.postal_code, "postal_code", POSTAL_CODE_MAX, prefix)
    county = canonical_county(country, address.county, prefix=prefix)
    checked = Address(street, city, postal_code, county, country)
    if not checked.is_structured:
        return checked
    if not city:
        raise _refuse(prefix, "city", "needed with the other parts of an address")
    if country != "RO":
        return checked
    if not county:
        raise _refuse(prefix, "county", "a Romanian address names its county (RO-AB … RO-VS, RO-B)")
    if postal_code and not _RO_POSTAL_CODE.match(postal_code):
        raise _refuse(prefix, "postal_code", f"{postal_code!r}: a Romanian postal code is 6 digits")
    in_sector = sector(city)
    if county == BUCHAREST:
        if in_sector is None:
            raise _refuse(
                prefix,
                "city",
                f"{city!r}: a Bucharest address (RO-B) names its sector as its city "
                "(SECTOR1 … SECTOR6)",
            )
        return replace(checked, city=in_sector)
    if in_sector is not None:
        raise _refuse(prefix, "county", f"{county}: {in_sector} is a sector of Bucharest (RO-B)")
    return checked


def printed_line(address: Address) -> str:
    """The address as one line for documents, from its parts (without the country, which
    documents print beside it): "Str. Memorandumului 28, 400114 Cluj-Napoca, jud. Cluj",
    "Str. Exemplu 1, 010011 București, Sector 1"."""
    city = address.city
    county = ""
    if address.country == "RO":
        if address.county == BUCHAREST:
            in_sector = sector(city)
            city = f"București, Sector {in_sector[-1]}" if in_sector else city
        elif address.county in RO_COUNTIES:
            county = f"jud. {RO_COUNTIES[address.county]}"
    elif address.county:
        county = address.county.partition("-")[2]
    locality = " ".join(part for part in (address.postal_code, city) if part)
    return ", ".join(part for part in (address.street, locality, county) if part)


def settle(line: str, address: Address, *, prefix: str = "") -> tuple[str, Address]:
    """The printed line and the checked parts of a party's address as entered: the line
    typed, else the one derived from the parts."""
    checked = check(address, prefix=prefix)
    return (line if line.strip() else printed_line(checked)), checked


def needs_review(line: str, address: Address) -> bool:
    """An address known only as a printed line: e-Factura needs its parts, which nobody
    has entered (a row from before addresses had parts, or a line typed alone)."""
    return bool(line.strip()) and not address.is_structured
