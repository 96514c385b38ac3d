"""`q2c efactura connect | status | xml`: the company's connection to ANAF's e-Factura, and a
document's e-Factura XML.

`connect` starts the authorization (prints the URL to open in a browser that holds the
company's qualified certificate; ANAF sends it back to q2c), or completes it with `--code`,
or stores tokens obtained elsewhere with `--tokens FILE.json` (`access_token`,
`refresh_token`, `expires_in`; a file, so no token lands in the shell's history). No token
is ever printed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from starter.cli.client import Api
from starter.cli.inputs import Subcommands, read_json_file, uuid_text
from starter.cli.output import EXIT_REFUSED, Output, write_output

STATUS_FIELDS = (
    ("enabled", "e-Factura on"),
    ("base_url", "SPV"),
    ("oauth_url", "OAuth"),
    ("connected", "connected"),
    ("connected_at", "connected at"),
    ("connected_by", "connected by"),
    ("access_expires_at", "token expires"),
    ("last_refresh_at", "last refresh"),
)


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    efactura = commands.add_parser("efactura", help="ANAF e-Factura: connection and XML")
    actions = efactura.add_subparsers(dest="action", required=True, metavar="ACTION")
    connect = actions.add_parser(
        "connect", parents=[json_too], help="connect the company to ANAF (admins)"
    )
    how = connect.add_mutually_exclusive_group()
    how.add_argument("--code", metavar="CODE", help="an authorization code from ANAF")
    how.add_argument(
        "--tokens",
        metavar="FILE.json",
        help="tokens obtained elsewhere: access_token, refresh_token, expires_in (- for stdin)",
    )
    actions.add_parser("status", parents=[json_too], help="is the connection working?")
    xml = actions.add_parser("xml", help="save a document's e-Factura XML (UBL CIUS-RO)")
    xml.add_argument("id", type=uuid_text, metavar="ID")
    xml.add_argument("--credit-note", action="store_true", help="ID is a credit note's")
    xml.add_argument("-o", "--output", required=True, metavar="FILE", help="- for stdout")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "xml":
        kind = "credit-notes" if args.credit_note else "invoices"
        write_output(
            api.request("GET", f"/api/v1/{kind}/{args.id}/efactura.xml").content, args.output
        )
        return 0
    if args.action == "status":
        status = api.get("/api/v1/efactura/status")
        if out.as_json:
            out.raw(status)
        else:
            _print_status(status, out)
        working = status["connected"] and bool(status["check"] and status["check"]["ok"])
        return 0 if working else EXIT_REFUSED
    if args.code is not None:
        body: Any = {"code": args.code}
    elif args.tokens is not None:
        body = _token_body(read_json_file(args.tokens))
    else:
        body = {}
    answer = api.json("POST", "/api/v1/efactura/connect", json=body)
    if out.as_json:
        out.raw(answer)
    elif answer["authorize_url"]:
        out.say(
            "Open this address in a browser that holds the company's qualified certificate\n"
            "and approve q2c; ANAF then sends the browser back to q2c, which stores the tokens\n"
            f"(valid until {answer['authorize_expires_at']}):\n\n  {answer['authorize_url']}\n\n"
            "Then check with `q2c efactura status`. If the browser cannot reach q2c, copy the\n"
            "`code` from the address ANAF redirects to and run `q2c efactura connect --code CODE`."
        )
    else:
        _print_status(answer["status"], out)
    return 0


def _token_body(text: str) -> dict[str, Any]:
    given = json.loads(text)
    return {name: given.get(name) for name in ("access_token", "refresh_token", "expires_in")}


def _print_status(status: dict[str, Any], out: Output) -> None:
    for name, label in STATUS_FIELDS:
        value = status.get(name)
        shown = "yes" if value is True else "no" if value is False else value or "-"
        out.say(f"{label + ':':<15} {shown}")
    check = status.get("check")
    if check is None:
        reason = "e-Factura is off" if not status["enabled"] else "not connected"
        out.say(f"{'check:':<15} none ({reason}: `q2c efactura connect`)")
    else:
        out.say(f"{'check:':<15} {'working' if check['ok'] else 'FAILING'}: {check['message']}")
