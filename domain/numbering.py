"""Legal document numbers: a pattern per series, filled with the next sequence value."""

from __future__ import annotations

import string

from domain.errors import InvalidInput

DEFAULT_PATTERN = "{series}-{year}-{seq:05}"
_ALLOWED_FIELDS = {"series", "year", "seq"}


class NumberingError(InvalidInput):
    pass


def validate_pattern(pattern: str) -> None:
    fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    if "seq" not in fields:
        raise NumberingError("pattern: must contain {seq}")
    unknown = fields - _ALLOWED_FIELDS
    if unknown:
        raise NumberingError(f"pattern: unknown fields {sorted(unknown)}")


def format_number(pattern: str, series: str, year: int, seq: int) -> str:
    validate_pattern(pattern)
    if seq < 1:
        raise NumberingError("seq: must be at least 1")
    return pattern.format(series=series, year=year, seq=seq)


# What an admin may put in a pattern: a number lands in PDFs, e-Factura XML, email
# subjects, file names and URLs, so its text is limited to characters that mean nothing in
# any of them, and its length is bounded whatever the counter reaches.
_SAFE_LITERAL = frozenset(string.ascii_letters + string.digits + "-/._")
MAX_LITERAL_CHARS = 24
MAX_SEQ_WIDTH = 12
# The widest a placeholder prints: a series name (at most 20), a year, a counter.
_PLACEHOLDER_WIDTH = {"series": 20, "year": 4, "seq": MAX_SEQ_WIDTH}
MAX_NUMBER_LENGTH = MAX_LITERAL_CHARS + sum(_PLACEHOLDER_WIDTH.values())


def check_pattern_safe(pattern: str) -> None:
    """Letters, digits and ``-/._`` around the placeholders {series}, {year} and {seq} or
    {seq:0N} (counter width N from 1 to 12), each at most once, so every number is at most
    MAX_NUMBER_LENGTH characters."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as bad:
        raise NumberingError(f"pattern: {bad}") from bad
    literal = "".join(text for text, _, _, _ in parts)
    unsafe = sorted({char for char in literal if char not in _SAFE_LITERAL})
    if unsafe:
        raise NumberingError(
            f"pattern: only letters, digits, '-', '/', '.', '_' and the placeholders"
            f" {{series}}, {{year}}, {{seq}} are allowed, not {''.join(unsafe)!r}"
        )
    if len(literal) > MAX_LITERAL_CHARS:
        raise NumberingError(f"pattern: at most {MAX_LITERAL_CHARS} characters of text")
    seen: set[str] = set()
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in _ALLOWED_FIELDS:
            raise NumberingError(f"pattern: unknown field {{{name}}}")
        if name in seen:
            raise NumberingError(f"pattern: {{{name}}} may appear once")
        seen.add(name)
        if conversion:
            raise NumberingError(f"pattern: {{{name}}} takes no conversion")
        if name == "seq" and spec:
            # Without the 0, format() pads the counter with spaces.
            width = spec[1:] if spec.startswith("0") else ""
            if not (width.isdigit() and width.isascii() and 1 <= int(width) <= MAX_SEQ_WIDTH):
                raise NumberingError(
                    f"pattern: the counter's width is {{seq:0N}} with N from 1 to"
                    f" {MAX_SEQ_WIDTH}, not {{seq:{spec}}}"
                )
        elif spec:
            raise NumberingError(f"pattern: {{{name}}} takes no format")


def validate_series(pattern: str, reset_yearly: bool) -> None:
    """A series that restarts every year must print the year, or its numbers would repeat."""
    validate_pattern(pattern)
    check_pattern_safe(pattern)
    if reset_yearly and "{year" not in pattern:
        raise NumberingError("pattern: a series reset every year must contain {year}")


def sequence_for(next_seq: int, current_year: int | None, year: int, reset_yearly: bool) -> int:
    """The sequence number the next document of `year` gets."""
    if reset_yearly and current_year is not None and year > current_year:
        return 1
    return next_seq


def check_move_forward(next_seq: int, requested: int) -> None:
    """An operator may skip numbers ahead (e.g. continuing a paper series), never go back:
    going back would hand out numbers again."""
    if requested < next_seq:
        raise NumberingError(
            f"next_seq: numbers up to {next_seq - 1} may be in use; it can only move forward"
        )
