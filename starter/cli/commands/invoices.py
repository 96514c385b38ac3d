"""`q2c invoices list | show | approve | void | pay | pdf` and, on one invoice's money and
reminders, `refund | pause | resume | reschedule | reminders`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import Any

from domain.status import InvoiceStatus
from starter.cli.client import Api, CliError
from starter.cli.inputs import (
    Subcommands,
    currency_code,
    iso_day,
    positive_amount,
    uuid_text,
)
from starter.cli.output import Output, cell_text, print_table, write_output

INVOICE_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("status", "STATUS"),
    ("total", "TOTAL"),
    ("amount_due", "AMOUNT DUE"),
    ("currency", "CURRENCY"),
    ("due_date", "DUE DATE"),
]


def offsets(text: str) -> list[int]:
    """`-3,0,7` as [-3, 0, 7]; an empty string: no reminders."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a list of whole days like -3,0,7: {text!r}"
        ) from None


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    invoices = commands.add_parser("invoices", help="list, show, approve, void, pay invoices")
    invoice_actions = invoices.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = invoice_actions.add_parser("list", parents=[json_too], help="a table of invoices")
    listing.add_argument("--status", choices=[status.value for status in InvoiceStatus])
    listing.add_argument("--client", type=uuid_text, metavar="ID", help="only this client's")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (1-500)")
    for name, text in (
        ("show", "one invoice with its lines"),
        ("approve", "approve an invoice awaiting review: it is numbered and sent"),
    ):
        action = invoice_actions.add_parser(name, parents=[json_too], help=text)
        action.add_argument("id", type=uuid_text, metavar="ID")
    void = invoice_actions.add_parser("void", parents=[json_too], help="void an invoice")
    void.add_argument("id", type=uuid_text, metavar="ID")
    void.add_argument("--reason", default="", help="why (kept in its history)")
    pay = invoice_actions.add_parser("pay", parents=[json_too], help="record a payment")
    pay.add_argument("id", type=uuid_text, metavar="ID")
    pay.add_argument("amount", type=positive_amount, metavar="AMOUNT", help="e.g. 1250.50")
    pay.add_argument("--reference", required=True, help="the bank reference (idempotency key)")
    pay.add_argument("--date", type=iso_day, help="YYYY-MM-DD, the day paid (default today)")
    pay.add_argument("--currency", type=currency_code, help="must be the invoice's currency")
    refund = invoice_actions.add_parser("refund", parents=[json_too], help="refund a payment")
    refund.add_argument("id", type=uuid_text, metavar="ID")
    refund.add_argument("amount", type=positive_amount, metavar="AMOUNT", help="e.g. 250.00")
    refund.add_argument("--payment", required=True, help="the reference of the payment refunded")
    refund.add_argument("--reference", required=True, help="the refund's own (idempotency key)")
    refund.add_argument("--date", type=iso_day, help="YYYY-MM-DD, the day refunded (default today)")
    for name, text in (
        ("pause", "pause an invoice's reminders"),
        ("resume", "resume them (those planned meanwhile are skipped)"),
    ):
        action = invoice_actions.add_parser(name, parents=[json_too], help=text)
        action.add_argument("id", type=uuid_text, metavar="ID")
        action.add_argument("--reason", default="", help="kept in its audit trail")
    reschedule = invoice_actions.add_parser(
        "reschedule",
        parents=[json_too],
        help="move the due date and/or set the invoice's reminder schedule",
    )
    reschedule.add_argument("id", type=uuid_text, metavar="ID")
    reschedule.add_argument("--due", type=iso_day, metavar="YYYY-MM-DD", help="the new due date")
    reschedule.add_argument(
        "--offsets",
        type=offsets,
        metavar="DAYS",
        help='days from the due date: --offsets=-3,0,7 ("" for none)',
    )
    reschedule.add_argument("--hour", type=int, help="local hour reminders go out at (0-23)")
    reschedule.add_argument(
        "--repeat",
        type=int,
        nargs=2,
        metavar=("EVERY_DAYS", "TIMES"),
        help="then every EVERY_DAYS days, at most TIMES times (0 0: no repeat)",
    )
    reschedule.add_argument(
        "--inherit", action="store_true", help="drop the invoice's own schedule"
    )
    reminders = invoice_actions.add_parser(
        "reminders", parents=[json_too], help="an invoice's reminder plan"
    )
    reminders.add_argument("id", type=uuid_text, metavar="ID")
    pdf = invoice_actions.add_parser("pdf", help="download the invoice's PDF")
    pdf.add_argument("id", type=uuid_text, metavar="ID")
    pdf.add_argument("-o", "--output", required=True, metavar="FILE", help="- for stdout")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    action: str = args.action
    if action == "list":
        params = {"status": args.status, "client_id": args.client, "limit": args.limit}
        body = api.json(
            "GET", "/api/v1/invoices", params={k: v for k, v in params.items() if v is not None}
        )
        out.listing(body, INVOICE_COLUMNS, "no invoices", right=frozenset({"total", "amount_due"}))
        return 0
    path = f"/api/v1/invoices/{args.id}"
    if action == "show":
        out.invoice(api.get(path))
    elif action == "approve":
        body = api.json("POST", f"{path}/approve")
        if out.as_json:
            out.raw(body)
        else:
            out.say(
                f"approval accepted for invoice {body['id']}: its workflow numbers it, "
                f"renders the final PDF and emails it (see `q2c invoices show {body['id']}`)"
            )
    elif action == "void":
        body = api.json("POST", f"{path}/void", json={"reason": args.reason})
        if out.as_json:
            out.raw(body)
        else:
            out.say(f"void accepted for invoice {body['id']} (it was {body['status']})")
    elif action == "pay":
        payment: dict[str, str] = {
            "amount": args.amount,
            "paid_at": (args.date or date.today()).isoformat(),
            "reference": args.reference,
        }
        if args.currency:
            payment["currency"] = args.currency
        body = api.json("POST", f"{path}/payments", json=payment)
        if out.as_json:
            out.raw(body)
        elif body.get("payment_recorded"):
            out.say(
                f"payment {args.reference} of {args.amount} recorded: invoice "
                f"{cell_text(body['number'])} is {body['status']}, "
                f"amount due {body['amount_due']} {body['currency']}"
            )
        else:
            out.say(
                f"a payment with reference {args.reference} was already recorded on this "
                f"invoice; nothing changed (invoice is {body['status']}, "
                f"amount due {body['amount_due']} {body['currency']})"
            )
    elif action in _INVOICE_REMINDER_ACTIONS:
        _INVOICE_REMINDER_ACTIONS[action](args, api, out, path)
    elif action == "pdf":
        write_output(api.request("GET", f"{path}/pdf").content, args.output)
    return 0


def _refund(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    refund: dict[str, str] = {
        "payment_reference": args.payment,
        "amount": args.amount,
        "reference": args.reference,
    }
    if args.date:
        refund["refunded_at"] = args.date.isoformat()
    body = api.json("POST", f"{path}/refunds", json=refund)
    if out.as_json:
        out.raw(body)
    elif body.get("refund_recorded"):
        out.say(
            f"refund {args.reference} of {args.amount} (payment {args.payment}) recorded: "
            f"invoice {cell_text(body['number'])} is {body['status']}, "
            f"amount due {body['amount_due']} {body['currency']}"
        )
    else:
        out.say(
            f"a refund with reference {args.reference} was already recorded on this invoice; "
            f"nothing changed (invoice is {body['status']})"
        )


def _pause(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    body = api.json("POST", f"{path}/reminders/{args.action}", json={"reason": args.reason})
    if out.as_json:
        out.raw(body)
    else:
        done = "paused" if args.action == "pause" else "resumed"
        out.say(f"reminders of invoice {body['id']} will be {done} (its workflow records it)")


def _reschedule(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    change: dict[str, Any] = {}
    if args.due:
        change["due_date"] = args.due.isoformat()
    if args.inherit:
        change["reminders"] = None
    else:
        schedule = {
            "offsets_days": args.offsets,
            "hour": args.hour,
            "repeat_every_days": args.repeat[0] if args.repeat else None,
            "repeat_max": args.repeat[1] if args.repeat else None,
        }
        if any(value is not None for value in schedule.values()):
            change["reminders"] = {k: v for k, v in schedule.items() if v is not None}
    if not change:
        raise CliError("give --due, a schedule (--offsets, --hour, --repeat) or --inherit")
    body = api.json("PATCH", f"{path}/schedule", json=change)
    if out.as_json:
        out.raw(body)
        return
    out.say(f"invoice {cell_text(body['number'])} is {body['status']}, due {body['due_date']}")
    _print_reminders(body["reminders"], out)


def _reminders(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    body = api.get(f"{path}/reminders")
    if out.as_json:
        out.raw(body)
    else:
        _print_reminders(body, out)


def _print_reminders(plan: dict[str, Any], out: Output) -> None:
    schedule = plan["schedule"]
    offsets = ", ".join(f"{offset:+d}" for offset in schedule["offsets_days"]) or "none"
    repeat = (
        f", then every {schedule['repeat_every_days']} days at most {schedule['repeat_max']} times"
        if schedule["repeat_every_days"]
        else ""
    )
    paused = " (paused)" if plan["paused"] else ""
    out.say(
        f"reminders{paused}: days {offsets} from the due date{repeat}, at "
        f"{schedule['hour']:02d}:00 {plan['time_zone']}"
    )
    if plan["steps"]:
        columns = [("step", "STEP"), ("offset_days", "DAYS"), ("send_at", "SEND AT"),
                   ("state", "STATE")]  # fmt: skip
        print_table(plan["steps"], columns, out.out, right=frozenset({"step", "offset_days"}))


_INVOICE_REMINDER_ACTIONS: dict[str, Callable[[argparse.Namespace, Api, Output, str], None]] = {
    "refund": _refund,
    "pause": _pause,
    "resume": _pause,
    "reschedule": _reschedule,
    "reminders": _reminders,
}
