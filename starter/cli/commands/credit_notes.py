"""`q2c credit-note list | show ID | pdf ID` (alias: `credit-notes`): the credit notes
(storno) of voided issued invoices. They are made by voiding an invoice; here only read."""

from __future__ import annotations

import argparse

from starter.cli import paging
from starter.cli.client import Api
from starter.cli.inputs import Subcommands, add_pdf_action, query_of, uuid_text
from starter.cli.output import Output, write_output

CREDIT_NOTE_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("issue_date", "DATE"),
    ("invoice_number", "CANCELS INVOICE"),
    ("invoice_issue_date", "OF"),
    ("total", "TOTAL"),
    ("currency", "CURRENCY"),
    ("status", "STATUS"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    credit_notes = commands.add_parser(
        "credit-note",
        aliases=["credit-notes"],
        help="list, show or download the credit notes (storno) of voided issued invoices",
    )
    credit_note_actions = credit_notes.add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    credit_list = credit_note_actions.add_parser("list", parents=[json_too], help="newest first")
    credit_list.add_argument("--invoice", type=uuid_text, metavar="ID", help="the voided invoice")
    credit_list.add_argument("--client", type=uuid_text, metavar="ID")
    credit_list.add_argument("--matter", type=uuid_text, metavar="ID", help="only this matter's")
    paging.add_paging(credit_list)
    credit_show = credit_note_actions.add_parser(
        "show", parents=[json_too], help="one credit note, its original and lines"
    )
    credit_show.add_argument("id", type=uuid_text, metavar="ID")
    add_pdf_action(credit_note_actions, "download the credit note's PDF")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    """Credit notes are made by voiding an issued invoice; here they are only read."""
    if args.action == "list":
        params = {"client_id": args.client, "invoice_id": args.invoice, "matter_id": args.matter}
        body = paging.fetch(api, "/api/v1/credit-notes", query_of(params), args)
        paging.show(out, body, CREDIT_NOTE_COLUMNS, "no credit notes", right=frozenset({"total"}))
        return 0
    path = f"/api/v1/credit-notes/{args.id}"
    if args.action == "show":
        out.invoice(api.get(path))
    else:
        write_output(api.request("GET", f"{path}/pdf").content, args.output)
    return 0
