"""The one output module: how the CLI prints what the API answered, and its errors.

`Output` prints a record, an invoice-like document with its lines, a table or the API's raw
JSON (`--json`); downloads go to a file or stdout; errors go to stderr as `error: ...` lines.
The exit codes live here too, next to the error lines they go with.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from starter.cli.client import ApiError, CliError, Unreachable

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2

_BODY_LOCATIONS = ("body", "query", "path", "header")


def format_detail(detail: Any) -> list[str]:
    """The API's `detail` as lines: a string stays itself; each of pydantic's validation
    errors ({loc, msg}) becomes `field a.b.c: msg`, without the leading `body`/`query`/`path`."""
    if isinstance(detail, list) and detail:
        lines = []
        for error in detail:
            if not isinstance(error, dict):
                lines.append(str(error))
                continue
            loc = [str(part) for part in error.get("loc") or []]
            if len(loc) > 1 and loc[0] in _BODY_LOCATIONS:
                loc = loc[1:]
            message = str(error.get("msg", "invalid"))
            lines.append(f"field {'.'.join(loc)}: {message}" if loc else message)
        return lines
    if isinstance(detail, str):
        return [detail]
    return [json.dumps(detail, ensure_ascii=False)]


def cell_text(value: Any) -> str:
    """A value as a table cell or field: `-` for nothing, yes/no for booleans."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def plain_decimal(text: Any) -> Any:
    """`1E+1` (a normalized Decimal) as `10`; anything that is not a decimal unchanged."""
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return text
    return format(number, "f") if number.is_finite() else text


def print_fields(record: dict[str, Any], out: TextIO) -> None:
    scalars = {k: v for k, v in record.items() if not isinstance(v, list | dict)}
    width = max((len(key) for key in scalars), default=0)
    for key, value in scalars.items():
        print(f"{key.replace('_', ' '):<{width}}  {cell_text(value)}", file=out)


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    out: TextIO,
    right: frozenset[str] = frozenset(),
) -> None:
    """`columns` are (key, heading); keys in `right` are right-aligned (amounts)."""
    cells = [[cell_text(row.get(key)) for key, _ in columns] for row in rows]
    widths = [
        max([len(heading), *(len(line[i]) for line in cells)])
        for i, (_, heading) in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if key in right else value.ljust(width)
            for value, width, (key, _) in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    print(line([heading for _, heading in columns]), file=out)
    for values in cells:
        print(line(values), file=out)


LINE_COLUMNS = [
    ("description", "DESCRIPTION"),
    ("quantity", "QTY"),
    ("unit", "UNIT"),
    ("unit_price", "UNIT PRICE"),
    ("discount_percent", "DISC %"),
    ("vat_rate", "VAT %"),
    ("net_amount", "NET"),
]


class Output:
    """Where a command prints its answer: the API's raw JSON with `--json`, else text."""

    def __init__(self, as_json: bool, out: TextIO) -> None:
        self.as_json = as_json
        self.out = out

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def raw(self, body: Any) -> None:
        self.say(json.dumps(body, indent=2, ensure_ascii=False))

    def answer(self, body: dict[str, Any], text: Callable[[dict[str, Any]], str]) -> None:
        """The raw JSON, or the one line `text` makes of it (only made when printed)."""
        if self.as_json:
            self.raw(body)
        else:
            self.say(text(body))

    def record(self, body: dict[str, Any]) -> None:
        if self.as_json:
            self.raw(body)
        else:
            print_fields(body, self.out)

    def invoice(self, body: dict[str, Any]) -> None:
        if self.as_json:
            self.raw(body)
            return
        print_fields(body, self.out)
        if body.get("lines"):
            self.say("")
            numeric = ("quantity", "unit_price", "discount_percent", "vat_rate", "net_amount")
            lines = [
                {k: plain_decimal(v) if k in numeric else v for k, v in line.items()}
                for line in body["lines"]
            ]
            print_table(
                lines,
                LINE_COLUMNS,
                self.out,
                right=frozenset(numeric),
            )

    def listing(
        self,
        body: dict[str, Any],
        columns: Sequence[tuple[str, str]],
        empty: str,
        right: frozenset[str] = frozenset(),
    ) -> None:
        """A list answer (`{"items": [...]}`) as a table, or `empty` when it has none."""
        if self.as_json:
            self.raw(body)
        elif not body["items"]:
            self.say(empty)
        else:
            print_table(body["items"], columns, self.out, right=right)


def write_output(content: bytes, output: str) -> None:
    """A downloaded file to `output`, or to stdout for "-"."""
    if output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        Path(output).write_bytes(content)
    except OSError as error:
        raise CliError(f"cannot write {output}: {error}") from error
    print(f"wrote {output} ({len(content)} bytes)", file=sys.stderr)


def print_error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def report_api_error(error: ApiError, api_url: str) -> None:
    for line in format_detail(error.detail):
        print_error(f"{error.status}: {line}")
    if error.status == 401:
        print(
            "hint: the API key is Q2C_API_KEY, else .q2c/api_key in the current directory "
            f"(the one `make run` made); is {api_url} the stack you mean?",
            file=sys.stderr,
        )


def report_unreachable(error: Unreachable) -> None:
    print_error(
        f"cannot reach the q2c API at {error.url}: {error.reason}. Is the stack running? "
        "Start it with `make run` (or set Q2C_API_URL to where it runs)."
    )


def silence_stdout() -> None:
    """After a broken pipe (`q2c invoices list | head`): later writes go nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
