"""`q2c invoices list | find NUMBER | create | show | approve | void | pay | refund | pdf |
resend`, and one invoice's reminders: `pause | resume | reschedule | reminders`."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from domain.status import InvoiceStatus
from starter.cli import paging
from starter.cli.client import Api, CliError
from starter.cli.inputs import (
    Subcommands,
    add_pdf_action,
    currency_code,
    iso_day,
    positive_amount,
    query_of,
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
    listing.add_argument("--number", metavar="NUMBER", help="the invoice with this number")
    listing.add_argument("--matter", type=uuid_text, metavar="ID", help="only this matter's")
    paging.add_paging(listing)
    find = invoice_actions.add_parser(
        "find", parents=[json_too], help="one invoice by its number, e.g. INV-2026-00012"
    )
    find.add_argument("number", metavar="NUMBER")
    for name, text in (
        ("show", "one invoice with its lines"),
        ("approve", "approve an invoice awaiting review: it is numbered and sent"),
    ):
        action = invoice_actions.add_parser(name, parents=[json_too], help=text)
        action.add_argument("id", type=uuid_text, metavar="ID")
    void = invoice_actions.add_parser("void", parents=[json_too], help="void an invoice")
    void.add_argument("id", type=uuid_text, metavar="ID")
    void.add_argument("--reason", default="", help="why (kept in its history)")

    def money_action(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        """`NAME ID AMOUNT`: money in or out of one invoice."""
        action = invoice_actions.add_parser(name, parents=[json_too], help=help_text)
        action.add_argument("id", type=uuid_text, metavar="ID")
        action.add_argument("amount", type=positive_amount, metavar="AMOUNT", help=example)
        return action

    pay = money_action("pay", "record a payment", "e.g. 1250.50")
    pay.add_argument("--reference", required=True, help="the bank reference (idempotency key)")
    pay.add_argument("--date", type=iso_day, help="YYYY-MM-DD, the day paid (default today)")
    pay.add_argument("--currency", type=currency_code, help="must be the invoice's currency")
    refund = money_action("refund", "refund a payment", "e.g. 250.00")
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
    add_pdf_action(invoice_actions, "download the invoice's PDF")
    add_resend_action(invoice_actions, json_too, "email the issued invoice again")
    add_create_action(invoice_actions, json_too)


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    action: str = args.action
    if action == "list":
        query = query_of(
            {
                "status": args.status,
                "client_id": args.client,
                "number": args.number,
                "matter_id": args.matter,
            }
        )
        body = paging.fetch(api, "/api/v1/invoices", query, args)
        paging.show(
            out, body, INVOICE_COLUMNS, "no invoices", right=frozenset({"total", "amount_due"})
        )
        return 0
    if action == "find":
        # Quoted whole: a number may hold '/' (a series pattern allows it).
        found = api.get(f"/api/v1/invoices/by-number/{quote(args.number, safe='')}")
        out.invoice(api.get(f"/api/v1/invoices/{found['id']}"))
        return 0
    if action == "create":
        create(args, api, out)
        return 0
    path = f"/api/v1/invoices/{args.id}"
    if action == "show":
        out.invoice(api.get(path))
    elif action == "pdf":
        write_output(api.request("GET", f"{path}/pdf").content, args.output)
    else:
        _ACTIONS_ON_ONE_INVOICE[action](args, api, out, path)
    return 0


def _approve(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    def accepted(invoice: dict[str, Any]) -> str:
        return (
            f"approval accepted for invoice {invoice['id']}: its workflow numbers it, "
            f"renders the final PDF and emails it (see `q2c invoices show {invoice['id']}`)"
        )

    out.answer(api.json("POST", f"{path}/approve"), accepted)


def _void(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    def accepted(invoice: dict[str, Any]) -> str:
        return f"void accepted for invoice {invoice['id']} (it was {invoice['status']})"

    out.answer(api.json("POST", f"{path}/void", json={"reason": args.reason}), accepted)


def _now_owed(invoice: dict[str, Any]) -> str:
    return (
        f"invoice {cell_text(invoice['number'])} is {invoice['status']}, "
        f"amount due {invoice['amount_due']} {invoice['currency']}"
    )


def _pay(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    payment: dict[str, str] = {
        "amount": args.amount,
        "paid_at": (args.date or date.today()).isoformat(),
        "reference": args.reference,
    }
    if args.currency:
        payment["currency"] = args.currency

    def outcome(invoice: dict[str, Any]) -> str:
        if invoice.get("payment_recorded"):
            return f"payment {args.reference} of {args.amount} recorded: {_now_owed(invoice)}"
        # The reference was recorded before: the API did nothing (idempotency).
        return (
            f"a payment with reference {args.reference} was already recorded on this "
            f"invoice; nothing changed (invoice is {invoice['status']}, "
            f"amount due {invoice['amount_due']} {invoice['currency']})"
        )

    out.answer(api.json("POST", f"{path}/payments", json=payment), outcome)


def _refund(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    refund: dict[str, str] = {
        "payment_reference": args.payment,
        "amount": args.amount,
        "reference": args.reference,
    }
    if args.date:
        refund["refunded_at"] = args.date.isoformat()

    def outcome(invoice: dict[str, Any]) -> str:
        if invoice.get("refund_recorded"):
            return (
                f"refund {args.reference} of {args.amount} (payment {args.payment}) recorded: "
                f"{_now_owed(invoice)}"
            )
        return (
            f"a refund with reference {args.reference} was already recorded on this invoice; "
            f"nothing changed (invoice is {invoice['status']})"
        )

    out.answer(api.json("POST", f"{path}/refunds", json=refund), outcome)


def _pause(args: argparse.Namespace, api: Api, out: Output, path: str) -> None:
    done = "paused" if args.action == "pause" else "resumed"

    def accepted(invoice: dict[str, Any]) -> str:
        return f"reminders of invoice {invoice['id']} will be {done} (its workflow records it)"

    body = api.json("POST", f"{path}/reminders/{args.action}", json={"reason": args.reason})
    out.answer(body, accepted)


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


# What each action on one invoice does, given the invoice's API path.
_ACTIONS_ON_ONE_INVOICE: dict[str, Callable[[argparse.Namespace, Api, Output, str], None]] = {
    "approve": _approve,
    "void": _void,
    "pay": _pay,
    "refund": _refund,
    "pause": _pause,
    "resume": _pause,
    "reschedule": _reschedule,
    "reminders": _reminders,
    "resend": lambda args, api, out, path: resend(args, api, out, path, "invoice"),
}


# --- send again (issue 15) -----------------------------------------------------------------


def add_resend_action(
    actions: Any, json_too: argparse.ArgumentParser, help_text: str
) -> argparse.ArgumentParser:
    """`resend ID [--to ADDR] [--key KEY]`, for invoices and proposals alike."""
    action: argparse.ArgumentParser = actions.add_parser(
        "resend", parents=[json_too], help=help_text
    )
    action.add_argument("id", type=uuid_text, metavar="ID")
    action.add_argument("--to", metavar="ADDR", help="another address (default: the client's)")
    action.add_argument(
        "--key",
        default=None,
        help="Idempotency-Key: run again with the same key and nothing is sent twice "
        "(default: a new one each run)",
    )
    return action


def resend(args: argparse.Namespace, api: Api, out: Output, path: str, kind: str) -> None:
    body = {"to": args.to} if args.to else None
    key = args.key or uuid.uuid4().hex

    def outcome(answer: dict[str, Any]) -> str:
        done = "sent again" if answer["sent"] else "queued to be sent again"
        return f"{kind} {args.id} {done} to {answer['resent_to']} (key {answer['outbox_key']})"

    answer = api.json("POST", f"{path}/resend", json=body, headers={"Idempotency-Key": key})
    out.answer(answer, outcome)


# --- invoices made by hand (issue 15 point 3) ------------------------------------------------


def _amount_text(text: str, what: str, *, zero: bool) -> str:
    """A decimal as the very string given (never through a float): positive, or 0 too."""
    value = text.strip().removesuffix("%").strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{what} is not a decimal: {text!r}") from None
    if not number.is_finite() or number < 0 or (number == 0 and not zero):
        raise argparse.ArgumentTypeError(
            f"{what} must be {'0 or more' if zero else 'more than 0'}: {text!r}"
        )
    return value


def invoice_line(text: str) -> dict[str, str]:
    """`description;quantity;unit price;VAT %` as an API line (the amounts as given). The
    description may hold semicolons: the three numbers are the last three fields."""
    parts = text.rsplit(";", 3)
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f'a line is "description;quantity;unit price;VAT %", e.g. "Consultanță;10;250;21": '
            f"{text!r}"
        )
    description = parts[0].strip()
    if not description:
        raise argparse.ArgumentTypeError(f"a line needs a description: {text!r}")
    return {
        "description": description,
        "quantity": _amount_text(parts[1], "the quantity", zero=False),
        "unit_price": _amount_text(parts[2], "the unit price", zero=True),
        "vat_rate": _amount_text(parts[3], "the VAT rate", zero=True),
    }


def add_create_action(actions: Any, json_too: argparse.ArgumentParser) -> None:
    """`create --client ID --line "desc;qty;unit price;vat%" ... [options]`."""
    create = actions.add_parser(
        "create", parents=[json_too], help="an invoice made by hand for a client, to review"
    )
    create.add_argument("--client", required=True, type=uuid_text, metavar="ID")
    create.add_argument(
        "--line",
        dest="lines",
        action="append",
        required=True,
        type=invoice_line,
        metavar='"DESC;QTY;UNIT PRICE;VAT%"',
        help="one invoice line; give --line once per line",
    )
    create.add_argument(
        "--currency", type=currency_code, help="default: the company's default currency"
    )
    create.add_argument("--contract", type=uuid_text, metavar="ID", help="a contract of the client")
    create.add_argument(
        "--gross", action="store_true", help="unit prices include VAT (default: without)"
    )
    create.add_argument(
        "--discount",
        type=lambda text: _amount_text(text, "the discount", zero=True),
        metavar="PERCENT",
        help="a discount on the whole invoice, before VAT",
    )
    create.add_argument(
        "--due-days", type=int, metavar="DAYS", help="days to pay (default: the company's terms)"
    )
    create.add_argument(
        "--exchange-rate", type=positive_amount, metavar="LEI", help="lei per unit (RO, not RON)"
    )
    create.add_argument("--notes", help="printed on the invoice")
    create.add_argument(
        "--key",
        default=None,
        help="Idempotency-Key: run again with the same key and no second invoice is made "
        "(default: a new one each run)",
    )


def create(args: argparse.Namespace, api: Api, out: Output) -> None:
    request: dict[str, Any] = {"client_id": args.client, "lines": args.lines}
    optional = {
        "currency": args.currency,
        "contract_id": args.contract,
        "prices_include_vat": True if args.gross else None,
        "discount_percent": args.discount,
        "payment_terms_days": args.due_days,
        "exchange_rate": args.exchange_rate,
        "notes": args.notes,
    }
    request |= {name: value for name, value in optional.items() if value is not None}

    def made(invoice: dict[str, Any]) -> str:
        return (
            f"invoice {invoice['id']} made: {invoice['total']} {invoice['currency']}; it "
            f"awaits review (`q2c invoices show {invoice['id']}`, then "
            f"`q2c invoices approve {invoice['id']}`)"
        )

    key = args.key or uuid.uuid4().hex
    out.answer(
        api.json("POST", "/api/v1/invoices", json=request, headers={"Idempotency-Key": key}), made
    )
