"""`q2c clients create FILE.json | show ID`."""

from __future__ import annotations

import argparse

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, read_json_file, uuid_text
from starter.cli.output import Output


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    clients = commands.add_parser("clients", help="create or show clients")
    client_actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = client_actions.add_parser("create", parents=[json_too], help="POST a client")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    show = client_actions.add_parser("show", parents=[json_too], help="one client")
    show.add_argument("id", type=uuid_text, metavar="ID")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "create":
        out.record(api.post_json_text("/api/v1/clients", read_json_file(args.file)))
    else:
        out.record(api.get(f"/api/v1/clients/{args.id}"))
    return 0
