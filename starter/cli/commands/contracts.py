"""`q2c contracts create FILE.json | list | show ID | invoice ID` (alias: `contract`)."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, positive_amount, read_json_file, uuid_text
from starter.cli.output import Output

CONTRACT_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("contract_date", "DATE"),
    ("subject", "SUBJECT"),
    ("currency", "CURRENCY"),
    ("payment_terms_days", "TERMS"),
]


def quantities(text: str) -> list[str]:
    """`1,12.5`: one quantity per contract line, in order (0 leaves a line out)."""
    values = [part.strip() for part in text.split(",")]
    for value in values:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"not a decimal quantity: {value!r}") from None
        if not number.is_finite() or number < 0:
            raise argparse.ArgumentTypeError(f"a quantity must be 0 or more: {value!r}")
    return values


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    contracts = commands.add_parser(
        "contracts", aliases=["contract"], help="contracts, and invoices made from them"
    )
    contract_actions = contracts.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = contract_actions.add_parser("create", parents=[json_too], help="POST a contract")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    listing = contract_actions.add_parser("list", parents=[json_too], help="a table of them")
    listing.add_argument("--client", type=uuid_text, metavar="ID", help="only this client's")
    show = contract_actions.add_parser("show", parents=[json_too], help="one, with its lines")
    show.add_argument("id", type=uuid_text, metavar="ID")
    make = contract_actions.add_parser(
        "invoice", parents=[json_too], help="an invoice from the contract, to review"
    )
    make.add_argument("id", type=uuid_text, metavar="ID")
    make.add_argument(
        "--quantities",
        type=quantities,
        metavar="Q1,Q2",
        help="one quantity per contract line (0 leaves it out)",
    )
    make.add_argument("--notes", help="instead of the contract's notes")
    make.add_argument(
        "--exchange-rate", type=positive_amount, metavar="LEI", help="lei per unit (RO, not RON)"
    )
    make.add_argument("--file", metavar="FILE.json", help="a body with its own lines")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    action: str = args.action
    if action == "create":
        out.invoice(api.post_json_text("/api/v1/contracts", read_json_file(args.file)))
    elif action == "list":
        params = {"client_id": args.client} if args.client else {}
        body = api.json("GET", "/api/v1/contracts", params=params)
        out.listing(body, CONTRACT_COLUMNS, "no contracts")
    elif action == "show":
        out.invoice(api.get(f"/api/v1/contracts/{args.id}"))
    else:
        _invoice_from_contract(args, api, out)
    return 0


def _invoice_from_contract(args: argparse.Namespace, api: Api, out: Output) -> None:
    request: dict[str, Any] = {}
    if args.file:
        request = json.loads(read_json_file(args.file))
    if args.quantities is not None:
        request["quantities"] = args.quantities
    if args.notes is not None:
        request["notes"] = args.notes
    if args.exchange_rate is not None:
        request["exchange_rate"] = args.exchange_rate

    def made(invoice: dict[str, Any]) -> str:
        return (
            f"invoice {invoice['id']} made from the contract: {invoice['total']} "
            f"{invoice['currency']}; it awaits review (`q2c invoices show {invoice['id']}`, "
            f"then `q2c invoices approve {invoice['id']}`)"
        )

    out.answer(api.json("POST", f"/api/v1/contracts/{args.id}/invoices", json=request), made)
