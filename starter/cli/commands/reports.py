"""`q2c report aging | cashflow`: the receivables reports, as tables."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, iso_day, query_of, uuid_text
from starter.cli.output import Output, print_table


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    report = commands.add_parser("report", help="receivables reports")
    report_kinds = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    aging_report = report_kinds.add_parser(
        "aging", parents=[json_too], help="amounts due by days past due, per client"
    )
    aging_report.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD")
    aging_report.add_argument("--client", type=uuid_text, metavar="ID")
    aging_report.add_argument("--matter", type=uuid_text, metavar="ID")
    flow = report_kinds.add_parser(
        "cashflow", parents=[json_too], help="invoiced vs collected per month, and DSO"
    )
    flow.add_argument("--from", dest="date_from", type=iso_day, metavar="YYYY-MM-DD")
    flow.add_argument("--to", dest="date_to", type=iso_day, metavar="YYYY-MM-DD")
    flow.add_argument("--matter", type=uuid_text, metavar="ID")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    show: Callable[[dict[str, Any], Output], None]
    if args.report == "aging":
        path, show = "/api/v1/reports/aging", _print_aging
        params = {"as_of": args.as_of, "client_id": args.client, "matter_id": args.matter}
    else:
        path, show = "/api/v1/reports/cashflow", _print_cashflow
        params = {"from": args.date_from, "to": args.date_to, "matter_id": args.matter}
    body = api.json("GET", path, params=query_of(params))
    if out.as_json:
        out.raw(body)
    else:
        show(body, out)
    return 0


def _print_aging(body: dict[str, Any], out: Output) -> None:
    buckets: list[str] = body["buckets"]
    columns = [("client_name", "CLIENT"), ("currency", "CUR")]
    columns += [(bucket, bucket.upper()) for bucket in buckets] + [("total", "TOTAL")]
    out.say(f"receivables aging as of {body['as_of']} (days past the due date)")
    rows = [*body["clients"], *[{**t, "client_name": "TOTAL"} for t in body["totals"]]]
    if not rows:
        out.say("nothing is owed")
    else:
        print_table(rows, columns, out.out, right=frozenset({*buckets, "total"}))


def _print_cashflow(body: dict[str, Any], out: Output) -> None:
    out.say(f"invoiced and collected, {body['from']} to {body['to']}")
    month_columns = [("month", "MONTH"), ("currency", "CUR"), ("invoiced", "INVOICED"),
                     ("collected", "COLLECTED")]  # fmt: skip
    print_table(body["months"], month_columns, out.out, right=frozenset({"invoiced", "collected"}))
    for dso in body["dso"]:
        days = dso["days"] if dso["days"] is not None else "n/a"
        out.say(f"DSO {dso['currency']} over {dso['period_days']} days: {days}")
