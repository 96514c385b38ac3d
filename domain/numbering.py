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
