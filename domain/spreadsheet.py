"""What a cell of an exported spreadsheet or CSV file may hold.

A text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection): a client named
`=HYPERLINK(...)` would run in the accountant's spreadsheet. OWASP's advice is to
prefix such a cell with a single quote, which spreadsheets show as text. Numbers and
dates are not text and keep their type: a negative amount stays a number.

The XLSX format (XML 1.0) cannot hold most C0 control characters at all; openpyxl
refuses them (IllegalCharacterError), so they are dropped from text cells.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The characters XML 1.0 forbids, as openpyxl's ILLEGAL_CHARACTERS_RE lists them: C0
# controls except tab, line feed and carriage return.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def inert_text(text: str) -> str:
    """The text, prefixed with `'` when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def xlsx_text(text: str) -> str:
    """A text cell as XLSX can hold it: control characters dropped, never a formula.
    Dropping comes first, so a control character cannot hide a leading `=`."""
    return inert_text(_XML_ILLEGAL.sub("", text))
