"""Text that reaches an email made safe: no control characters, so a client or company
name carrying CR/LF cannot add a header (``Bcc:``) or split a subject, and no invisible
control characters (NUL, ESC, C1) end up in what a person reads.

Pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata

# Unicode's line and paragraph separators end a line for some mail readers too.
_LINE_BREAKERS = "\u2028\u2029\x85"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _LINE_BREAKERS


def single_line(value: str) -> str:
    """A header value or a name: every control character (CR, LF, tab, NUL, ...) becomes a
    space, runs of spaces one, no space at either end."""
    spaced = "".join(" " if _is_control(char) else char for char in value)
    return re.sub(r" {2,}", " ", spaced).strip()


def clean_body(value: str) -> str:
    """An email body: lines and tabs kept (CRLF and CR as LF), every other control
    character dropped."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        ("\n" if char in _LINE_BREAKERS else "")
        if _is_control(char) and char not in "\n\t"
        else char
        for char in text
    )
    return text
