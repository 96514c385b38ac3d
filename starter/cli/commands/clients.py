"""`q2c clients list [--q TEXT] [--limit N] [--cursor C | --all] | show ID | create
FILE.json | edit ID FILE.json | archive ID | unarchive ID` (`update` is `edit`'s older name)
and `q2c company show | update FILE.json` (the seller's details)."""

from __future__ import annotations

import argparse
from typing import Any

from starter.cli import paging
from starter.cli.client import Api
from starter.cli.inputs import Subcommands, query_of, read_json_file, uuid_text
from starter.cli.output import Output, print_table

CLIENT_COLUMNS = [
    ("id", "ID"),
    ("name", "NAME"),
    ("tax_id", "TAX ID"),
    ("email", "EMAIL"),
    ("country", "COUNTRY"),
    ("archived_at", "ARCHIVED"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    clients = commands.add_parser("clients", help="create, show or change clients")
    client_actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = client_actions.add_parser("create", parents=[json_too], help="POST a client")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    listing = client_actions.add_parser(
        "list", parents=[json_too], help="clients by name; --q finds name, tax id or email"
    )
    listing.add_argument("--q", metavar="TEXT", help="a part of the name, tax id or email")
    paging.add_paging(listing)
    listing.add_argument("--archived", action="store_true", help="archived clients too")
    show = client_actions.add_parser(
        "show", parents=[json_too], help="the client's card: documents, tasks, balances"
    )
    show.add_argument("id", type=uuid_text, metavar="ID")
    for name in ("edit", "update"):
        edit = client_actions.add_parser(
            name, parents=[json_too], help="PATCH a client: the fields in the file change"
        )
        edit.add_argument("id", type=uuid_text, metavar="ID")
        edit.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    for name in ("archive", "unarchive"):
        archive = client_actions.add_parser(name, parents=[json_too], help=f"{name} a client")
        archive.add_argument("id", type=uuid_text, metavar="ID")

    company = commands.add_parser("company", help="show or change the seller's details")
    company_actions = company.add_subparsers(dest="action", required=True, metavar="ACTION")
    company_actions.add_parser("show", parents=[json_too], help="the seller's details")
    company_update = company_actions.add_parser(
        "update", parents=[json_too], help="PATCH the seller: the fields in the file change"
    )
    company_update.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")


def _patch(api: Api, path: str, body: str) -> dict[str, Any]:
    """PATCH a JSON body as written, as `create` POSTs one."""
    return api.json(
        "PATCH", path, content=body.encode(), headers={"Content-Type": "application/json"}
    )


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.command == "company":
        if args.action == "update":
            out.record(_patch(api, "/api/v1/company", read_json_file(args.file)))
        else:
            out.record(api.get("/api/v1/company"))
        return 0
    if args.action == "create":
        out.record(api.post_json_text("/api/v1/clients", read_json_file(args.file)))
    elif args.action in ("edit", "update"):
        out.record(_patch(api, f"/api/v1/clients/{args.id}", read_json_file(args.file)))
    elif args.action in ("archive", "unarchive"):
        out.record(api.json("POST", f"/api/v1/clients/{args.id}/{args.action}"))
    elif args.action == "list":
        query = query_of({"q": args.q}) | ({"archived": "true"} if args.archived else {})
        body = paging.fetch(api, "/api/v1/clients", query, args)
        paging.show(out, body, CLIENT_COLUMNS, "no clients")
    else:
        _card(api.json("GET", f"/api/v1/clients/{args.id}/card"), out)
    return 0


def _card(card: dict[str, Any], out: Output) -> None:
    """The client's fields, then each list of its card as a table, then money per currency."""
    if out.as_json:
        out.raw(card)
        return
    out.record(card["client"])
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "money",
            [
                ("currency", "CUR"),
                ("balance_due", "DUE"),
                ("overdue", "OVERDUE"),
                ("credit", "CREDIT"),
            ],
        ),
        (
            "invoices",
            [
                ("id", "ID"),
                ("number", "NUMBER"),
                ("status", "STATUS"),
                ("currency", "CUR"),
                ("total", "TOTAL"),
                ("amount_due", "DUE"),
                ("due_date", "DUE DATE"),
            ],
        ),
        (
            "proposals",
            [
                ("id", "ID"),
                ("number", "NUMBER"),
                ("status", "STATUS"),
                ("currency", "CUR"),
                ("total", "TOTAL"),
                ("valid_until", "VALID UNTIL"),
            ],
        ),
        (
            "contracts",
            [
                ("id", "ID"),
                ("number", "NUMBER"),
                ("contract_date", "DATE"),
                ("currency", "CUR"),
                ("subject", "SUBJECT"),
            ],
        ),
        ("open_tasks", [("id", "ID"), ("due_date", "DUE"), ("kind", "KIND"), ("title", "TITLE")]),
    ]
    for key, columns in sections:
        out.say("")
        out.say(f"{key.replace('_', ' ')}:")
        if card[key]:
            print_table(card[key], columns, out.out)
        else:
            out.say("  none")
