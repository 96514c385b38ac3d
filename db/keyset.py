"""Keyset paging: a list's order as named columns, the parameters a query continues it
with, and a row's key as JSON values (what the API puts in an opaque cursor) and back.

Keyset, not OFFSET: a page starts strictly after the last row of the previous one, so a
row added or removed between two pages neither repeats nor hides another, and the query
costs the same on page 1 and page 1000 (with an index on the order's columns). The last
key is always a unique column (the id), so rows sharing a timestamp still have one order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

# How a key value travels as JSON and comes back, per SQL type of the key's column.
_TO_JSON: dict[str, Callable[[Any], Any]] = {
    "timestamptz": lambda value: value.isoformat(),
    "date": lambda value: value.isoformat(),
    "uuid": str,
    "text": str,
    "bigint": int,
}


def _datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_text(value))
    if parsed.tzinfo is None:
        raise ValueError("a timestamp without a zone")
    return parsed


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r}")
    return value


def _int(value: Any) -> int:
    # bool is an int in Python; JSON true is not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    return value


_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "timestamptz": _datetime,
    "date": lambda value: date.fromisoformat(_text(value)),
    "uuid": lambda value: UUID(_text(value)),
    "text": _text,
    "bigint": _int,
}


@dataclass(frozen=True, slots=True)
class Key:
    """One column of an order: the row's attribute (= the column's name), its SQL type,
    and whether it may be NULL (the query then sorts NULL as a value, e.g.
    `COALESCE(due_date, 'infinity')`, and compares the parameter the same way)."""

    column: str
    type: str
    nullable: bool = False


# Where a list starts without a cursor: a key before every row's (ascending) or after it
# (descending), so the query always compares (no "no cursor" branch) and a generic plan
# still takes the comparison as an index condition. No real row has these values: 0001-01-01
# and 9999-12-31 bound any created_at, the nil and max UUIDs are never generated, and every
# text is >= ''.
_FIRST: dict[str, Any] = {
    "timestamptz": datetime(1, 1, 1, tzinfo=UTC),
    "date": date(1, 1, 1),
    "uuid": UUID(int=0),
    "text": "",
    "bigint": -(2**63),
}
_LAST: dict[str, Any] = {
    "timestamptz": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "date": date(9999, 12, 31),
    "uuid": UUID(int=2**128 - 1),
    "bigint": 2**63 - 1,
}


@dataclass(frozen=True, slots=True)
class Order:
    """A list's keyset order, every key in one direction, the last key unique. The SQL
    stays written out in each query (no SQL is glued from pieces in db/), in this shape,
    for keys a, b descending:

        AND (a, b) < ($n::type_a, $n+1::type_b)
        ORDER BY a DESC, b DESC

    `params` gives $n.. ; `key_of` a row's key as JSON values and `key_from` them back."""

    keys: tuple[Key, ...]
    descending: bool = False

    def __post_init__(self) -> None:
        bounds = _LAST if self.descending else _FIRST
        for key in self.keys:
            if key.type not in _TO_JSON or key.type not in bounds:
                raise ValueError(f"no keyset codec for {key.type} in this direction")

    def params(self, after: Sequence[Any] | None) -> list[Any]:
        """The key the page starts after: `after`, or without one a key before (after,
        descending) every row's."""
        if after is None:
            bounds = _LAST if self.descending else _FIRST
            return [bounds[key.type] for key in self.keys]
        if len(after) != len(self.keys):
            raise ValueError("a key of another order")
        return list(after)

    def key_of(self, row: Any) -> list[Any]:
        """The row's key as JSON values (None stays None)."""
        return [
            None if (value := getattr(row, key.column)) is None else _TO_JSON[key.type](value)
            for key in self.keys
        ]

    def key_from(self, values: Any) -> list[Any]:
        """A key made by `key_of` back as the query's parameters; ValueError if it is not
        one (a None only for a nullable key)."""
        if not isinstance(values, list) or len(values) != len(self.keys):
            raise ValueError("a key of another order")
        key: list[Any] = []
        for spec, value in zip(self.keys, values, strict=True):
            if value is None:
                if not spec.nullable:
                    raise ValueError(f"{spec.column} cannot be null")
                key.append(None)
            else:
                key.append(_FROM_JSON[spec.type](value))
        return key
