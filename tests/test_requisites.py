"""Requisites: check digits refused with the field named, values normalised.

Valid examples are either public requisites of well-known banks (Sberbank, T-Bank) or
built here with check digits computed by small helpers written from the published
algorithms, independently of `domain.requisites`; the helpers are first shown to agree
with the public examples.
"""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.ro import onrc

from domain.errors import InvalidInput
from domain.requisites import (
    bic,
    eu_vat_id,
    iban,
    ro_reg_com,
    ro_tax_id,
    ru_account_key_matches,
    ru_bik,
    ru_correspondent_account,
    ru_inn,
    ru_kpp,
    ru_ogrn,
    ru_settlement_account,
    validate_party,
)

# --- independent check-digit helpers -------------------------------------------------------


def inn10(first9: str) -> str:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return first9 + str(sum(w * int(d) for w, d in zip(weights, first9, strict=True)) % 11 % 10)


def inn12(first10: str) -> str:
    w1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    d1 = str(sum(w * int(d) for w, d in zip(w1, first10, strict=True)) % 11 % 10)
    w2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    d2 = str(sum(w * int(d) for w, d in zip(w2, first10 + d1, strict=True)) % 11 % 10)
    return first10 + d1 + d2


def ogrn13(first12: str) -> str:
    return first12 + str(int(first12) % 11 % 10)


def ogrnip15(first14: str) -> str:
    return first14 + str(int(first14) % 13 % 10)


def with_account_key(prefix3: str, account: str) -> str:
    """``account`` (20 digits, the 9th a placeholder) with the key digit that makes
    7-1-3 weights over prefix + account sum to a multiple of 10."""
    weights = [7, 1, 3] * 8
    for key in "0123456789":
        candidate = account[:8] + key + account[9:]
        digits = prefix3 + candidate
        if sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 10 == 0:
            return candidate
    raise AssertionError("no key digit")


def cui(body: str) -> str:
    weights = (7, 5, 3, 2, 1, 7, 5, 3, 2)
    total = sum(w * int(d) for w, d in zip(weights, body.zfill(9), strict=True))
    return body + str(total * 10 % 11 % 10)


def cnp(first12: str) -> str:
    weights = (2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9)
    rest = sum(w * int(d) for w, d in zip(weights, first12, strict=True)) % 11
    return first12 + ("1" if rest == 10 else str(rest))


def onrc_new(first13: str) -> str:
    return first13 + str((ord(first13[0]) % 10 + sum(int(d) for d in first13[1:])) % 10)


def wrong_last(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


# Public requisites of ПАО Сбербанк and АО «ТБанк».
SBER = {
    "inn": "7707083893",
    "kpp": "773601001",
    "ogrn": "1027700132195",
    "bik": "044525225",
    "corr": "30101810400000000225",
}
TBANK_BIK, TBANK_CORR = "044525974", "30101810145250000974"


def test_the_helpers_agree_with_public_examples() -> None:
    assert inn10(SBER["inn"][:9]) == SBER["inn"]
    assert ogrn13(SBER["ogrn"][:12]) == SBER["ogrn"]
    assert with_account_key("0" + SBER["bik"][4:6], SBER["corr"]) == SBER["corr"]
    assert with_account_key("0" + TBANK_BIK[4:6], TBANK_CORR) == TBANK_CORR
    assert cui("1854729") == "18547290"


# --- Romania -------------------------------------------------------------------------------


def test_romanian_cui_with_or_without_the_vat_prefix() -> None:
    assert ro_tax_id("18547290") == "18547290"
    assert ro_tax_id(" ro 185 472 90 ") == "RO18547290"  # the prefix says "VAT payer": kept
    assert ro_tax_id("RO18547290") == "RO18547290"
    built = cui("1234567")
    assert ro_tax_id(built) == built
    with pytest.raises(InvalidInput, match=r"^tax_id: .*check digit"):
        ro_tax_id("18547291")
    with pytest.raises(InvalidInput, match=r"^tax_id: "):
        ro_tax_id("RO0123")  # no leading zero
    with pytest.raises(InvalidInput, match=r"^tax_id: "):
        ro_tax_id("12345678901")  # 11 digits
    with pytest.raises(InvalidInput, match=r"^client_tax_id: "):
        ro_tax_id("abc", "client_tax_id")


def test_a_person_is_identified_by_a_cnp_without_prefix() -> None:
    person = cnp("185010140001")  # male, born 1985-01-01, Bucharest (county 40)
    assert ro_tax_id(person) == person
    with pytest.raises(InvalidInput, match=r"^tax_id: "):
        ro_tax_id(wrong_last(person))
    with pytest.raises(InvalidInput, match=r"^tax_id: "):
        ro_tax_id("RO" + person)


def test_trade_register_numbers_in_both_formats() -> None:
    assert ro_reg_com("J40/1234/2020") == "J40/1234/2020"
    assert ro_reg_com("j 5/12/2001") == "J05/12/2001"
    assert ro_reg_com("J40/1234/20.03.2020") == "J40/1234/2020"
    new_2020 = onrc_new("J202000123440")  # 2020, serial 001234, county 40
    new_2025 = onrc_new("J202500012300")  # registered after 2024: county 00
    assert new_2020 == "J2020001234402"
    for number in (new_2020, new_2025):
        assert ro_reg_com(number) == number
        assert onrc.is_valid(number)  # stdnum agrees
    with pytest.raises(InvalidInput, match=r"^reg_com: .*check digit"):
        ro_reg_com(wrong_last(new_2020))
    with pytest.raises(InvalidInput, match=r"^reg_com: .*county 41"):
        ro_reg_com("J41/1234/2020")
    with pytest.raises(InvalidInput, match=r"^reg_com: .*1990-2024"):
        ro_reg_com("J40/1234/2025")  # the old format was not issued after 2024
    with pytest.raises(InvalidInput, match=r"^reg_com: .*county 40 is not possible"):
        ro_reg_com(onrc_new("J202500012340"))  # after 2024 the county is 00
    with pytest.raises(InvalidInput, match=r"^reg_com: .*neither format"):
        ro_reg_com("X40/1234/2020")
    future = onrc_new("J209900012300")
    assert ro_reg_com(future) == future  # without a date nothing says 2099 is the future
    with pytest.raises(InvalidInput, match=r"^reg_com: .*year 2099"):
        ro_reg_com(future, today=date(2026, 11, 23))


# --- Russia --------------------------------------------------------------------------------


def test_inn_for_organisations_and_individuals() -> None:
    assert ru_inn(SBER["inn"]) == SBER["inn"]
    person = inn12("5001234567")
    assert ru_inn(person) == person
    assert ru_inn(" 7707083893 ") == "7707083893"
    with pytest.raises(InvalidInput, match=r"^tax_id: .*check digit"):
        ru_inn(wrong_last(SBER["inn"]))
    with pytest.raises(InvalidInput, match=r"^tax_id: .*check digit"):
        ru_inn(wrong_last(person))
    with pytest.raises(InvalidInput, match=r"^tax_id: .*number of characters"):
        ru_inn("77070838931")
    with pytest.raises(InvalidInput, match=r"^inn: "):
        ru_inn("77070838AB", "inn")


def test_ogrn_and_ogrnip() -> None:
    assert ru_ogrn(SBER["ogrn"]) == SBER["ogrn"]
    with pytest.raises(InvalidInput, match=r"^ogrn: .*check digit"):
        ru_ogrn(wrong_last(SBER["ogrn"]))
    ogrnip = ogrnip15("30450011600015")
    assert int("30450011600015") % 13 < 10  # an ordinary one
    assert ru_ogrn(ogrnip) == ogrnip
    with pytest.raises(InvalidInput, match=r"^ogrn: "):
        ru_ogrn(wrong_last(ogrnip))
    with pytest.raises(InvalidInput, match=r"^ogrn: "):
        ru_ogrn("123456789012")


def test_an_ogrnip_whose_remainder_is_ten_or_more_is_valid() -> None:
    # The check digit is the last digit of the remainder: stdnum 2.2 gets this wrong.
    first14 = next(f"3045001160{n:04d}" for n in range(100) if int(f"3045001160{n:04d}") % 13 >= 10)
    number = ogrnip15(first14)
    assert ru_ogrn(number) == number
    with pytest.raises(InvalidInput, match=r"^ogrn: "):
        ru_ogrn(first14 + str(int(first14) % 13)[:1])  # the first digit of "10".."12" is wrong


def test_kpp_has_a_shape_but_no_check_digit() -> None:
    assert ru_kpp(SBER["kpp"]) == SBER["kpp"]
    assert ru_kpp("7736AB001") == "7736AB001"  # reason code letters, since 2013
    assert ru_kpp("7736ab001") == "7736AB001"
    for bad in ("77360100", "7736010011", "77360Б001", "AB3601001", "773601A01"):
        with pytest.raises(InvalidInput, match=r"^kpp: "):
            ru_kpp(bad)


def test_bank_accounts_are_checked_against_the_bik() -> None:
    assert ru_bik(SBER["bik"]) == SBER["bik"]
    with pytest.raises(InvalidInput, match=r"^bik: "):
        ru_bik("04452522")
    # Correspondent accounts key with "0" + digits 5-6 of the БИК.
    assert ru_correspondent_account(SBER["corr"], SBER["bik"]) == SBER["corr"]
    assert ru_correspondent_account(TBANK_CORR, TBANK_BIK) == TBANK_CORR
    # Sberbank and T-Bank are both in Moscow: the same key, but not the same last digits.
    with pytest.raises(InvalidInput, match=r"^correspondent_account: .*last three digits"):
        ru_correspondent_account(SBER["corr"], TBANK_BIK)
    corr_typo = SBER["corr"][:12] + "1" + SBER["corr"][13:]
    with pytest.raises(InvalidInput, match=r"^correspondent_account: .*control key"):
        ru_correspondent_account(corr_typo, SBER["bik"])
    # A treasury account (40102..., key built here) has no "last three digits" rule.
    treasury_bik = "017003983"
    treasury = with_account_key("0" + treasury_bik[4:6], "40102810X45370000003")
    assert ru_correspondent_account(treasury, treasury_bik) == treasury
    # Settlement accounts key with the last three digits of the БИК.
    account = with_account_key(SBER["bik"][-3:], "40702810X38000123456")
    assert ru_settlement_account(account, SBER["bik"]) == account
    assert ru_settlement_account(" 4070 2810 " + account[8:], SBER["bik"]) == account
    assert not ru_account_key_matches(TBANK_BIK[-3:], account)
    with pytest.raises(InvalidInput, match=r"^settlement_account: .*control key.*044525974"):
        ru_settlement_account(account, TBANK_BIK)
    typo = account[:15] + str((int(account[15]) + 1) % 10) + account[16:]
    with pytest.raises(InvalidInput, match=r"^settlement_account: .*control key"):
        ru_settlement_account(typo, SBER["bik"])
    with pytest.raises(InvalidInput, match=r"^settlement_account: .*20 digits"):
        ru_settlement_account(account[:-1], SBER["bik"])
    # A correspondent account is not a settlement account: the keys differ.
    with pytest.raises(InvalidInput, match=r"^settlement_account: "):
        ru_settlement_account(SBER["corr"][:8] + "0" + SBER["corr"][9:], SBER["bik"])


# --- international -------------------------------------------------------------------------


def test_iban_bic_and_eu_vat_ids() -> None:
    assert iban("RO49 AAAA 1B31 0075 9384 0000") == "RO49AAAA1B31007593840000"
    with pytest.raises(InvalidInput, match=r"^iban: .*check digit"):
        iban("RO49AAAA1B31007593840001")
    with pytest.raises(InvalidInput, match=r"^iban: "):
        iban("RO49AAAA1B3100759384000")  # Romanian IBANs have 24 characters
    assert bic("rncb ro bu") == "RNCBROBU"
    assert bic("RNCBROBUXXX") == "RNCBROBUXXX"
    with pytest.raises(InvalidInput, match=r"^bic: "):
        bic("RNCBZZBU")  # no such country
    with pytest.raises(InvalidInput, match=r"^bic: "):
        bic("RNCBROB")
    assert eu_vat_id("DE 136 695 976") == "DE136695976"
    assert eu_vat_id("136695976", "DE") == "DE136695976"
    assert eu_vat_id("094259216", "GR") == "EL094259216"  # Greece's prefix is EL
    assert eu_vat_id("18547290", "RO") == "RO18547290"
    with pytest.raises(InvalidInput, match=r"^vat_id: .*check digit"):
        eu_vat_id("DE136695977")
    with pytest.raises(InvalidInput, match=r"^vat_id: .*country prefix"):
        eu_vat_id("136695976")


# --- a whole party -------------------------------------------------------------------------


def test_a_romanian_party_is_normalised() -> None:
    assert validate_party(
        "ro",
        {
            "tax_id": "ro 18547290",
            "reg_com": "J40/1234/2020",
            "iban": "ro49 aaaa 1b31 0075 9384 0000",
            "bic": "RNCBROBU",
            "vat_id": "",
        },
    ) == {
        "tax_id": "RO18547290",
        "reg_com": "J40/1234/2020",
        "iban": "RO49AAAA1B31007593840000",
        "bic": "RNCBROBU",
        "vat_id": "",
    }


def test_the_first_bad_field_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"^iban: "):
        validate_party("RO", {"tax_id": "18547290", "iban": "RO00BAD", "reg_com": "nonsense"})
    with pytest.raises(InvalidInput, match=r"^reg_com: "):
        validate_party("RO", {"reg_com": "nonsense", "iban": "RO00BAD"})
    with pytest.raises(InvalidInput, match=r"^kpp: not a requisite of a RO party"):
        validate_party("RO", {"kpp": "773601001"})
    with pytest.raises(InvalidInput, match=r"^country: "):
        validate_party("Romania", {})


def test_a_russian_organisation_and_an_individual_entrepreneur() -> None:
    account = with_account_key(SBER["bik"][-3:], "40702810X38000123456")
    organisation = {
        "tax_id": SBER["inn"],
        "kpp": SBER["kpp"],
        "ogrn": SBER["ogrn"],
        "bik": SBER["bik"],
        "settlement_account": account,
        "correspondent_account": SBER["corr"],
    }
    assert validate_party("RU", organisation) == organisation
    person_inn = inn12("5001234567")
    ogrnip = ogrnip15("30450011600015")
    assert validate_party("RU", {"tax_id": person_inn, "ogrn": ogrnip}) == {
        "tax_id": person_inn,
        "ogrn": ogrnip,
    }
    with pytest.raises(InvalidInput, match=r"^kpp: only an organisation"):
        validate_party("RU", {"tax_id": person_inn, "kpp": SBER["kpp"]})
    with pytest.raises(InvalidInput, match=r"^ogrn: an organisation .* 13-digit"):
        validate_party("RU", {"tax_id": SBER["inn"], "ogrn": ogrnip})
    with pytest.raises(InvalidInput, match=r"^ogrn: an individual .* 15-digit"):
        validate_party("RU", {"tax_id": person_inn, "ogrn": SBER["ogrn"]})
    with pytest.raises(InvalidInput, match=r"^bik: needed to check settlement_account"):
        validate_party("RU", {"settlement_account": account})
    with pytest.raises(InvalidInput, match=r"^settlement_account: .*control key"):
        validate_party("RU", {**organisation, "bik": TBANK_BIK, "correspondent_account": ""})
    with pytest.raises(InvalidInput, match=r"^correspondent_account: .*last three digits"):
        validate_party("RU", {**organisation, "correspondent_account": TBANK_CORR})
    with pytest.raises(InvalidInput, match=r"^iban: not a requisite of a RU party"):
        validate_party("RU", {"iban": "RO49AAAA1B31007593840000"})


def test_other_eu_and_other_countries() -> None:
    assert validate_party("DE", {"vat_id": "136695976", "tax_id": "DE136695976"}) == {
        "vat_id": "DE136695976",
        "tax_id": "DE136695976",
    }
    with pytest.raises(InvalidInput, match=r"^vat_id: "):
        validate_party("DE", {"vat_id": "DE136695977"})
    # Nothing to check a US tax id against: kept as typed, bank details still checked.
    assert validate_party("US", {"tax_id": " 12-3456789 "}) == {"tax_id": "12-3456789"}
    with pytest.raises(InvalidInput, match=r"^bic: "):
        validate_party("US", {"bic": "XXXXUS3"})
