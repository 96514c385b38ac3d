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


def validate_series(pattern: str, reset_yearly: bool) -> None:
    """A series that restarts every year must print the year, or its numbers would repeat."""
    validate_pattern(pattern)
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
