"""An amount in words, as Romanian and Russian invoices print it under the total.

`num2words` spells the numbers; the currency wording and grammar are done here, because
its own currency mode gets them wrong where an accountant would notice:

- Romanian: it writes «una mie două sute de lei» (must be «o mie»), «douăzeci și unu de
  mii» (mie is feminine: «douăzeci și una de mii»), and knows no currency but RON. Here
  numerals agree with their noun (leu, ban, dolar, cent, euro are masculine; rublă,
  copeică, mie are feminine; milion, miliard are neuter: «un milion», «două milioane»),
  «de» comes before the noun when the last two digits are 00 or 20 and above («douăzeci
  de lei», «o sută de lei», but «doisprezece lei», «o sută unu lei»), and one is
  «un leu» / «o rublă».
- Russian: Russian invoices write the roubles in words with the first letter capitalised
  and the kopecks in two digits («Одна тысяча двести рублей 50 копеек»); num2words puts
  the kopecks in words and a comma between. Nouns take the form for 1, 2-4 or 5+
  (рубль / рубля / рублей; 11-14 take the last).
- English: num2words puts commas in («one thousand, two hundred»); they go.

The minor part is left out in Romanian and English when it is zero («o mie de lei»);
Russian always prints it («00 копеек»), as Russian documents do. A currency without names
here is written with its code («… CHF și 50/100»). Negative amounts (credit notes) get
«minus» / «Минус».
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from num2words import num2words

from domain.errors import InvalidInput
from domain.i18n import pick_locale
from domain.money import minor_units, round_money

# The amounts an invoice can reach, with room: below a trillion.
_LIMIT = 10**12


def _cardinal(number: int, lang: str) -> str:
    return str(num2words(number, lang=lang))


# --- Romanian ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RoNoun:
    one: str  # with its article: "un leu", "o rublă"
    many: str
    gender: str  # "m", "f" or "n" (neuter: masculine in the singular, feminine in the plural)


_RO_NAMES: dict[str, tuple[_RoNoun, _RoNoun | None]] = {
    "RON": (_RoNoun("un leu", "lei", "m"), _RoNoun("un ban", "bani", "m")),
    "EUR": (_RoNoun("un euro", "euro", "m"), _RoNoun("un cent", "cenți", "m")),
    "USD": (_RoNoun("un dolar", "dolari", "m"), _RoNoun("un cent", "cenți", "m")),
    "RUB": (_RoNoun("o rublă", "ruble", "f"), _RoNoun("o copeică", "copeici", "f")),
}
_RO_SCALES = (
    (10**9, _RoNoun("un miliard", "miliarde", "n")),
    (10**6, _RoNoun("un milion", "milioane", "n")),
    (10**3, _RoNoun("o mie", "mii", "f")),
)


def _ro_needs_de(count: int) -> bool:
    """«douăzeci de lei», «o sută de lei», but «nouăsprezece lei», «o sută unu lei»."""
    return count % 100 == 0 or count % 100 >= 20


def _ro_agree(words: str, gender: str) -> str:
    """num2words' masculine numeral made to agree with a plural noun of ``gender``."""
    if gender == "m":
        return words
    *head, last = words.split(" ")
    last = {"doi": "două", "doisprezece": "douăsprezece"}.get(last, last)
    if gender == "f" and last == "unu":
        last = "una"
    return " ".join([*head, last])


def _ro_count(count: int, noun: _RoNoun) -> str:
    """``count`` (1-999) of ``noun``: «o mie», «două mii», «douăzeci și una de mii»."""
    if count == 1:
        return noun.one
    numeral = _ro_agree(_cardinal(count, "ro"), noun.gender)
    return f"{numeral} de {noun.many}" if _ro_needs_de(count) else f"{numeral} {noun.many}"


def _ro_number(number: int, noun: _RoNoun | None, code: str) -> str:
    """``number`` (0 or more) followed by ``noun`` (or the currency code)."""
    if number == 0:
        return f"zero {noun.many if noun else code}"
    if number == 1 and noun is not None:
        return noun.one
    parts: list[str] = []
    rest = number
    for scale, scale_noun in _RO_SCALES:
        if rest >= scale:
            parts.append(_ro_count(rest // scale, scale_noun))
            rest %= scale
    if rest:
        gender = noun.gender if noun else "m"
        parts.append(_ro_agree(_cardinal(rest, "ro"), gender))
    if noun is None:
        return f"{' '.join(parts)} {code}"
    de = " de" if _ro_needs_de(number) else ""
    return f"{' '.join(parts)}{de} {noun.many}"


def _ro_words(units: int, minor: int, digits: int, currency: str) -> str:
    major_noun, minor_noun = _RO_NAMES.get(currency, (None, None))
    text = _ro_number(units, major_noun, currency)
    if minor:
        if minor_noun is not None and major_noun is not None and digits == 2:
            text += " și " + _ro_number(minor, minor_noun, currency)
        else:
            text += f" și {minor:0{digits}d}/{10**digits}"
    return text


# --- Russian -------------------------------------------------------------------------------

_RU_NAMES: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "RUB": (("рубль", "рубля", "рублей"), ("копейка", "копейки", "копеек")),
    "EUR": (("евро", "евро", "евро"), ("цент", "цента", "центов")),
    "USD": (("доллар", "доллара", "долларов"), ("цент", "цента", "центов")),
    "RON": (("лей", "лея", "леев"), ("бан", "бана", "банов")),
}


def ru_plural(number: int, forms: tuple[str, str, str]) -> str:
    """The noun form for ``number``: 1, 21, 101 -> forms[0]; 2-4, 22 -> forms[1];
    0, 5-20, 111-114 -> forms[2]."""
    if number % 10 == 1 and number % 100 != 11:
        return forms[0]
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return forms[1]
    return forms[2]


def _ru_words(units: int, minor: int, digits: int, currency: str) -> str:
    # Every currency named here is masculine (евро too), num2words' default gender.
    words = _cardinal(units, "ru")
    names = _RU_NAMES.get(currency)
    major = ru_plural(units, names[0]) if names else currency
    text = f"{words[:1].upper()}{words[1:]} {major}"
    if digits == 0:
        return text
    if names is not None and digits == 2:
        return f"{text} {minor:02d} {ru_plural(minor, names[1])}"
    return f"{text} {minor:0{digits}d}/{10**digits}"


# --- English -------------------------------------------------------------------------------

_EN_NAMES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "RON": (("leu", "lei"), ("ban", "bani")),
    "EUR": (("euro", "euro"), ("cent", "cents")),  # the EU's English style: plural "euro"
    "USD": (("dollar", "dollars"), ("cent", "cents")),
    "RUB": (("rouble", "roubles"), ("kopeck", "kopecks")),
}


def _en_number(number: int) -> str:
    return _cardinal(number, "en").replace(",", "")


def _en_words(units: int, minor: int, digits: int, currency: str) -> str:
    names = _EN_NAMES.get(currency)
    major = (names[0][0] if units == 1 else names[0][1]) if names else currency
    text = f"{_en_number(units)} {major}"
    if minor:
        if names is not None and digits == 2:
            text += f" and {_en_number(minor)} {names[1][0] if minor == 1 else names[1][1]}"
        else:
            text += f" and {minor:0{digits}d}/{10**digits}"
    return text


# --- the one entry point -------------------------------------------------------------------

_SPELLERS = {"ro": _ro_words, "ru": _ru_words, "en": _en_words}
_MINUS = {"ro": "minus", "ru": "Минус", "en": "minus"}


def amount_in_words(amount: Decimal, currency: str, locale: str) -> str:
    """``amount`` of ``currency`` in words for a document in ``locale`` (ro, ru or en).

    The amount must already be in the currency's minor units (as every total is): an
    amount with more decimals is refused rather than rounded, so the words can never say
    something other than the figures beside them.
    """
    digits = minor_units(currency)
    if not amount.is_finite() or round_money(amount, currency) != amount:
        raise InvalidInput(f"amount: {amount} has more decimals than {currency} has")
    if abs(amount) >= _LIMIT:
        raise InvalidInput(f"amount: {amount} is too large to write in words")
    lang = pick_locale(locale)
    minor_total = int(abs(amount).scaleb(digits))
    units, minor = divmod(minor_total, 10**digits)
    text = _SPELLERS[lang](units, minor, digits, currency)
    if amount < 0:
        text = f"{_MINUS[lang]} {text[:1].lower() if lang == 'ru' else text[:1]}{text[1:]}"
    return text
