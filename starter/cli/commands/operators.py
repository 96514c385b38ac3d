"""`q2c operators add NAME --role R | list | revoke ID | rotate ID`: who may use the API.

`add` and `rotate` print the new key alone on their last line (it is shown this once), so
`q2c operators add alice --role operator | tail -n 1` gives just the key.
"""

from __future__ import annotations

import argparse
from typing import Any

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, uuid_text
from starter.cli.output import Output

ROLES = ("viewer", "operator", "admin")
OPERATOR_COLUMNS = [
    ("id", "ID"),
    ("name", "NAME"),
    ("role", "ROLE"),
    ("active", "ACTIVE"),
    ("last_used_at", "LAST USED"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    ops = commands.add_parser("operators", help="operators, their roles and keys (admins)")
    actions = ops.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", parents=[json_too], help="a new operator; prints their key once, last"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", parents=[json_too], help="every operator (never their keys)")
    revoke = actions.add_parser("revoke", parents=[json_too], help="stop a key working")
    revoke.add_argument("id", type=uuid_text, metavar="ID")
    rotate = actions.add_parser(
        "rotate", parents=[json_too], help="a new key; the old one stops working"
    )
    rotate.add_argument("id", type=uuid_text, metavar="ID")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "list":
        body = api.json("GET", "/api/v1/operators")
        out.listing(body, OPERATOR_COLUMNS, "no operators")
        return 0
    if args.action == "revoke":
        body = api.json("POST", f"/api/v1/operators/{args.id}/revoke")
        out.answer(body, lambda op: f"operator {op['id']} ({op['name']}): key revoked")
        return 0
    if args.action == "add":
        body = api.json("POST", "/api/v1/operators", json={"name": args.name, "role": args.role})
        intro = "added"
    else:
        body = api.json("POST", f"/api/v1/operators/{args.id}/rotate")
        intro = "new key for"
    out.answer(body, lambda op: _with_key(intro, op))
    return 0


def _with_key(intro: str, op: dict[str, Any]) -> str:
    return (
        f"{intro} operator {op['name']} ({op['role']}), id {op['id']}\n"
        "their API key, shown this once:\n"
        f"{op['key']}"
    )
