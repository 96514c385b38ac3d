"""`q2c proposals list [--status S] [--client ID] [--limit N] [--cursor C | --all] |
create FILE.json | show ID | send ID | invoice ID | resend ID`."""

from __future__ import annotations

import argparse

from domain.status import ProposalStatus
from starter.cli import paging
from starter.cli.client import Api
from starter.cli.commands.invoices import add_resend_action, resend
from starter.cli.inputs import Subcommands, query_of, read_json_file, uuid_text
from starter.cli.output import Output

PROPOSAL_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("status", "STATUS"),
    ("total", "TOTAL"),
    ("currency", "CURRENCY"),
    ("valid_until", "VALID UNTIL"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    proposals = commands.add_parser("proposals", help="create or show proposals")
    proposal_actions = proposals.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = proposal_actions.add_parser(
        "create", parents=[json_too], help="POST a proposal; its workflow emails it"
    )
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    listing = proposal_actions.add_parser("list", parents=[json_too], help="newest first")
    listing.add_argument("--status", choices=[status.value for status in ProposalStatus])
    listing.add_argument("--client", type=uuid_text, metavar="ID", help="only this client's")
    listing.add_argument("--matter", type=uuid_text, metavar="ID", help="only this matter's")
    paging.add_paging(listing)
    show = proposal_actions.add_parser("show", parents=[json_too], help="one proposal")
    show.add_argument("id", type=uuid_text, metavar="ID")
    send = proposal_actions.add_parser(
        "send", parents=[json_too], help="email a proposal kept as a draft"
    )
    send.add_argument("id", type=uuid_text, metavar="ID")
    invoice = proposal_actions.add_parser(
        "invoice",
        parents=[json_too],
        help="make a proposal the client did not sign (sent or expired) a draft invoice",
    )
    invoice.add_argument("id", type=uuid_text, metavar="ID")
    add_resend_action(proposal_actions, json_too, "email a sent proposal again, new signing link")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "list":
        query = query_of(
            {"status": args.status, "client_id": args.client, "matter_id": args.matter}
        )
        body = paging.fetch(api, "/api/v1/proposals", query, args)
        paging.show(out, body, PROPOSAL_COLUMNS, "no proposals", right=frozenset({"total"}))
    elif args.action == "create":
        out.record(api.post_json_text("/api/v1/proposals", read_json_file(args.file)))
    elif args.action == "send":
        out.record(api.json("POST", f"/api/v1/proposals/{args.id}/send"))
    elif args.action == "resend":
        resend(args, api, out, f"/api/v1/proposals/{args.id}", "proposal")
    elif args.action == "invoice":
        out.record(api.json("POST", f"/api/v1/proposals/{args.id}/invoice"))
    else:
        out.record(api.get(f"/api/v1/proposals/{args.id}"))
    return 0
