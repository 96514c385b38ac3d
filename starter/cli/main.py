"""The `q2c` command: run the stack's parts, operate it through the HTTP API, or demo it.

    q2c dev | worker | api | migrate          run a part (`dev` is the whole embedded stack)
    q2c clients create FILE.json | show ID | update ID FILE.json
    q2c company show | update FILE.json       the seller's details
    q2c proposals create FILE.json | show ID
    q2c contracts create FILE.json | list | show ID | invoice ID   (alias: contract)
    q2c invoices list | show | approve | void | pay | pdf
    q2c invoices refund | pause | resume | reschedule | reminders
    q2c credit-note list | show | pdf        credit notes of voided issued invoices
    q2c operators add NAME --role R | list | revoke ID | rotate ID   (admins)
    q2c efactura connect [--code CODE] | status | xml ID -o FILE     ANAF e-Factura
    q2c matters create | list | show ID | update ID   a client's matters (cases)
    q2c demo                                  one proposal from creation to paid, on the API

Operator commands talk to the API at Q2C_API_URL (default http://localhost:8000) with the
key in Q2C_API_KEY, else the dev stack's `.q2c/api_key`. Exit codes: 0 ok, 1 refused by the
API or bad input, 2 the API cannot be reached (argparse also uses 2 for usage errors).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import httpx

from starter.cli import demo, stack
from starter.cli.client import Api, ApiError, CliError, Unreachable
from starter.cli.commands import (
    clients,
    contracts,
    credit_notes,
    efactura,
    exports,
    invoices,
    matters,
    operators,
    proposals,
    reports,
    tasks,
)
from starter.cli.inputs import json_flag_parent
from starter.cli.output import (
    EXIT_REFUSED,
    EXIT_UNREACHABLE,
    Output,
    print_error,
    report_api_error,
    report_unreachable,
    silence_stdout,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="q2c",
        description="Quote-to-cash on Temporal: run the stack, operate it, or demo it.",
    )
    parser.add_argument("--json", action="store_true", help="print the API's raw JSON")
    json_too = json_flag_parent()
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In this order in `q2c --help`.
    stack.register(commands)
    clients.register(commands, json_too)
    proposals.register(commands, json_too)
    contracts.register(commands, json_too)
    invoices.register(commands, json_too)
    reports.register(commands, json_too)
    tasks.register(commands, json_too)
    credit_notes.register(commands, json_too)
    operators.register(commands, json_too)
    efactura.register(commands, json_too)
    matters.register(commands, json_too)
    exports.register(commands)
    demo.register(commands)
    return parser


_OPERATOR_COMMANDS: dict[str, Callable[[argparse.Namespace, Api, Output], int]] = {
    "contracts": contracts.run,
    "contract": contracts.run,
    "clients": clients.run,
    "company": clients.run,
    "proposals": proposals.run,
    "invoices": invoices.run,
    "demo": demo.run,
    "report": reports.run,
    "tasks": tasks.run,
    "export": exports.run,
    "credit-note": credit_notes.run,
    "credit-notes": credit_notes.run,
    "operators": operators.run,
    "efactura": efactura.run,
    "matters": matters.run,
}


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run one command; `transport` replaces the network (for tests)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command in stack.STACK_COMMANDS:
        return stack.STACK_COMMANDS[command](args)

    from settings import Settings

    settings = Settings.from_env()
    if not settings.api_key:
        print_error(
            "no API key: set Q2C_API_KEY to an operator's key, or start the embedded stack"
            " with `make run`, which makes one"
        )
        return EXIT_REFUSED
    api = Api(settings.api_url, settings.api_key, transport=transport)
    try:
        return _OPERATOR_COMMANDS[command](args, api, Output(args.json, sys.stdout))
    except ApiError as error:
        report_api_error(error, settings.api_url)
        return EXIT_REFUSED
    except Unreachable as error:
        report_unreachable(error)
        return EXIT_UNREACHABLE
    except CliError as error:
        print_error(str(error))
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `q2c invoices list | head`
        silence_stdout()
        return EXIT_REFUSED
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
