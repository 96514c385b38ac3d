"""The list commands' paging: `--limit N`, `--cursor C` (a page's `next cursor`) and
`--all` (every page, following `next_cursor` until the last)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from starter.cli.client import Api, CliError
from starter.cli.output import Output

# The API's own bounds (starter/api/pagination.py): the CLI cannot import the API, and a
# limit out of them would only come back as a 422.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def page_limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_LIMIT}: {text!r}")
    return limit


def add_paging(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "--limit",
        type=page_limit,
        metavar="N",
        help=f"rows a page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
    )
    listing.add_argument("--cursor", metavar="C", help="the next page (`next cursor` printed)")
    listing.add_argument(
        "--all", action="store_true", help="every page, one after the other, as one list"
    )


def fetch(api: Api, path: str, query: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """One page (`--limit`, `--cursor`), or with `--all` every page from `--cursor` (or the
    first) on, as one answer whose `next_cursor` is null."""
    params = dict(query)
    if args.limit is not None:
        params["limit"] = str(args.limit)
    if args.cursor:
        params["cursor"] = args.cursor
    if not args.all:
        return api.json("GET", path, params=params)
    if args.limit is None:
        # The fewest requests: whole pages of the most the API gives.
        params["limit"] = str(MAX_LIMIT)
    items: list[Any] = []
    seen: set[str] = set()
    while True:
        body = api.json("GET", path, params=params)
        items.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return body | {"items": items, "next_cursor": None}
        if cursor in seen:
            raise CliError(f"GET {path} gave the same next_cursor twice; stopped")
        seen.add(cursor)
        params["cursor"] = cursor


def show(
    out: Output,
    body: dict[str, Any],
    columns: Sequence[tuple[str, str]],
    empty: str,
    right: frozenset[str] = frozenset(),
) -> None:
    """The list as a table, then the cursor of the next page if there is one."""
    out.listing(body, columns, empty, right=right)
    if not out.as_json and body.get("next_cursor"):
        out.say(f"next cursor: {body['next_cursor']} (or --all for every page)")
