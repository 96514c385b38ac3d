"""Every list's paging: `limit` (default DEFAULT_LIMIT, at most MAX_LIMIT) and an opaque
`cursor`, answered as `{"items": [...], "next_cursor": ...}` (null on the last page).

A cursor is base64url of JSON naming the list, a digest of the filters it was made under
and the last row's key (db.keyset), followed by a digest of all that. It is not a secret
(it only names a position in a list the caller may read anyway); the digest only makes an
edited, truncated or made-up cursor a 422 instead of a page from a random place. A cursor
given with other filters than the ones it was made under, or to another list, is a 422:
the caller starts again without a cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query

from db.keyset import Order
from starter.api.errors import invalid_parameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

PAGING = (
    f"Paged: `limit` rows a page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}); pass the "
    "answer's `next_cursor` as `cursor` for the next page, with the same filters (a cursor "
    "given with other filters, or edited, is a 422); `next_cursor` is null on the last page."
)


def paged(what: str) -> str:
    """A list route's OpenAPI description: what it lists, then how it pages."""
    return f"{what}\n\n{PAGING}"


Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"rows a page: default {DEFAULT_LIMIT}, at most {MAX_LIMIT}",
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1000,
        description="the previous page's `next_cursor`, with the same filters",
    ),
]

Row = TypeVar("Row")

_DIGEST_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(b"q2c-cursor\0" + data).digest()[:_DIGEST_BYTES]


def _filters_digest(filters: Mapping[str, Any]) -> str:
    # Canonical JSON: the same filters always give the same digest, whatever their order.
    text = json.dumps({name: str(value) for name, value in filters.items() if value is not None})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Pager(Generic[Row]):
    """One list's paging: its name (a cursor of another list is refused) and order."""

    name: str
    order: Order

    def encode(self, row: Row, filters: Mapping[str, Any]) -> str:
        body = json.dumps(
            [self.name, _filters_digest(filters), self.order.key_of(row)],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(_digest(body))}"

    def after(self, cursor: str | None, filters: Mapping[str, Any]) -> list[Any] | None:
        """The key a cursor continues after (None: no cursor, the first page); a cursor
        not made by this list under these filters is a 422."""
        if cursor is None:
            return None
        try:
            body_text, _, digest_text = cursor.partition(".")
            body = _unb64(body_text)
            if _digest(body) != _unb64(digest_text):
                raise ValueError("digest")
            name, filters_digest, key = json.loads(body)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as bad:
            raise invalid_parameter("query", "cursor", "not a cursor this list gave") from bad
        if name != self.name:
            raise invalid_parameter("query", "cursor", f"a cursor of another list ({name})")
        if filters_digest != _filters_digest(filters):
            raise invalid_parameter(
                "query",
                "cursor",
                "the cursor was given with other filters: use the same ones, or start again "
                "without a cursor",
            )
        try:
            return self.order.key_from(key)
        except ValueError as bad:
            raise invalid_parameter("query", "cursor", "not a cursor this list gave") from bad

    def page(
        self,
        rows: Sequence[Row],
        limit: int,
        filters: Mapping[str, Any],
        to_json: Callable[[Row], dict[str, Any]],
    ) -> dict[str, Any]:
        """The answer from up to limit + 1 rows fetched (the extra one only says there is
        a next page)."""
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "items": [to_json(row) for row in page],
            "next_cursor": self.encode(page[-1], filters) if more and page else None,
        }
