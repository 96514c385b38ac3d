"""The dataclasses that cross the workflow/activity boundary.

Amounts travel as decimal strings and calendar dates as ISO strings: Temporal's JSON
converter knows neither Decimal nor date, and a float must never carry money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PROPOSAL_WORKFLOW_PREFIX = "proposal-"
INVOICE_WORKFLOW_PREFIX = "invoice-"
DELIVERY_WORKFLOW_PREFIX = "delivery-"


def proposal_workflow_id(proposal_id: str) -> str:
    return PROPOSAL_WORKFLOW_PREFIX + proposal_id


def invoice_workflow_id(invoice_id: str) -> str:
    return INVOICE_WORKFLOW_PREFIX + invoice_id


def delivery_workflow_id(delivery_id: str) -> str:
    return DELIVERY_WORKFLOW_PREFIX + delivery_id


# --- workflow inputs -----------------------------------------------------------------


@dataclass
class ProposalWorkflowInput:
    proposal_id: str


@dataclass
class ReminderPlan:
    step: int
    send_at: datetime


@dataclass
class InvoiceSnapshot:
    """What the invoice workflow needs to know to decide its next step; read from the DB."""

    invoice_id: str
    client_id: str
    status: str
    currency: str
    total: str
    amount_paid: str
    amount_due: str
    number: str | None = None
    due_date: str | None = None
    overdue_at: datetime | None = None
    # The next reminders still to send (a few, in time order; none while paused). Steps
    # are never reused, so a step sent stays sent whatever the plan becomes.
    reminders: list[ReminderPlan] = field(default_factory=list)
    reminders_paused: bool = False
    # What the Temporal UI shows (issue 15): read with the snapshot, absent in histories
    # recorded before it (they decode without it).
    view: InvoiceView | None = None
    # The matter (case) the invoice is filed under, if any (older results have none).
    matter_id: str | None = None


@dataclass
class InvoiceWorkflowInput:
    invoice_id: str
    # Carried across continue-as-new; a fresh invoice starts with neither.
    snapshot: InvoiceSnapshot | None = None
    reminders_done: list[int] = field(default_factory=list)
    # Started again on a paid or void invoice to take a refund (update-with-start).
    reopened: bool = False


# --- signals and updates ---------------------------------------------------------------


@dataclass
class SignProposal:
    signer_name: str
    signed_at: datetime
    document_sha256: str
    consent_text: str
    signer_email: str = ""
    ip: str = ""
    user_agent: str = ""
    source: str = "page"
    # The drawn signature, stored as a PNG document before the signal is sent.
    signature_image_key: str = ""
    # The proposal_answers row the signing page or the e-sign webhook recorded; a signal
    # without one (or not matching it) is refused. Defaulted: older payloads still decode.
    answer_id: str = ""


@dataclass
class DeclineProposal:
    reason: str
    declined_at: datetime
    ip: str = ""
    user_agent: str = ""
    # As SignProposal.answer_id.
    answer_id: str = ""


@dataclass
class ApproveInvoice:
    # As claimed by the sender; never recorded as the actor (request_id says who).
    approved_by: str = "operator"
    # The API's record of who asked (db.operators.record_request); the activity takes the
    # actor from it. Without a valid one (the Temporal UI) the actor is `temporal-ui`.
    request_id: str = ""


@dataclass
class VoidInvoice:
    reason: str = ""
    voided_by: str = "operator"
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class LineData:
    description: str
    quantity: str
    unit_price: str
    vat_rate: str
    unit: str = ""
    discount_percent: str = "0"
    # domain.vat.VatCategory's value; "" is the rule: standard above 0 %, zero at 0 %.
    vat_category: str = ""
    vat_legal_basis: str = ""


@dataclass
class InvoiceEdit:
    lines: list[LineData] | None = None
    due_date: str | None = None
    notes: str | None = None
    prices_include_vat: bool | None = None
    discount_percent: str | None = None
    # Lei per unit of the invoice's currency (a Romanian seller's foreign-currency invoice).
    exchange_rate: str | None = None
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class PaymentRequest:
    amount: str
    paid_at: str
    reference: str
    currency: str | None = None
    # Paid out of the client's credit (an earlier over-payment), not by a new transfer.
    from_credit: bool = False
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class PaymentResult:
    recorded: bool
    snapshot: InvoiceSnapshot


@dataclass
class ReminderScheduleData:
    """An invoice's own reminder schedule; a field left None is inherited from the client,
    then the company. repeat_every_days and repeat_max go together (0 and 0: no repeat)."""

    offsets_days: list[int] | None = None
    hour: int | None = None
    repeat_every_days: int | None = None
    repeat_max: int | None = None


@dataclass
class RescheduleRequest:
    """Move the due date and/or replace the invoice's schedule; then the remaining
    reminders are planned again. Nothing given: plan again with what is in force now."""

    due_date: str | None = None
    schedule: ReminderScheduleData | None = None
    # Drop the invoice's own schedule: the client's or company's applies again.
    reset_schedule: bool = False
    requested_by: str = "operator"
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class ReminderPause:
    """Pause or resume an invoice's reminders (signal input; the Temporal UI may send none)."""

    reason: str = ""
    requested_by: str = "operator"
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class RefundRequest:
    payment_reference: str
    amount: str
    # The refund's own reference: a second refund with it changes nothing.
    reference: str
    refunded_at: str = ""
    requested_by: str = "operator"
    # Who asked: see ApproveInvoice.request_id.
    request_id: str = ""


@dataclass
class RefundResult:
    recorded: bool
    snapshot: InvoiceSnapshot


@dataclass
class ProposalState:
    proposal_id: str
    status: str
    invoice_id: str | None = None


# --- activity inputs -------------------------------------------------------------------


@dataclass
class ProposalRef:
    proposal_id: str


@dataclass
class ProposalSent:
    status: str
    expires_at: datetime
    # What the Temporal UI shows (issue 15); absent in histories recorded before it.
    view: ProposalView | None = None


@dataclass
class AcceptProposalInput:
    proposal_id: str
    signature: SignProposal


@dataclass
class CloseProposalInput:
    proposal_id: str
    status: str
    at: datetime
    reason: str = ""
    ip: str = ""
    user_agent: str = ""
    # A decline's recorded answer (SignProposal.answer_id); unused for an expiry.
    answer_id: str = ""


@dataclass
class InvoiceRef:
    invoice_id: str
    at: datetime
    # Given to the issue step only: the approval's request (ApproveInvoice.request_id).
    request_id: str = ""


@dataclass
class RenderFailed:
    """A render step that kept failing: the operator gets a task (activity OPEN_RENDER_TASK)."""

    invoice_id: str
    step: str
    error: str
    at: datetime


@dataclass
class ProposalRenderFailed:
    """A proposal's render (RENDER_PROPOSAL or RENDER_SIGNED_COPY) that kept failing: the
    operator gets a task (activity OPEN_PROPOSAL_RENDER_TASK)."""

    proposal_id: str
    step: str
    error: str
    at: datetime


@dataclass
class EditInvoiceInput:
    invoice_id: str
    edit: InvoiceEdit
    at: datetime


@dataclass
class ReminderInput:
    invoice_id: str
    step: int
    scheduled_for: datetime


@dataclass
class RecordPaymentInput:
    invoice_id: str
    payment: PaymentRequest
    at: datetime


@dataclass
class VoidInvoiceInput:
    invoice_id: str
    reason: str
    at: datetime
    request_id: str = ""


@dataclass
class RescheduleInput:
    invoice_id: str
    request: RescheduleRequest
    at: datetime


@dataclass
class SetRemindersPausedInput:
    invoice_id: str
    paused: bool
    at: datetime
    reason: str = ""
    requested_by: str = "operator"
    request_id: str = ""


@dataclass
class RecordRefundInput:
    invoice_id: str
    refund: RefundRequest
    at: datetime


# --- credit notes ----------------------------------------------------------------------


@dataclass
class CreditNoteInput:
    """Issue or send the credit note of a voided invoice (one per invoice, ever)."""

    invoice_id: str
    at: datetime
    reason: str = ""


@dataclass
class CreditNoteIssued:
    credit_note_id: str
    number: str


# --- outbound webhook deliveries -------------------------------------------------------


@dataclass
class DeliveryInput:
    delivery_id: str


@dataclass
class DeliveryFailure:
    delivery_id: str
    error: str


# --- proposal follow-ups and conversion (issue 15) ---------------------------------------


@dataclass
class PlanFollowupsInput:
    proposal_id: str
    # The moment of planning (workflow.now()): follow-ups due before it are skipped.
    at: datetime


@dataclass
class FollowupStep:
    step: int
    send_at: datetime


@dataclass
class FollowupPlan:
    """The follow-ups still to send, in time order (domain.followups)."""

    steps: list[FollowupStep] = field(default_factory=list)


@dataclass
class FollowupInput:
    proposal_id: str
    step: int
    scheduled_for: datetime


@dataclass
class ConvertProposal:
    """Signal `convert`: turn the unsigned proposal into a draft invoice. `request_id` is the
    API's recorded operator request (db.operators); without one the actor is temporal-ui."""

    request_id: str = ""


@dataclass
class ConvertProposalInput:
    proposal_id: str
    request_id: str
    at: datetime


# --- RO e-Factura (issue 14) ---------------------------------------------------------

EFACTURA_WORKFLOW_PREFIX = "efactura-"


def efactura_workflow_id(kind: str, document_id: str) -> str:
    """`efactura-invoice-<id>` / `efactura-credit-note-<id>`."""
    return f"{EFACTURA_WORKFLOW_PREFIX}{kind.replace('_', '-')}-{document_id}"


@dataclass
class EfacturaRef:
    """One document's submission: kind `invoice` or `credit_note`, and the document's id."""

    kind: str
    document_id: str
    at: datetime


@dataclass
class EfacturaSubmissionInput:
    kind: str
    document_id: str
    # Its issue: the legal deadline (5 days) runs from here.
    issued_at: datetime
    number: str = ""


@dataclass
class EfacturaPrepared:
    """Whether the document's submission is to be started (a Romanian seller, submission
    on), and its input."""

    start: bool
    submission: EfacturaSubmissionInput | None = None


@dataclass
class EfacturaProgress:
    """Where a submission stands after a step: its status, and why it waits when it does."""

    status: str
    upload_index: str | None = None
    # The company has no ANAF connection: try again later.
    not_connected: bool = False
    # An upload whose index was lost is being looked for in ANAF's messages.
    searching: bool = False


# --- send again (issue 15) -------------------------------------------------------------

RESEND_WORKFLOW_PREFIX = "resend-"


def resend_workflow_id(outbox_key: str) -> str:
    """`resend-<outbox key>`: one run per key, so a retried request sends nothing new."""
    return RESEND_WORKFLOW_PREFIX + outbox_key


@dataclass
class ResendInput:
    """Send an issued invoice (kind `invoice`) or a sent proposal (kind `proposal`) again:
    the same PDF and number, a fresh link, to `to_address`, under `outbox_key`.
    `request_id` is the API's recorded operator request (db.operators); `at` is set by the
    workflow (workflow.now()) for the activity."""

    kind: str
    document_id: str
    to_address: str
    outbox_key: str
    request_id: str = ""
    at: datetime | None = None


@dataclass
class ResendResult:
    resent_to: str
    outbox_key: str
    sent: bool


# --- the Temporal UI's summaries and details (issue 15) ---------------------------------


@dataclass
class LineView:
    """One invoice line as the Temporal UI's details show it (domain.ui_summary); `net` is
    formatted text."""

    description: str
    quantity: str
    unit: str
    net: str
    vat_rate: str


@dataclass
class InvoiceView:
    """What the Temporal UI shows of an invoice beyond the snapshot's figures: the client's
    name, the amounts as the company writes them (babel, formatted in the activity: the
    workflow sandbox refuses babel's lazy loading) and the first lines (a bounded few:
    `line_count` says how many there are). No email, tax id or IBAN."""

    client_name: str = ""
    subtotal: str = ""
    vat_total: str = ""
    total: str = ""
    amount_paid: str = ""
    amount_due: str = ""
    lines: list[LineView] = field(default_factory=list)
    line_count: int = 0


@dataclass
class ProposalView:
    """What the Temporal UI shows of a proposal (the send step's result); `total` is
    formatted text."""

    number: str | None = None
    client_name: str = ""
    total: str = ""
    valid_until: str = ""
