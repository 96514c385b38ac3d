"""Legal details (requisites) of a party: identifiers and bank details, checked before storing.

An invoice an accountant has to correct by hand is a product failure, and a mistyped CUI,
ИНН or account number is the commonest cause. Every identifier that carries a check digit
is checked here, with `python-stdnum` wherever it covers the identifier, so that a typo is
refused at entry with the field named instead of surfacing on a printed invoice.

Each validator takes the raw text, returns the normalised (compact) form to store and
print, and raises `InvalidInput` whose message starts with the field name
(``"tax_id: ..."``), the same convention as the rest of `domain`.

Everything here is pure: no clock, no network (stdnum's VIES lookup is never used), so it
is safe in the API, in activities and inside the Temporal workflow sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date

from stdnum import bic as _bic
from stdnum import iban as _iban
from stdnum.eu import vat as _eu_vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.ro import cnp as _ro_cnp
from stdnum.ro import cui as _ro_cui
from stdnum.ro import onrc as _ro_onrc
from stdnum.ru import inn as _ru_inn
from stdnum.ru import ogrn as _ru_ogrn

from domain.errors import InvalidInput

# EU member states by ISO 3166 code, with the prefix their VAT ids carry (Greece uses EL).
EU_VAT_PREFIX: dict[str, str] = {
    code: ("EL" if code == "GR" else code)
    for code in (
        "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
    ).split()
}


def _reason(exc: ValidationError) -> str:
    """A short English reason for a stdnum failure, to follow the field name."""
    if isinstance(exc, InvalidChecksum):
        return "the check digit is wrong (a typo?)"
    if isinstance(exc, InvalidLength):
        return "has the wrong number of characters"
    if isinstance(exc, InvalidFormat):
        return "has characters that do not belong there"
    if isinstance(exc, InvalidComponent):
        return "has a part that cannot be right"
    return "is not valid"


def _refuse(field: str, value: str, what: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field}: {value!r} is not a valid {what}: {reason}")


def _strip(value: str) -> str:
    return value.strip()


# --- Romania -------------------------------------------------------------------------------


def ro_tax_id(value: str, field: str = "tax_id") -> str:
    """A Romanian CUI/CIF, with or without the RO prefix, or a person's CNP.

    The prefix is kept when given (``RO18547290``): on a Romanian invoice it is what shows
    that the party is registered for VAT, so dropping it would change the document. A
    13-digit value is a CNP (individuals, including PFA), checked by `stdnum.ro.cnp`; it
    never takes the RO prefix.
    """
    compact = _ro_cui.compact(value)  # drops spaces, dashes and the RO prefix
    has_prefix = _strip(value).upper().startswith("RO")
    try:
        if len(compact) == 13:
            if has_prefix:
                raise InvalidFormat()
            return _ro_cnp.validate(compact)
        _ro_cui.validate(compact)
    except ValidationError as exc:
        raise _refuse(field, _strip(value), "Romanian CUI/CIF", _reason(exc)) from exc
    return f"RO{compact}" if has_prefix else compact


# The counties of the old trade-register format (1-40, Bucharest 40, plus 51 and 52).
_ONRC_COUNTIES = frozenset([*range(1, 41), 51, 52])
_ONRC_OLD = re.compile(r"^([JFC])(\d{2})/(\d{1,5})/(\d{4})$")
_ONRC_NEW = re.compile(r"^([JFC])(\d{4})(\d{6})(\d{2})(\d)$")


def ro_reg_com(value: str, field: str = "reg_com", *, today: date | None = None) -> str:
    """A Romanian trade register number (Reg. Com., ONRC), in either of its two formats.

    - Old format, issued until 2024: ``J40/1234/2020`` = type (J company, F sole trader or
      family business, C cooperative) / county (01-40, 51, 52) / serial / year. Separators
      may be spaces, dashes or slashes; the county is padded to two digits
      (``J5/12/2001`` -> ``J05/12/2001``).
    - New format, from 2024-07-26: ``J2024012345007`` = type, year (4), serial (6),
      county (2; ``00`` for registrations after 2024) and a check digit: the sum of the
      type letter's character code mod 10 and the twelve digits, mod 10.

    The rules are those of `stdnum.ro.onrc`; they are re-stated here because stdnum reads
    today's date for the "year not in the future" test, and a domain rule must not read the
    clock (the workflow sandbox forbids it). Pass ``today`` to get that test too.
    """
    number = _ro_onrc.compact(value) if _strip(value) else ""
    what = "Romanian trade register number (J40/1234/2020 or J2024012345007)"
    old = _ONRC_OLD.match(number)
    new = _ONRC_NEW.match(number)
    if old:
        _type, county, _serial, year = old.groups()
        if int(county) not in _ONRC_COUNTIES:
            raise _refuse(field, _strip(value), what, f"county {county} does not exist")
        if not 1990 <= int(year) <= 2024:
            raise _refuse(field, _strip(value), what, "the old format has years 1990-2024")
        return number
    if new:
        kind, year_text, _serial, county_text, check = new.groups()
        year, county = int(year_text), int(county_text)
        if year < 1990 or (today is not None and year > today.year):
            raise _refuse(field, _strip(value), what, f"year {year} is not possible")
        allowed = _ONRC_COUNTIES if year < 2024 else _ONRC_COUNTIES | {0}
        if year > 2024:
            allowed = frozenset({0})
        if county not in allowed:
            raise _refuse(field, _strip(value), what, f"county {county_text} is not possible")
        expected = (ord(kind) % 10 + sum(int(d) for d in number[1:13])) % 10
        if int(check) != expected:
            raise _refuse(field, _strip(value), what, _reason(InvalidChecksum()))
        return number
    raise _refuse(field, _strip(value), what, "it matches neither format")


# --- Russia --------------------------------------------------------------------------------


def ru_inn(value: str, field: str = "tax_id") -> str:
    """An ИНН: 10 digits for an organisation, 12 for an individual or ИП (stdnum.ru.inn)."""
    try:
        return _ru_inn.validate(_strip(value))
    except ValidationError as exc:
        raise _refuse(field, _strip(value), "ИНН (10 or 12 digits)", _reason(exc)) from exc


_KPP = re.compile(r"^\d{4}[0-9A-Z]{2}\d{3}$")


def ru_kpp(value: str, field: str = "kpp") -> str:
    """A КПП: tax office code (4 digits), reason code (2 digits or capital Latin letters,
    letters allowed since 2013) and a serial (3 digits). It has no check digit, so only the
    shape is checked."""
    number = re.sub(r"\s+", "", value).upper()
    if not _KPP.match(number):
        raise _refuse(field, _strip(value), "КПП", "expected 9 characters like 773601001")
    return number


def ru_ogrn(value: str, field: str = "ogrn") -> str:
    """An ОГРН (13 digits, organisations) or ОГРНИП (15 digits, ИП) (stdnum.ru.ogrn).

    One correction to stdnum 2.2: an ОГРНИП's check digit is the *last digit* of the first
    14 digits mod 13, so a remainder of 10, 11 or 12 gives 0, 1 or 2. stdnum compares the
    whole remainder and so refuses about 3 in 13 real ОГРНИП; those are accepted here.
    """
    number = _strip(value)
    try:
        return _ru_ogrn.validate(number)
    except InvalidChecksum as exc:
        compact = _ru_ogrn.compact(number)
        if len(compact) == 15 and int(compact[:14]) % 13 % 10 == int(compact[14]):
            return compact
        raise _refuse(field, number, "ОГРН/ОГРНИП (13 or 15 digits)", _reason(exc)) from exc
    except ValidationError as exc:
        raise _refuse(field, number, "ОГРН/ОГРНИП (13 or 15 digits)", _reason(exc)) from exc


def ru_bik(value: str, field: str = "bik") -> str:
    """A БИК: 9 digits. It has no check digit of its own; it is what account keys use."""
    number = re.sub(r"\s+", "", value)
    if not (len(number) == 9 and number.isascii() and number.isdigit()):
        raise _refuse(field, _strip(value), "БИК", "expected 9 digits")
    return number


_ACCOUNT_WEIGHTS = (7, 1, 3) * 8  # 24 weights; the 23 digits use the first 23


def ru_account_key_matches(prefix: str, account: str) -> bool:
    """The Bank of Russia control key: over the 23 digits ``prefix`` (3) + ``account`` (20),
    weights 7, 1, 3 repeated, the weighted sum ends in 0. The key is the account's 9th digit,
    chosen so that this holds."""
    digits = prefix + account
    if len(digits) != 23 or not (digits.isascii() and digits.isdigit()):
        return False
    return sum(int(d) * w for d, w in zip(digits, _ACCOUNT_WEIGHTS, strict=False)) % 10 == 0


def _ru_account(account: str, field: str, what: str) -> str:
    number = re.sub(r"[\s.-]+", "", account)
    if not (len(number) == 20 and number.isascii() and number.isdigit()):
        raise _refuse(field, _strip(account), what, "expected 20 digits")
    return number


def ru_settlement_account(account: str, bik: str, field: str = "settlement_account") -> str:
    """A расчётный счёт (20 digits) checked against its bank's БИК.

    An account held at a credit institution keys with the last three digits of the БИК.
    (Accounts opened directly in a Bank of Russia division key like a correspondent account;
    q2c's users bank with credit institutions, so that case is not guessed at here.)
    """
    number = _ru_account(account, field, "расчётный счёт")
    bank = ru_bik(bik)
    if not ru_account_key_matches(bank[-3:], number):
        raise _refuse(field, number, "расчётный счёт", f"the control key does not match БИК {bank}")
    return number


def ru_correspondent_account(account: str, bik: str, field: str = "correspondent_account") -> str:
    """A корреспондентский счёт (20 digits) checked against the bank's БИК.

    It is held at the Bank of Russia, so it keys with "0" + the 5th and 6th digits of the
    БИК (the code of the Bank of Russia division) instead of the last three. That key is
    the same for every bank of one division (all of Moscow's banks, say), so a bank's
    correspondent account (30101...) must also end in its БИК's last three digits, as the
    Bank of Russia numbers them; that catches a correct account typed with another bank's
    БИК. (Treasury accounts, 40102..., are given in this field too and have no such rule.)
    """
    number = _ru_account(account, field, "корреспондентский счёт")
    bank = ru_bik(bik)
    if number.startswith("30101") and number[-3:] != bank[-3:]:
        raise _refuse(
            field,
            number,
            "корреспондентский счёт",
            f"a bank's correspondent account ends in the last three digits of its БИК {bank}",
        )
    if not ru_account_key_matches("0" + bank[4:6], number):
        raise _refuse(
            field, number, "корреспондентский счёт", f"the control key does not match БИК {bank}"
        )
    return number


# --- international -------------------------------------------------------------------------


def iban(value: str, field: str = "iban") -> str:
    """An IBAN: mod-97 check digits and the country's length and layout (stdnum.iban)."""
    try:
        return _iban.validate(value)
    except ValidationError as exc:
        raise _refuse(field, _strip(value), "IBAN", _reason(exc)) from exc


def bic(value: str, field: str = "bic") -> str:
    """A BIC/SWIFT code, 8 or 11 characters with a real country (stdnum.bic; no check digit)."""
    try:
        return _bic.validate(value)
    except ValidationError as exc:
        raise _refuse(field, _strip(value), "BIC/SWIFT code", _reason(exc)) from exc


def eu_vat_id(value: str, country: str | None = None, field: str = "vat_id") -> str:
    """An EU VAT id, checked offline by `stdnum.eu.vat` (format and check digits; whether it
    is currently registered is a VIES question this layer does not ask).

    Without a country prefix the party's ``country`` prefix is added (``EL`` for Greece),
    since operators often type the bare number.
    """
    compact = re.sub(r"[\s./-]+", "", value).upper()
    if country is not None and compact[:2].isdigit():
        prefix = EU_VAT_PREFIX.get(country.upper())
        if prefix is not None:
            compact = prefix + compact
    if compact[:2] not in set(EU_VAT_PREFIX.values()):
        raise _refuse(field, _strip(value), "EU VAT id", "it must start with a country prefix")
    try:
        return _eu_vat.validate(compact)
    except ValidationError as exc:
        raise _refuse(field, _strip(value), "EU VAT id", _reason(exc)) from exc


# --- a whole party -------------------------------------------------------------------------

_Check = Callable[[str, str], str]


def _pass_through(value: str, field: str) -> str:
    return _strip(value)


def _fields_for(country: str, today: date | None) -> dict[str, _Check]:
    """The requisite fields a party of ``country`` may have, each with its check.

    Bank accounts checked against a БИК are listed with a placeholder: they need the БИК
    too, so `validate_party` checks them after every single field.
    """
    if country == "RO":
        return {
            "tax_id": lambda v, f: ro_tax_id(v, f),
            "reg_com": lambda v, f: ro_reg_com(v, f, today=today),
            "vat_id": lambda v, f: eu_vat_id(v, "RO", f),
            "iban": lambda v, f: iban(v, f),
            "bic": lambda v, f: bic(v, f),
        }
    if country == "RU":
        return {
            "tax_id": lambda v, f: ru_inn(v, f),
            "kpp": lambda v, f: ru_kpp(v, f),
            "ogrn": lambda v, f: ru_ogrn(v, f),
            "bik": lambda v, f: ru_bik(v, f),
            "settlement_account": lambda v, f: _ru_account(v, f, "расчётный счёт"),
            "correspondent_account": lambda v, f: _ru_account(v, f, "корреспондентский счёт"),
            "bic": lambda v, f: bic(v, f),
        }
    if country in EU_VAT_PREFIX:
        return {
            "tax_id": lambda v, f: eu_vat_id(v, country, f),
            "vat_id": lambda v, f: eu_vat_id(v, country, f),
            "iban": lambda v, f: iban(v, f),
            "bic": lambda v, f: bic(v, f),
        }
    return {
        "tax_id": _pass_through,
        "vat_id": _pass_through,
        "iban": lambda v, f: iban(v, f),
        "bic": lambda v, f: bic(v, f),
    }


def validate_party(
    country: str, fields: Mapping[str, str], *, today: date | None = None
) -> dict[str, str]:
    """Check a party's requisites for its country and return them normalised.

    - RO: ``tax_id`` (CUI/CIF with or without RO, or CNP), ``reg_com``, ``vat_id``,
      ``iban``, ``bic``.
    - RU: ``tax_id`` (ИНН), ``kpp``, ``ogrn`` (ОГРН or ОГРНИП), ``bik``,
      ``settlement_account``, ``correspondent_account`` (both checked against ``bik``),
      ``bic`` (SWIFT).
    - another EU country: ``tax_id`` and ``vat_id`` are EU VAT ids; ``iban``, ``bic``.
    - elsewhere: ``iban`` and ``bic`` are checked; ``tax_id`` and ``vat_id`` are kept as
      typed (there is nothing to check them against).

    Blank values are kept as ``""`` (the field is not set) and not checked. Fields are
    checked in the mapping's order, then the ones that depend on each other (accounts
    against the БИК, КПП and ОГРН against the kind of ИНН); the first bad one raises
    `InvalidInput` naming it. A field that a party of this country does not have is refused
    too, so a misspelt name cannot slip through unchecked.
    """
    code = country.strip().upper()
    if not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise InvalidInput(f"country: {country!r} is not a two-letter ISO country code")
    checks = _fields_for(code, today)
    result: dict[str, str] = {}
    for name, value in fields.items():
        check = checks.get(name)
        if check is None:
            known = ", ".join(checks)
            raise InvalidInput(f"{name}: not a requisite of a {code} party (known: {known})")
        result[name] = check(value, name) if value.strip() else ""
    if code == "RU":
        _cross_check_ru(result)
    return result


def _cross_check_ru(values: dict[str, str]) -> None:
    """The rules that tie Russian requisites together."""
    inn = values.get("tax_id", "")
    if inn and len(inn) == 12 and values.get("kpp"):
        raise InvalidInput("kpp: only an organisation (10-digit ИНН) has a КПП")
    ogrn = values.get("ogrn", "")
    if inn and ogrn:
        if len(inn) == 10 and len(ogrn) != 13:
            raise InvalidInput("ogrn: an organisation (10-digit ИНН) has a 13-digit ОГРН")
        if len(inn) == 12 and len(ogrn) != 15:
            raise InvalidInput("ogrn: an individual (12-digit ИНН) has a 15-digit ОГРНИП")
    bik_value = values.get("bik", "")
    for name, check in (
        ("settlement_account", ru_settlement_account),
        ("correspondent_account", ru_correspondent_account),
    ):
        if values.get(name):
            if not bik_value:
                raise InvalidInput(f"bik: needed to check {name}")
            check(values[name], bik_value, name)
