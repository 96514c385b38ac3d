"""`q2c matters create --client ID --title T --reference R [--responsible NAME] | list
[--client ID] [--q TEXT] | show ID | update ID [--title T] [--responsible NAME]
[--close | --reopen]`: a client's matters (cases, дела)."""

from __future__ import annotations

import argparse
from typing import Any

from starter.cli import paging
from starter.cli.client import Api
from starter.cli.inputs import Subcommands, query_of, uuid_text
from starter.cli.output import Output, print_table

MATTER_COLUMNS = [
    ("id", "ID"),
    ("reference", "REFERENCE"),
    ("title", "TITLE"),
    ("client_id", "CLIENT"),
    ("responsible", "RESPONSIBLE"),
    ("closed_at", "CLOSED"),
]
MONEY_COLUMNS = [
    ("currency", "CUR"),
    ("billed", "BILLED"),
    ("collected", "COLLECTED"),
    ("due", "DUE"),
    ("overdue", "OVERDUE"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    matters = commands.add_parser("matters", help="a client's matters (cases)")
    actions = matters.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[json_too], help="open a matter of a client")
    create.add_argument("--client", type=uuid_text, required=True, metavar="ID")
    create.add_argument("--title", required=True)
    create.add_argument("--reference", required=True, help="unique in the company")
    create.add_argument("--responsible", default="", metavar="NAME")
    listing = actions.add_parser("list", parents=[json_too], help="matters by reference")
    listing.add_argument("--client", type=uuid_text, metavar="ID")
    listing.add_argument("--q", metavar="TEXT", help="a part of the title or reference")
    paging.add_paging(listing)
    show = actions.add_parser(
        "show", parents=[json_too], help="the matter and its money per currency"
    )
    show.add_argument("id", type=uuid_text, metavar="ID")
    update = actions.add_parser(
        "update", parents=[json_too], help="change title or responsible; close or reopen"
    )
    update.add_argument("id", type=uuid_text, metavar="ID")
    update.add_argument("--title")
    update.add_argument("--responsible", metavar="NAME")
    closing = update.add_mutually_exclusive_group()
    closing.add_argument("--close", dest="closed", action="store_const", const=True)
    closing.add_argument("--reopen", dest="closed", action="store_const", const=False)


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "create":
        body = {
            "client_id": args.client,
            "title": args.title,
            "reference": args.reference,
            "responsible": args.responsible,
        }
        out.record(api.json("POST", "/api/v1/matters", json=body))
    elif args.action == "list":
        query = query_of({"client_id": args.client, "q": args.q})
        found = paging.fetch(api, "/api/v1/matters", query, args)
        paging.show(out, found, MATTER_COLUMNS, "no matters")
    elif args.action == "update":
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("title", args.title),
                ("responsible", args.responsible),
                ("closed", args.closed),
            )
            if value is not None
        }
        out.record(api.json("PATCH", f"/api/v1/matters/{args.id}", json=changes))
    else:
        matter = api.json("GET", f"/api/v1/matters/{args.id}")
        if out.as_json:
            out.raw(matter)
            return 0
        out.record({key: value for key, value in matter.items() if key != "money"})
        out.say("")
        out.say("money:")
        if matter["money"]:
            print_table(
                matter["money"],
                MONEY_COLUMNS,
                out.out,
                right=frozenset({"billed", "collected", "due", "overdue"}),
            )
        else:
            out.say("  none")
    return 0
