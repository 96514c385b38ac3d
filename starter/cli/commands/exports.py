"""`q2c export invoices | payments | clients`: CSV or XLSX downloads."""

from __future__ import annotations

import argparse

from domain.status import InvoiceStatus
from starter.cli.client import Api
from starter.cli.inputs import Subcommands, iso_day, query_of, uuid_text
from starter.cli.output import Output, write_output


def register(commands: Subcommands) -> None:
    export = commands.add_parser("export", help="invoices, payments or clients as CSV or XLSX")
    export.add_argument("kind", choices=["invoices", "payments", "clients"])
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--from", dest="date_from", type=iso_day, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", type=iso_day, metavar="YYYY-MM-DD")
    export.add_argument("--status", choices=[status.value for status in InvoiceStatus])
    export.add_argument("--client", type=uuid_text, metavar="ID")
    export.add_argument("--matter", type=uuid_text, metavar="ID", help="one matter's only")
    export.add_argument("-o", "--output", default="-", metavar="FILE", help="- for stdout")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    params = {
        "from": args.date_from,
        "to": args.date_to,
        "status": args.status,
        "client_id": args.client,
        "matter_id": args.matter,
    }
    content = api.request(
        "GET",
        f"/api/v1/exports/{args.kind}.{args.format}",
        params=query_of(params),
    ).content
    write_output(content, args.output)
    return 0
