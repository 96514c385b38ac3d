"""`q2c clients create FILE.json | show ID | update ID FILE.json` and
`q2c company show | update FILE.json` (the seller's details)."""

from __future__ import annotations

import argparse
from typing import Any

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, read_json_file, uuid_text
from starter.cli.output import Output


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    clients = commands.add_parser("clients", help="create, show or change clients")
    client_actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = client_actions.add_parser("create", parents=[json_too], help="POST a client")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    show = client_actions.add_parser("show", parents=[json_too], help="one client")
    show.add_argument("id", type=uuid_text, metavar="ID")
    update = client_actions.add_parser(
        "update", parents=[json_too], help="PATCH a client: the fields in the file change"
    )
    update.add_argument("id", type=uuid_text, metavar="ID")
    update.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")

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
    elif args.action == "update":
        out.record(_patch(api, f"/api/v1/clients/{args.id}", read_json_file(args.file)))
    else:
        out.record(api.get(f"/api/v1/clients/{args.id}"))
    return 0
