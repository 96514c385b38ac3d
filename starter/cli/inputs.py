"""What the operator hands in: argparse types for IDs, amounts, days and currencies, the
shared `--json` flag, and JSON body files.

An argument type turns text into the value sent, or raises ArgumentTypeError, which argparse
prints as a usage error (exit 2). Amounts stay the very strings given, never floats.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeAlias
from uuid import UUID

from starter.cli.client import CliError

# The `commands` object of `parser.add_subparsers()`, which each command module adds to.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def json_flag_parent() -> argparse.ArgumentParser:
    """A parent parser so `--json` is also accepted after the subcommand; SUPPRESS keeps it
    from resetting the one given before the subcommand."""
    json_too = argparse.ArgumentParser(add_help=False)
    json_too.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    return json_too


def query_of(flags: dict[str, Any]) -> dict[str, str]:
    """The optional flags as query parameters: those not given (None, empty) are not sent."""
    return {name: str(value) for name, value in flags.items() if value}


def add_pdf_action(actions: Subcommands, help_text: str) -> None:
    """`pdf ID -o FILE`: download one document's PDF (no `--json`: the answer is a file)."""
    pdf = actions.add_parser("pdf", help=help_text)
    pdf.add_argument("id", type=uuid_text, metavar="ID")
    pdf.add_argument("-o", "--output", required=True, metavar="FILE", help="- for stdout")


def uuid_text(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ID (a UUID): {text!r}") from None


def positive_amount(text: str) -> str:
    """A positive decimal, passed on as the very string given (never through a float)."""
    value = text.strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"not a decimal amount: {text!r} (write it like 1250.50)"
        ) from None
    if not number.is_finite() or number <= 0:
        raise argparse.ArgumentTypeError(f"the amount must be a positive number: {text!r}")
    return value


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def currency_code(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise argparse.ArgumentTypeError(f"not a three-letter currency code: {text!r}")
    return code


def read_json_file(name: str) -> str:
    """The file's text, checked to be a JSON object; `-` is stdin. Sent as written, so
    amounts the file gives as strings stay exact."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {name}: {error}") from error
    where = "stdin" if name == "-" else name
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise CliError(f"{where} must hold a JSON object, not {type(body).__name__}")
    return text
