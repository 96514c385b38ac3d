"""The `q2c` command: run the stack's parts, operate it through the HTTP API, or demo it.

    q2c dev | worker | api | migrate          run a part (`dev` is the whole embedded stack)
    q2c clients create FILE.json | show ID
    q2c proposals create FILE.json | show ID
    q2c contracts create FILE.json | list | show ID | invoice ID   (alias: contract)
    q2c invoices list | show | approve | void | pay | pdf
    q2c invoices refund | pause | resume | reschedule | reminders
    q2c credit-note list | show | pdf        credit notes of voided issued invoices
    q2c demo                                  one proposal from creation to paid, on the API

Operator commands talk to the API at Q2C_API_URL (default http://localhost:8000) with the
key in Q2C_API_KEY, else the dev stack's `.q2c/api_key`. Exit codes: 0 ok, 1 refused by the
API or bad input, 2 the API cannot be reached (argparse also uses 2 for usage errors).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any, TextIO, TypeVar
from uuid import UUID

import httpx

from domain.status import InvoiceStatus

T = TypeVar("T")

TEMPORAL_UI = "http://localhost:8233"
SIGN_LINK = re.compile(r"https?://\S+/sign/[A-Za-z0-9_-]+")
_BODY_LOCATIONS = ("body", "query", "path", "header")

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2


# --- talking to the API -------------------------------------------------------------------


class CliError(Exception):
    """Something to tell the operator, then exit 1 (bad input, a timeout, a refused step)."""


class ApiError(Exception):
    """The API answered 4xx/5xx; `detail` is its `detail` (a string or pydantic's list)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Unreachable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def format_detail(detail: Any) -> list[str]:
    """The API's `detail` as lines: a string stays itself; each of pydantic's validation
    errors ({loc, msg}) becomes `field a.b.c: msg`, without the leading `body`/`query`/`path`."""
    if isinstance(detail, list) and detail:
        lines = []
        for error in detail:
            if not isinstance(error, dict):
                lines.append(str(error))
                continue
            loc = [str(part) for part in error.get("loc") or []]
            if len(loc) > 1 and loc[0] in _BODY_LOCATIONS:
                loc = loc[1:]
            message = str(error.get("msg", "invalid"))
            lines.append(f"field {'.'.join(loc)}: {message}" if loc else message)
        return lines
    if isinstance(detail, str):
        return [detail]
    return [json.dumps(detail, ensure_ascii=False)]


def _detail_of(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    text = response.text.strip()
    if text and response.headers.get("content-type", "").startswith("text/plain"):
        return text[:500]
    return response.reason_phrase or "request failed"


def _transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect ({error})" if str(error) else "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return f"{type(error).__name__}: {error}"


class Api:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "q2c-cli"},
            timeout=timeout,
            transport=transport,
        )
        # For the public signing page: a client's browser, so no API key goes with it.
        self._public = httpx.Client(
            timeout=timeout, transport=transport, headers={"User-Agent": "q2c-cli demo"}
        )

    def close(self) -> None:
        self._http.close()
        self._public.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise Unreachable(self.base_url, _transport_reason(error)) from error
        if response.is_error:
            raise ApiError(response.status_code, _detail_of(response))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs).json()
        if not isinstance(body, dict):
            raise CliError(f"unexpected answer from {method} {path}: {body!r}")
        return body

    def get(self, path: str) -> dict[str, Any]:
        return self.json("GET", path)

    def post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            return self._public.post(url, data=form)
        except httpx.TransportError as error:
            raise Unreachable(url, _transport_reason(error)) from error


# --- argument types -----------------------------------------------------------------------


def _uuid(text: str) -> str:
    try:
        return str(UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ID (a UUID): {text!r}") from None


def _amount(text: str) -> str:
    """A positive decimal, passed on as the very string given (never through a float)."""
    value = text.strip()
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"not a decimal amount: {text!r} (write it like 1250.50)"
        ) from None
    if not number.is_finite() or number <= 0:
        raise argparse.ArgumentTypeError(f"the amount must be a positive number: {text!r}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise argparse.ArgumentTypeError(f"not a three-letter currency code: {text!r}")
    return code


# --- output -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def plain_decimal(text: Any) -> Any:
    """`1E+1` (a normalized Decimal) as `10`; anything that is not a decimal unchanged."""
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return text
    return format(number, "f") if number.is_finite() else text


def print_fields(record: dict[str, Any], out: TextIO) -> None:
    scalars = {k: v for k, v in record.items() if not isinstance(v, list | dict)}
    width = max((len(key) for key in scalars), default=0)
    for key, value in scalars.items():
        print(f"{key.replace('_', ' '):<{width}}  {_text(value)}", file=out)


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    out: TextIO,
    right: frozenset[str] = frozenset(),
) -> None:
    """`columns` are (key, heading); keys in `right` are right-aligned (amounts)."""
    cells = [[_text(row.get(key)) for key, _ in columns] for row in rows]
    widths = [
        max([len(heading), *(len(line[i]) for line in cells)])
        for i, (_, heading) in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if key in right else value.ljust(width)
            for value, width, (key, _) in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    print(line([heading for _, heading in columns]), file=out)
    for values in cells:
        print(line(values), file=out)


INVOICE_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("status", "STATUS"),
    ("total", "TOTAL"),
    ("amount_due", "AMOUNT DUE"),
    ("currency", "CURRENCY"),
    ("due_date", "DUE DATE"),
]
LINE_COLUMNS = [
    ("description", "DESCRIPTION"),
    ("quantity", "QTY"),
    ("unit", "UNIT"),
    ("unit_price", "UNIT PRICE"),
    ("discount_percent", "DISC %"),
    ("vat_rate", "VAT %"),
    ("net_amount", "NET"),
]


class Output:
    def __init__(self, as_json: bool, out: TextIO) -> None:
        self.as_json = as_json
        self.out = out

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def raw(self, body: Any) -> None:
        self.say(json.dumps(body, indent=2, ensure_ascii=False))

    def record(self, body: dict[str, Any]) -> None:
        if self.as_json:
            self.raw(body)
        else:
            print_fields(body, self.out)

    def invoice(self, body: dict[str, Any]) -> None:
        if self.as_json:
            self.raw(body)
            return
        print_fields(body, self.out)
        if body.get("lines"):
            self.say("")
            numeric = ("quantity", "unit_price", "discount_percent", "vat_rate", "net_amount")
            lines = [
                {k: plain_decimal(v) if k in numeric else v for k, v in line.items()}
                for line in body["lines"]
            ]
            print_table(
                lines,
                LINE_COLUMNS,
                self.out,
                right=frozenset(
                    {"quantity", "unit_price", "discount_percent", "vat_rate", "net_amount"}
                ),
            )


# --- operator commands --------------------------------------------------------------------


def _read_json_file(name: str) -> str:
    """The file's text, checked to be a JSON object; `-` is stdin. Sent as written, so
    amounts the file gives as strings stay exact."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {name}: {error}") from error
    where = "stdin" if name == "-" else name
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise CliError(f"{where} must hold a JSON object, not {type(body).__name__}")
    return text


def _post_file(api: Api, path: str, name: str) -> dict[str, Any]:
    return api.json(
        "POST",
        path,
        content=_read_json_file(name).encode(),
        headers={"Content-Type": "application/json"},
    )


def cmd_clients(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "create":
        out.record(_post_file(api, "/api/v1/clients", args.file))
    else:
        out.record(api.get(f"/api/v1/clients/{args.id}"))
    return 0


CONTRACT_COLUMNS = [
    ("id", "ID"),
    ("number", "NUMBER"),
    ("contract_date", "DATE"),
    ("subject", "SUBJECT"),
    ("currency", "CURRENCY"),
    ("payment_terms_days", "TERMS"),
]


def _quantities(text: str) -> list[str]:
    """`1,12.5`: one quantity per contract line, in order (0 leaves a line out)."""
    values = [part.strip() for part in text.split(",")]
    for value in values:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise argparse.ArgumentTypeError(f"not a decimal quantity: {value!r}") from None
        if not number.is_finite() or number < 0:
            raise argparse.ArgumentTypeError(f"a quantity must be 0 or more: {value!r}")
    return values


def cmd_contracts(args: argparse.Namespace, api: Api, out: Output) -> int:
    action: str = args.action
    if action == "create":
        out.invoice(_post_file(api, "/api/v1/contracts", args.file))
    elif action == "list":
        params = {"client_id": args.client} if args.client else {}
        body = api.json("GET", "/api/v1/contracts", params=params)
        if out.as_json:
            out.raw(body)
        elif not body["items"]:
            out.say("no contracts")
        else:
            print_table(body["items"], CONTRACT_COLUMNS, out.out)
    elif action == "show":
        out.invoice(api.get(f"/api/v1/contracts/{args.id}"))
    else:
        request: dict[str, Any] = {}
        if args.file:
            request = json.loads(_read_json_file(args.file))
        if args.quantities is not None:
            request["quantities"] = args.quantities
        if args.notes is not None:
            request["notes"] = args.notes
        if args.exchange_rate is not None:
            request["exchange_rate"] = args.exchange_rate
        body = api.json("POST", f"/api/v1/contracts/{args.id}/invoices", json=request)
        if out.as_json:
            out.raw(body)
        else:
            out.say(
                f"invoice {body['id']} made from the contract: {body['total']} "
                f"{body['currency']}; it awaits review (`q2c invoices show {body['id']}`, "
                f"then `q2c invoices approve {body['id']}`)"
            )
    return 0


def cmd_proposals(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "create":
        out.record(_post_file(api, "/api/v1/proposals", args.file))
    elif args.action == "send":
        out.record(api.json("POST", f"/api/v1/proposals/{args.id}/send"))
    else:
        out.record(api.get(f"/api/v1/proposals/{args.id}"))
    return 0


def cmd_invoices(args: argparse.Namespace, api: Api, out: Output) -> int:
    action: str = args.action
    if action == "list":
        params = {"status": args.status, "client_id": args.client, "limit": args.limit}
        body = api.json(
            "GET", "/api/v1/invoices", params={k: v for k, v in params.items() if v is not None}
        )
        if out.as_json:
            out.raw(body)
        elif not body["items"]:
            out.say("no invoices")
        else:
            print_table(
                body["items"], INVOICE_COLUMNS, out.out, right=frozenset({"total", "amount_due"})
            )
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
                f"{_text(body['number'])} is {body['status']}, "
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
            f"invoice {_text(body['number'])} is {body['status']}, "
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
    out.say(f"invoice {_text(body['number'])} is {body['status']}, due {body['due_date']}")
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


def _offsets(text: str) -> list[int]:
    """`-3,0,7` as [-3, 0, 7]; an empty string: no reminders."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a list of whole days like -3,0,7: {text!r}"
        ) from None


def cmd_report(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.report == "aging":
        params = {"as_of": args.as_of, "client_id": args.client}
        body = api.json(
            "GET", "/api/v1/reports/aging", params={k: str(v) for k, v in params.items() if v}
        )
        if out.as_json:
            out.raw(body)
            return 0
        buckets: list[str] = body["buckets"]
        columns = [("client_name", "CLIENT"), ("currency", "CUR")]
        columns += [(bucket, bucket.upper()) for bucket in buckets] + [("total", "TOTAL")]
        out.say(f"receivables aging as of {body['as_of']} (days past the due date)")
        rows = [*body["clients"], *[{**t, "client_name": "TOTAL"} for t in body["totals"]]]
        if not rows:
            out.say("nothing is owed")
        else:
            print_table(rows, columns, out.out, right=frozenset({*buckets, "total"}))
        return 0
    params = {"from": args.date_from, "to": args.date_to}
    body = api.json(
        "GET", "/api/v1/reports/cashflow", params={k: str(v) for k, v in params.items() if v}
    )
    if out.as_json:
        out.raw(body)
        return 0
    out.say(f"invoiced and collected, {body['from']} to {body['to']}")
    month_columns = [("month", "MONTH"), ("currency", "CUR"), ("invoiced", "INVOICED"),
                     ("collected", "COLLECTED")]  # fmt: skip
    print_table(body["months"], month_columns, out.out, right=frozenset({"invoiced", "collected"}))
    for dso in body["dso"]:
        days = dso["days"] if dso["days"] is not None else "n/a"
        out.say(f"DSO {dso['currency']} over {dso['period_days']} days: {days}")
    return 0


TASK_COLUMNS = [
    ("id", "ID"),
    ("due_date", "DUE"),
    ("kind", "KIND"),
    ("title", "TITLE"),
    ("assignee", "ASSIGNEE"),
    ("done", "DONE"),
]


def cmd_tasks(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "list":
        params = {"invoice_id": args.invoice, "client_id": args.client}
        query = {k: str(v) for k, v in params.items() if v}
        if not args.all:
            query["done"] = "false"
        body = api.json("GET", "/api/v1/tasks", params=query)
        if out.as_json:
            out.raw(body)
        elif not body["items"]:
            out.say("no open tasks" if not args.all else "no tasks")
        else:
            print_table(body["items"], TASK_COLUMNS, out.out)
        return 0
    if args.action == "create":
        task = {
            "title": args.title,
            "assignee": args.assignee,
            "due_date": args.due.isoformat() if args.due else None,
            "invoice_id": args.invoice,
            "client_id": args.client,
        }
        body = api.json("POST", "/api/v1/tasks", json=task)
    else:
        body = api.json("POST", f"/api/v1/tasks/{args.id}/done")
    if out.as_json:
        out.raw(body)
    else:
        out.say(f"task {body['id']}: {body['title']} ({'done' if body['done'] else 'open'})")
    return 0


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


def cmd_credit_notes(args: argparse.Namespace, api: Api, out: Output) -> int:
    """Credit notes are made by voiding an issued invoice; here they are only read."""
    if args.action == "list":
        params = {"client_id": args.client, "invoice_id": args.invoice}
        body = api.json(
            "GET", "/api/v1/credit-notes", params={k: v for k, v in params.items() if v}
        )
        if out.as_json:
            out.raw(body)
        elif not body["items"]:
            out.say("no credit notes")
        else:
            print_table(body["items"], CREDIT_NOTE_COLUMNS, out.out, right=frozenset({"total"}))
        return 0
    path = f"/api/v1/credit-notes/{args.id}"
    if args.action == "show":
        out.invoice(api.get(path))
    else:
        write_output(api.request("GET", f"{path}/pdf").content, args.output)
    return 0


def write_output(content: bytes, output: str) -> None:
    """A downloaded file to `output`, or to stdout for "-"."""
    if output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    try:
        Path(output).write_bytes(content)
    except OSError as error:
        raise CliError(f"cannot write {output}: {error}") from error
    print(f"wrote {output} ({len(content)} bytes)", file=sys.stderr)


def cmd_export(args: argparse.Namespace, api: Api, out: Output) -> int:
    params = {
        "from": args.date_from,
        "to": args.date_to,
        "status": args.status,
        "client_id": args.client,
    }
    content = api.request(
        "GET",
        f"/api/v1/exports/{args.kind}.{args.format}",
        params={k: str(v) for k, v in params.items() if v},
    ).content
    write_output(content, args.output)
    return 0


# --- demo ---------------------------------------------------------------------------------


def _workflow_link(namespace: str, workflow_id: str) -> str:
    return f"{TEMPORAL_UI}/namespaces/{namespace}/workflows/{workflow_id}"


def _read_eml(path: Path) -> EmailMessage | None:
    try:
        message = BytesParser(_class=EmailMessage, policy=default_policy).parsebytes(
            path.read_bytes()
        )
    except (OSError, ValueError):
        return None
    return message if isinstance(message, EmailMessage) else None


def _addressed_to(message: EmailMessage, address: str) -> bool:
    recipients = getaddresses([str(value) for value in message.get_all("To", [])])
    return any(addr.lower() == address.lower() for _, addr in recipients)


def mail_to(mail_dir: Path, address: str) -> list[tuple[Path, EmailMessage]]:
    """The sink's messages to `address`, oldest first (the file names start with a UTC stamp)."""
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = _read_eml(path)
        if message is not None and _addressed_to(message, address):
            found.append((path, message))
    return found


def sign_link(message: EmailMessage) -> str | None:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return None
    try:
        text = body.get_content()
    except (LookupError, ValueError):
        return None
    match = SIGN_LINK.search(str(text))
    return match.group(0) if match else None


def _wait(what: str, probe: Callable[[], T | None], timeout: float, last: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise CliError(f"timed out after {timeout:.0f}s waiting for {what}; {last()}")
        time.sleep(0.5)


def _wait_status(
    api: Api,
    path: str,
    what: str,
    wanted: str,
    timeout: float,
    also: Callable[[dict[str, Any]], bool] = lambda _: True,
    dead_ends: frozenset[str] = frozenset({"void", "declined", "expired"}),
    hint: str = "",
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def probe() -> dict[str, Any] | None:
        seen.clear()
        seen.update(api.get(path))
        if seen["status"] in dead_ends and seen["status"] != wanted:
            raise CliError(f"{what} became {seen['status']}; the demo cannot go on")
        return dict(seen) if seen["status"] == wanted and also(seen) else None

    return _wait(
        f"{what} to be {wanted}",
        probe,
        timeout,
        lambda: f"it is {seen.get('status', '?')}" + (f". {hint}" if hint else ""),
    )


def _demo_bodies(email: str, valid_until: date) -> tuple[dict[str, Any], dict[str, Any]]:
    client = {
        "name": "Exemplu Demo SRL",
        "email": email,
        "country": "RO",
        "locale": "ro",
        "tax_id": "RO18547290",
        "address": "Str. Memorandumului 28, Cluj-Napoca",
    }
    proposal = {
        "currency": "RON",
        "valid_until": valid_until.isoformat(),
        "notes": "Ofertă creată de `q2c demo`.",
        "lines": [
            {
                "description": "Consultanță juridică",
                "quantity": "10",
                "unit": "h",
                "unit_price": "250.00",
                "vat_rate": "21",
            },
            {
                "description": "Redactare contract de prestări servicii",
                "quantity": "1",
                "unit": "buc",
                "unit_price": "1200.00",
                "vat_rate": "21",
            },
        ],
    }
    return client, proposal


def cmd_demo(args: argparse.Namespace, api: Api, out: Output) -> int:
    from settings import Settings, state_dir

    timeout: float = args.timeout
    namespace = Settings.from_env().temporal_namespace
    mail_dir = state_dir() / "mail"
    step = iter(range(1, 100))

    def say(text: str) -> None:
        out.say(f"{next(step):>2}. {text}")

    out.say(f"q2c demo: one proposal from creation to paid, through the API at {api.base_url}")
    sink = mail_dir.is_dir()
    if not sink and not args.email:
        # A real SMTP server would deliver the proposal to a made-up address on a real domain.
        raise CliError(
            f"no mail sink folder at {mail_dir}, so this stack sends real email; rerun with "
            "--email YOUR@ADDRESS to get the signing link in your own mailbox (or run the demo "
            "from the directory where `make run` keeps .q2c/)"
        )
    email = args.email or f"demo-{secrets.token_hex(4)}@exemplu.ro"
    earlier = {path for path, _ in mail_to(mail_dir, email)} if sink else set()
    client_body, proposal_body = _demo_bodies(email, date.today() + timedelta(days=30))

    client = api.json("POST", "/api/v1/clients", json=client_body)
    say(f"client created: {client['id']}  {client['name']} <{email}>, locale ro")

    proposal = api.json(
        "POST", "/api/v1/proposals", json=proposal_body | {"client_id": client["id"]}
    )
    proposal_id = proposal["id"]
    say(
        f"proposal created: {proposal_id}  total {proposal['total']} {proposal['currency']} "
        f"(2 lines, VAT 21 %)  workflow: {_workflow_link(namespace, proposal['workflow_id'])}"
    )

    if not sink:
        say(
            f"the signing link went to {email} by email (no mail sink folder at {mail_dir}: "
            "the stack sends through a real SMTP server). Open that message, sign, then follow "
            f"with `q2c proposals show {proposal_id}` and `q2c invoices list --client "
            f"{client['id']}`."
        )
        return 0

    sent = _wait_status(
        api,
        f"/api/v1/proposals/{proposal_id}",
        "the proposal (emailed)",
        "sent",
        timeout,
        also=lambda body: bool(body.get("emailed_at")),
    )

    def find_link() -> tuple[Path, str] | None:
        for path, message in reversed(mail_to(mail_dir, email)):
            link = None if path in earlier else sign_link(message)
            if link:
                return path, link
        return None

    eml, link = _wait(
        f"the proposal email to {email} in {mail_dir}",
        find_link,
        timeout,
        lambda: "if the stack sends through a real SMTP server, the link went by email",
    )
    say(f"proposal emailed at {sent['emailed_at']}: {eml}  signing link {link}")

    signed = api.post_form(
        link, {"signer_name": "Ion Popescu", "signer_email": email, "consent": "yes"}
    )
    if signed.status_code != 200:
        raise CliError(
            f"the signing page answered {signed.status_code} {signed.reason_phrase} to POST {link}"
        )
    say(f"signed as Ion Popescu <{email}> through POST {link}")

    proposal = _wait_status(
        api,
        f"/api/v1/proposals/{proposal_id}",
        "the proposal",
        "signed",
        timeout,
        also=lambda body: bool(body.get("invoice_id")),
    )
    invoice_id = proposal["invoice_id"]
    invoice_path = f"/api/v1/invoices/{invoice_id}"
    say(f"proposal signed at {proposal['signed_at']}; its workflow created invoice {invoice_id}")

    invoice = _wait_status(api, invoice_path, "the invoice", "awaiting_review", timeout)
    say(
        f"invoice awaiting review: draft total {invoice['total']} {invoice['currency']} "
        f"(draft PDF: q2c invoices pdf {invoice_id} -o draft.pdf)"
    )

    api.json("POST", f"{invoice_path}/approve")
    say(f"invoice approved (POST {invoice_path}/approve)")

    invoice = _wait_status(
        api,
        invoice_path,
        "the invoice",
        "sent",
        timeout,
        also=lambda body: bool(body.get("number")),
        hint="The API accepted the approval, but the invoice's workflow did not act on it: "
        "look for 'approve ignored' in the worker's log, then approve again with "
        f"`q2c invoices approve {invoice_id}`",
    )
    say(
        f"invoice sent: number {invoice['number']}, total {invoice['total']} "
        f"{invoice['currency']}, due {invoice['due_date']}"
    )

    due = Decimal(invoice["amount_due"])
    partial = (due * Decimal("0.4")).quantize(due)
    paid = api.json(
        "POST",
        f"{invoice_path}/payments",
        json={"amount": str(partial), "paid_at": date.today().isoformat(), "reference": "DEMO-1"},
    )
    say(
        f"partial payment DEMO-1 of {partial} recorded: invoice is {paid['status']}, "
        f"amount due {paid['amount_due']} {paid['currency']}"
    )

    rest = paid["amount_due"]
    paid = api.json(
        "POST",
        f"{invoice_path}/payments",
        json={"amount": rest, "paid_at": date.today().isoformat(), "reference": "DEMO-2"},
    )
    say(f"payment DEMO-2 of {rest} recorded: invoice is {paid['status']}")

    invoice = _wait_status(api, invoice_path, "the invoice", "paid", timeout)
    say(
        f"invoice {invoice['number']} is paid: total {invoice['total']}, paid "
        f"{invoice['amount_paid']}, due {invoice['amount_due']} {invoice['currency']}"
    )
    emails = ", ".join(str(path) for path, _ in mail_to(mail_dir, email) if path not in earlier)
    say(f"emails to {email}: {emails}")
    say(f"invoice workflow: {_workflow_link(namespace, invoice['workflow_id'])}")
    return 0


# --- running the stack's parts ------------------------------------------------------------


def cmd_dev(args: argparse.Namespace) -> int:
    from starter.devstack import stack as devstack
    from worker import run_event_loop

    try:
        run_event_loop(devstack.run_dev_stack())
    except RuntimeError as error:
        _error(str(error))
        if error.__cause__ is not None:
            print(f"  caused by: {error.__cause__!r}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    host = os.environ.get("Q2C_API_HOST", "127.0.0.1")
    port = int(os.environ.get("Q2C_API_PORT", "8000"))
    uvicorn.run("starter.api.app:app_factory", factory=True, host=host, port=port)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    import logging

    from settings import Settings
    from starter.devstack.migrate import migrate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        migrate(Settings.from_env().resolved_database_url())
    except RuntimeError as error:
        _error(str(error))
        return EXIT_REFUSED
    print("migrations applied")
    return 0


# --- the parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="q2c",
        description="Quote-to-cash on Temporal: run the stack, operate it, or demo it.",
    )
    parser.add_argument("--json", action="store_true", help="print the API's raw JSON")
    # `--json` is also accepted after the subcommand; SUPPRESS keeps it from resetting.
    json_too = argparse.ArgumentParser(add_help=False)
    json_too.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("dev", help="the embedded development stack (`make run`)")
    commands.add_parser("worker", help="a Temporal worker for both workflows")
    commands.add_parser("api", help="the HTTP API (Q2C_API_HOST, Q2C_API_PORT)")
    commands.add_parser("migrate", help="apply the database migrations")

    clients = commands.add_parser("clients", help="create or show clients")
    client_actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = client_actions.add_parser("create", parents=[json_too], help="POST a client")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    show = client_actions.add_parser("show", parents=[json_too], help="one client")
    show.add_argument("id", type=_uuid, metavar="ID")

    proposals = commands.add_parser("proposals", help="create or show proposals")
    proposal_actions = proposals.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = proposal_actions.add_parser(
        "create", parents=[json_too], help="POST a proposal; its workflow emails it"
    )
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    show = proposal_actions.add_parser("show", parents=[json_too], help="one proposal")
    show.add_argument("id", type=_uuid, metavar="ID")
    send = proposal_actions.add_parser(
        "send", parents=[json_too], help="email a proposal kept as a draft"
    )
    send.add_argument("id", type=_uuid, metavar="ID")

    contracts = commands.add_parser(
        "contracts", aliases=["contract"], help="contracts, and invoices made from them"
    )
    contract_actions = contracts.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = contract_actions.add_parser("create", parents=[json_too], help="POST a contract")
    create.add_argument("file", metavar="FILE.json", help="the JSON body; - reads stdin")
    listing = contract_actions.add_parser("list", parents=[json_too], help="a table of them")
    listing.add_argument("--client", type=_uuid, metavar="ID", help="only this client's")
    show = contract_actions.add_parser("show", parents=[json_too], help="one, with its lines")
    show.add_argument("id", type=_uuid, metavar="ID")
    make = contract_actions.add_parser(
        "invoice", parents=[json_too], help="an invoice from the contract, to review"
    )
    make.add_argument("id", type=_uuid, metavar="ID")
    make.add_argument(
        "--quantities",
        type=_quantities,
        metavar="Q1,Q2",
        help="one quantity per contract line (0 leaves it out)",
    )
    make.add_argument("--notes", help="instead of the contract's notes")
    make.add_argument(
        "--exchange-rate", type=_amount, metavar="LEI", help="lei per unit (RO, not RON)"
    )
    make.add_argument("--file", metavar="FILE.json", help="a body with its own lines")

    invoices = commands.add_parser("invoices", help="list, show, approve, void, pay invoices")
    invoice_actions = invoices.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = invoice_actions.add_parser("list", parents=[json_too], help="a table of invoices")
    listing.add_argument("--status", choices=[status.value for status in InvoiceStatus])
    listing.add_argument("--client", type=_uuid, metavar="ID", help="only this client's")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (1-500)")
    for name, text in (
        ("show", "one invoice with its lines"),
        ("approve", "approve an invoice awaiting review: it is numbered and sent"),
    ):
        action = invoice_actions.add_parser(name, parents=[json_too], help=text)
        action.add_argument("id", type=_uuid, metavar="ID")
    void = invoice_actions.add_parser("void", parents=[json_too], help="void an invoice")
    void.add_argument("id", type=_uuid, metavar="ID")
    void.add_argument("--reason", default="", help="why (kept in its history)")
    pay = invoice_actions.add_parser("pay", parents=[json_too], help="record a payment")
    pay.add_argument("id", type=_uuid, metavar="ID")
    pay.add_argument("amount", type=_amount, metavar="AMOUNT", help="e.g. 1250.50")
    pay.add_argument("--reference", required=True, help="the bank reference (idempotency key)")
    pay.add_argument("--date", type=_day, help="YYYY-MM-DD, the day paid (default today)")
    pay.add_argument("--currency", type=_currency, help="must be the invoice's currency")
    refund = invoice_actions.add_parser("refund", parents=[json_too], help="refund a payment")
    refund.add_argument("id", type=_uuid, metavar="ID")
    refund.add_argument("amount", type=_amount, metavar="AMOUNT", help="e.g. 250.00")
    refund.add_argument("--payment", required=True, help="the reference of the payment refunded")
    refund.add_argument("--reference", required=True, help="the refund's own (idempotency key)")
    refund.add_argument("--date", type=_day, help="YYYY-MM-DD, the day refunded (default today)")
    for name, text in (
        ("pause", "pause an invoice's reminders"),
        ("resume", "resume them (those planned meanwhile are skipped)"),
    ):
        action = invoice_actions.add_parser(name, parents=[json_too], help=text)
        action.add_argument("id", type=_uuid, metavar="ID")
        action.add_argument("--reason", default="", help="kept in its audit trail")
    reschedule = invoice_actions.add_parser(
        "reschedule",
        parents=[json_too],
        help="move the due date and/or set the invoice's reminder schedule",
    )
    reschedule.add_argument("id", type=_uuid, metavar="ID")
    reschedule.add_argument("--due", type=_day, metavar="YYYY-MM-DD", help="the new due date")
    reschedule.add_argument(
        "--offsets",
        type=_offsets,
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
    reminders.add_argument("id", type=_uuid, metavar="ID")
    pdf = invoice_actions.add_parser("pdf", help="download the invoice's PDF")
    pdf.add_argument("id", type=_uuid, metavar="ID")
    pdf.add_argument("-o", "--output", required=True, metavar="FILE", help="- for stdout")

    report = commands.add_parser("report", help="receivables reports")
    report_kinds = report.add_subparsers(dest="report", required=True, metavar="REPORT")
    aging_report = report_kinds.add_parser(
        "aging", parents=[json_too], help="amounts due by days past due, per client"
    )
    aging_report.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD")
    aging_report.add_argument("--client", type=_uuid, metavar="ID")
    flow = report_kinds.add_parser(
        "cashflow", parents=[json_too], help="invoiced vs collected per month, and DSO"
    )
    flow.add_argument("--from", dest="date_from", type=_day, metavar="YYYY-MM-DD")
    flow.add_argument("--to", dest="date_to", type=_day, metavar="YYYY-MM-DD")

    tasks = commands.add_parser("tasks", help="the operators' to-do list")
    task_actions = tasks.add_subparsers(dest="action", required=True, metavar="ACTION")
    task_list = task_actions.add_parser("list", parents=[json_too], help="open tasks")
    task_list.add_argument("--all", action="store_true", help="done ones too")
    task_list.add_argument("--invoice", type=_uuid, metavar="ID")
    task_list.add_argument("--client", type=_uuid, metavar="ID")
    task_new = task_actions.add_parser("create", parents=[json_too], help="a task by hand")
    task_new.add_argument("title")
    task_new.add_argument("--assignee", default="")
    task_new.add_argument("--due", type=_day, metavar="YYYY-MM-DD")
    task_new.add_argument("--invoice", type=_uuid, metavar="ID")
    task_new.add_argument("--client", type=_uuid, metavar="ID")
    task_done = task_actions.add_parser("done", parents=[json_too], help="mark a task done")
    task_done.add_argument("id", type=_uuid, metavar="ID")

    credit_notes = commands.add_parser(
        "credit-note",
        aliases=["credit-notes"],
        help="list, show or download the credit notes (storno) of voided issued invoices",
    )
    credit_note_actions = credit_notes.add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    credit_list = credit_note_actions.add_parser("list", parents=[json_too], help="newest first")
    credit_list.add_argument("--invoice", type=_uuid, metavar="ID", help="the voided invoice")
    credit_list.add_argument("--client", type=_uuid, metavar="ID")
    credit_show = credit_note_actions.add_parser(
        "show", parents=[json_too], help="one credit note, its original and lines"
    )
    credit_show.add_argument("id", type=_uuid, metavar="ID")
    credit_pdf = credit_note_actions.add_parser("pdf", help="download the credit note's PDF")
    credit_pdf.add_argument("id", type=_uuid, metavar="ID")
    credit_pdf.add_argument("-o", "--output", required=True, metavar="FILE", help="- for stdout")

    export = commands.add_parser("export", help="invoices, payments or clients as CSV or XLSX")
    export.add_argument("kind", choices=["invoices", "payments", "clients"])
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--from", dest="date_from", type=_day, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="date_to", type=_day, metavar="YYYY-MM-DD")
    export.add_argument("--status", choices=[status.value for status in InvoiceStatus])
    export.add_argument("--client", type=_uuid, metavar="ID")
    export.add_argument("-o", "--output", default="-", metavar="FILE", help="- for stdout")

    demo = commands.add_parser("demo", help="drive one proposal to paid on the running stack")
    demo.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for each step (60)"
    )
    demo.add_argument(
        "--email",
        metavar="ADDRESS",
        help="the demo client's address (default demo-<random>@exemplu.ro; needed when the "
        "stack sends real email)",
    )
    return parser


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def report_api_error(error: ApiError, api_url: str) -> None:
    for line in format_detail(error.detail):
        _error(f"{error.status}: {line}")
    if error.status == 401:
        print(
            "hint: the API key is Q2C_API_KEY, else .q2c/api_key in the current directory "
            f"(the one `make run` made); is {api_url} the stack you mean?",
            file=sys.stderr,
        )


_OPERATOR_COMMANDS: dict[str, Callable[[argparse.Namespace, Api, Output], int]] = {
    "contracts": cmd_contracts,
    "contract": cmd_contracts,
    "clients": cmd_clients,
    "proposals": cmd_proposals,
    "invoices": cmd_invoices,
    "demo": cmd_demo,
    "report": cmd_report,
    "tasks": cmd_tasks,
    "export": cmd_export,
    "credit-note": cmd_credit_notes,
    "credit-notes": cmd_credit_notes,
}
_STACK_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "dev": cmd_dev,
    "worker": cmd_worker,
    "api": cmd_api,
    "migrate": cmd_migrate,
}


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run one command; `transport` replaces the network (for tests)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command in _STACK_COMMANDS:
        return _STACK_COMMANDS[command](args)

    from settings import Settings

    settings = Settings.from_env()
    api = Api(settings.api_url, settings.api_key, transport=transport)
    try:
        return _OPERATOR_COMMANDS[command](args, api, Output(args.json, sys.stdout))
    except ApiError as error:
        report_api_error(error, settings.api_url)
        return EXIT_REFUSED
    except Unreachable as error:
        _error(
            f"cannot reach the q2c API at {error.url}: {error.reason}. Is the stack running? "
            "Start it with `make run` (or set Q2C_API_URL to where it runs)."
        )
        return EXIT_UNREACHABLE
    except CliError as error:
        _error(str(error))
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `q2c invoices list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_REFUSED
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
