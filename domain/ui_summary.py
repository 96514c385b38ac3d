"""What the Temporal UI shows of a proposal or an invoice (issue 15, point 1).

Pure text: the one-line static summary the UI's workflow list shows
(`INV-2026-00012 · Exemplu SRL · 4.477,00 RON`), the Markdown current details a workflow
keeps up to date, and the business name of each activity step for the timeline.

Everything here ends up in Temporal's history or in answers to its metadata query: it
carries only what an operator sees in q2c anyway (number, client name, lines, amounts,
dates, status) and never an email address, a tax id or an IBAN. Under a payload codec the
SDK encodes user metadata like any payload (README, "Security").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from domain.i18n import format_money
from domain.status import (
    IllegalTransition,
    InvoiceStatus,
    check_can_approve,
    check_can_edit,
    check_can_pause_reminders,
    check_can_pay,
    check_can_refund,
    check_can_reschedule,
    check_can_void,
)

SEPARATOR = " · "
# The UI's list shows one line; details are kept small (they travel in every metadata
# query answer): a long invoice shows its first lines and how many more there are.
MAX_DETAIL_LINES = 10
MAX_NAME = 60
MAX_DESCRIPTION = 60
# Placeholders in an input to paste: the operator replaces them (they are not valid values).
BANK_REF = "<bank reference>"
WHY = "<why>"


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def short_id(document_id: str) -> str:
    return document_id.replace("-", "")[:8]


def money(amount: str | Decimal, currency: str, locale: str) -> str:
    """The amount as the company writes it (babel), or as given when it is not a number.
    Called where the figures are read (db.ui_views), never in a workflow: babel loads its
    locale data lazily, which the workflow sandbox refuses; workflows get the text."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(amount)
    except InvalidOperation:
        return f"{amount} {currency}"
    return format_money(value, currency.strip(), locale)


def document_summary(
    *,
    number: str | None,
    document_id: str,
    client_name: str,
    total_text: str,
    kind: str = "invoice",
) -> str:
    """`INV-2026-00012 · Exemplu SRL · 4.477,00 RON` (`total_text` from `money`); before
    numbering `draft invoice 1a2b3c4d · …` (the id's start, enough to find it in q2c).
    Empty parts are left out."""
    label = number or f"draft {kind} {short_id(document_id)}"
    parts = [label, clip(client_name, MAX_NAME), total_text]
    return SEPARATOR.join(part for part in parts if part)


# --- current details -----------------------------------------------------------------


class LineLike(Protocol):
    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def net(self) -> str: ...
    @property
    def vat_rate(self) -> str: ...


class ViewLike(Protocol):
    """Figures as text, formatted where they were read (see `money`)."""

    @property
    def client_name(self) -> str: ...
    @property
    def subtotal(self) -> str: ...
    @property
    def vat_total(self) -> str: ...
    @property
    def total(self) -> str: ...
    @property
    def amount_paid(self) -> str: ...
    @property
    def amount_due(self) -> str: ...
    @property
    def lines(self) -> Sequence[LineLike]: ...
    @property
    def line_count(self) -> int: ...


class ReminderLike(Protocol):
    @property
    def step(self) -> int: ...
    @property
    def send_at(self) -> datetime: ...


class InvoiceLike(Protocol):
    @property
    def invoice_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def total(self) -> str: ...
    @property
    def amount_paid(self) -> str: ...
    @property
    def amount_due(self) -> str: ...
    @property
    def number(self) -> str | None: ...
    @property
    def due_date(self) -> str | None: ...
    @property
    def reminders_paused(self) -> bool: ...


def _cell(text: str, limit: int = MAX_DESCRIPTION) -> str:
    # A Markdown table cell: one line, no column separator of its own.
    return clip(text, limit).replace("|", "\\|")


def _lines_table(view: ViewLike) -> list[str]:
    rows = ["| # | Line | Qty | Net | VAT % |", "|---|---|---|---|---|"]
    shown = list(view.lines)[:MAX_DETAIL_LINES]
    for position, line in enumerate(shown, start=1):
        quantity = f"{line.quantity} {line.unit}".strip()
        rows.append(
            f"| {position} | {_cell(line.description)} | {_cell(quantity, 20)} "
            f"| {_cell(line.net, 30)} | {_cell(line.vat_rate, 8)} |"
        )
    more = max(view.line_count, len(view.lines)) - len(shown)
    if more > 0:
        rows.append(f"… and {more} more line{'s' if more != 1 else ''}")
    return rows


def _markdown(lines: Sequence[str]) -> str:
    """Lines as Markdown: each line of text a paragraph of its own (a single newline would
    run them together), table rows and list items kept together."""
    out: list[str] = []
    previous = ""
    for line in lines:
        if not line.strip():
            continue
        kind = "table" if line.startswith("|") else "list" if line.startswith("- ") else "text"
        if out and not (kind == previous and kind != "text"):
            out.append("")
        out.append(line)
        previous = kind
    return "\n".join(out)


def _paste(payload: Mapping[str, object]) -> str:
    return "`" + json.dumps(payload, ensure_ascii=False, separators=(", ", ": ")) + "`"


def _allowed(check: Callable[[InvoiceStatus], None], status: InvoiceStatus) -> bool:
    try:
        check(status)
    except IllegalTransition:
        return False
    return True


def invoice_actions(invoice: InvoiceLike, today: date) -> list[str]:
    """The signals and updates the invoice's workflow takes now, each with an input to paste
    in the Temporal UI (Signal / Update). A request from the UI carries no q2c request id,
    so q2c records its actor as `temporal-ui`."""
    try:
        status = InvoiceStatus(invoice.status)
    except ValueError:
        return []
    # A draft still being rendered takes an approval already (it waits for the draft).
    review = InvoiceStatus.AWAITING_REVIEW if status == InvoiceStatus.DRAFT else status
    due = invoice.due_date or today.isoformat()
    actions: list[str] = []
    if _allowed(check_can_approve, review):
        actions.append("- Signal `approve` — number, issue and email it: " + _paste({}))
    if _allowed(check_can_edit, status):
        actions.append("- Update `edit` — change it while in review: " + _paste({"due_date": due}))
    if _allowed(check_can_pay, status):
        payment = {
            "amount": invoice.amount_due,
            "paid_at": today.isoformat(),
            "reference": BANK_REF,
        }
        actions.append("- Update `record_payment` — a payment received: " + _paste(payment))
    if _allowed(check_can_reschedule, status):
        actions.append("- Update `reschedule` — a new due date: " + _paste({"due_date": due}))
    if _allowed(check_can_pause_reminders, status):
        name = "resume_reminders" if invoice.reminders_paused else "pause_reminders"
        actions.append(f"- Signal `{name}` — no input needed, or " + _paste({"reason": WHY}))
    paid = Decimal(invoice.amount_paid or "0")
    if paid > 0 and status not in (InvoiceStatus.PAID, InvoiceStatus.VOID):
        if _allowed(check_can_refund, status):
            refund = {
                "payment_reference": "<the payment's reference>",
                "amount": invoice.amount_paid,
                "reference": "<the refund's own reference>",
            }
            actions.append("- Update `refund` — give a payment back: " + _paste(refund))
    if _allowed(check_can_void, review):
        actions.append("- Signal `void` — cancel it: " + _paste({"reason": WHY}))
    return actions


def invoice_details(
    invoice: InvoiceLike,
    view: ViewLike | None,
    next_reminder: ReminderLike | None,
    today: date,
) -> str:
    """The invoice's current details in Markdown: status, lines with totals, VAT, due date,
    amount due, the next reminder and what an operator may send now. Figures come as the
    view's text when it matches the snapshot, else plain (`1234.50 RON`)."""
    currency = invoice.currency.strip()
    title = invoice.number or f"draft {short_id(invoice.invoice_id)}"
    status = invoice.status.replace("_", " ")

    def plain(amount: str) -> str:
        return f"{amount} {currency}"

    total, paid, due = plain(invoice.total), plain(invoice.amount_paid), plain(invoice.amount_due)
    out = [f"**Invoice {title}** — {status}"]
    if view is not None:
        if view.client_name:
            out.append(f"Client: {clip(view.client_name, MAX_NAME)}")
        if view.total:
            total, paid, due = view.total, view.amount_paid, view.amount_due
        out.append("")
        out.extend(_lines_table(view))
        out.append("")
        totals = [
            f"Subtotal: {view.subtotal}" if view.subtotal else "",
            f"VAT: {view.vat_total}" if view.vat_total else "",
            f"**Total: {total}**",
        ]
        out.append(SEPARATOR.join(t for t in totals if t))
    else:
        out.append(f"**Total: {total}**")
    out.append(
        SEPARATOR.join(
            [f"Paid: {paid}", f"**Amount due: {due}**", f"Due date: {invoice.due_date or '—'}"]
        )
    )
    if invoice.reminders_paused:
        out.append("Next reminder: paused")
    elif next_reminder is not None:
        at = next_reminder.send_at.strftime("%Y-%m-%d %H:%M UTC")
        out.append(f"Next reminder: {at} (step {next_reminder.step})")
    else:
        out.append("Next reminder: none planned")
    actions = invoice_actions(invoice, today)
    out.append("")
    if actions:
        out.append("**You may send now** (Temporal UI → Signal or Update, input as JSON):")
        out.extend(actions)
    else:
        out.append("Nothing to send now: closed. Refunds go through q2c's API.")
    return _markdown(out)


class ProposalViewLike(Protocol):
    @property
    def number(self) -> str | None: ...
    @property
    def client_name(self) -> str: ...
    @property
    def total(self) -> str: ...
    @property
    def valid_until(self) -> str: ...


def proposal_details(
    proposal_id: str,
    status: str,
    view: ProposalViewLike | None,
    next_followup: datetime | None,
    invoice_id: str | None,
) -> str:
    """The proposal's current details in Markdown: status, client, total, validity, the next
    follow-up, and what an operator may send now."""
    title = (view.number if view is not None else None) or f"draft {short_id(proposal_id)}"
    out = [f"**Proposal {title}** — {status.replace('_', ' ')}"]
    if view is not None:
        if view.client_name:
            out.append(f"Client: {clip(view.client_name, MAX_NAME)}")
        out.append(f"**Total: {view.total}**")
        if view.valid_until:
            out.append(f"Valid until: {view.valid_until}")
    if next_followup is not None:
        out.append(f"Next follow-up: {next_followup.strftime('%Y-%m-%d %H:%M UTC')}")
    if invoice_id:
        out.append(f"Invoice: draft {short_id(invoice_id)} (workflow `invoice-{invoice_id}`)")
    out.append("")
    if status == "sent":
        out.append("**You may send now** (Temporal UI → Signal, input as JSON):")
        out.append(
            "- Signal `convert` — make the unsigned proposal a draft invoice: no input "
            "needed, or " + _paste({})
        )
        out.append(
            "- `sign` and `decline` come from the client's signing page; sent by hand they "
            "are refused."
        )
    else:
        out.append("Nothing to send now.")
    return _markdown(out)


# --- activity steps on the timeline ------------------------------------------------------

STEP_SUMMARIES: dict[str, str] = {
    "send_proposal": "Email the proposal to the client",
    "accept_proposal": "Record the signature and make the draft invoice",
    "close_proposal": "Close the proposal",
    "send_signed_copy": "Email the signed copy",
    "render_proposal": "Number and render the proposal PDF",
    "render_signed_copy": "Render the signed copy with its certificate",
    "plan_proposal_followups": "Plan the follow-ups",
    "send_proposal_followup": "Email a follow-up",
    "convert_proposal": "Convert the unsigned proposal into a draft invoice",
    "open_proposal_render_task": "Open a task: the proposal PDF keeps failing",
    "prepare_invoice_draft": "Render the draft invoice for review",
    "edit_invoice": "Apply the operator's edit",
    "issue_invoice": "Number and issue the approved invoice",
    "send_invoice": "Email the invoice to the client",
    "send_reminder": "Email a payment reminder",
    "mark_overdue": "Mark the invoice overdue",
    "record_payment": "Record a payment",
    "void_invoice": "Void the invoice",
    "reschedule_invoice": "Move the due date / re-plan the reminders",
    "set_reminders_paused": "Pause or resume the reminders",
    "record_refund": "Record a refund",
    "open_render_task": "Open a task: a PDF keeps failing",
    "issue_credit_note": "Issue the credit note (storno)",
    "send_credit_note": "Email the credit note",
    "efactura_prepare": "Check whether the document goes to e-Factura",
    "efactura_upload": "Upload to ANAF e-Factura",
    "efactura_poll": "Ask ANAF for the upload's answer",
    "efactura_deadline": "Open a task: e-Factura deadline near",
    "resend_document": "Email the document again",
    "deliver_webhook": "POST the event to the webhook",
    "mark_delivery_failed": "Mark the webhook delivery failed",
}


def efactura_summary(kind: str, number: str) -> str:
    """The static summary of a document's e-Factura submission: `e-Factura: invoice
    INV-2026-00012` (its number only: the submission's page shows no client data)."""
    return f"e-Factura: {kind.replace('_', ' ')} {number}".rstrip()


def step_summary(name: str, detail: str = "") -> str:
    """The timeline's label for an activity: its business step, then e.g. the reminder's
    step or the document's number."""
    label = STEP_SUMMARIES.get(name, name.replace("_", " "))
    return f"{label} ({clip(detail, 40)})" if detail else label
