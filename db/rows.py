"""The rows of q2c's tables as frozen dataclasses: what the data-access functions return
instead of asyncpg records. One class per table, its fields the table's columns in order
(generated from the migrated schema; a migration that adds a column adds a field here).

`row_as(cls, record)` builds one from a record that has at least those columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

T = TypeVar("T")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def row_as(cls: type[T], record: asyncpg.Record) -> T:
    """The record's columns named by `cls`'s fields (extra columns are ignored)."""
    return cls(*(record[name] for name in _field_names(cls)))


def rows_as(cls: type[T], records: Iterable[asyncpg.Record]) -> list[T]:
    return [row_as(cls, record) for record in records]


@dataclass(frozen=True, slots=True)
class AccessTokenRow:
    """A row of `access_tokens`."""

    token_hash: str
    purpose: str
    proposal_id: UUID | None
    invoice_id: UUID | None
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEventRow:
    """A row of `audit_events`."""

    id: int
    proposal_id: UUID | None
    invoice_id: UUID | None
    kind: str
    actor: str
    occurred_at: datetime
    ip: str
    user_agent: str
    data: Any
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ClientCreditRow:
    """A row of `client_credits`."""

    id: UUID
    client_id: UUID
    currency: str
    amount: Decimal
    kind: str
    invoice_id: UUID
    reference: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClientRow:
    """A row of `clients`."""

    id: UUID
    company_id: UUID
    name: str
    email: str
    country: str
    locale: str
    tax_id: str
    registration_number: str
    address: str
    created_at: datetime
    time_zone: str | None
    reminder_offsets_days: list[int] | None
    reminder_hour: int | None
    reminder_repeat_days: int | None
    reminder_repeat_max: int | None
    legal_form: str
    vat_id: str
    kpp: str
    iban: str
    bank_name: str
    bic: str
    bik: str
    settlement_account: str
    correspondent_account: str
    street: str
    city: str
    postal_code: str
    county: str
    address_needs_review: bool
    # Archived (instead of deleted) when, and by whom: no new documents, the old go on.
    archived_at: datetime | None
    archived_by: str | None
    # Last brought back from the archive when, and by whom.
    unarchived_at: datetime | None
    unarchived_by: str | None


@dataclass(frozen=True, slots=True)
class CodecSessionRow:
    """A row of `codec_sessions`."""

    id: UUID
    token_hash: str
    operator_id: UUID
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class CompanyRow:
    """A row of `companies`."""

    id: UUID
    name: str
    legal_form: str
    address: str
    country: str
    email: str
    tax_id: str
    registration_number: str
    iban: str
    bank_name: str
    default_currency: str
    locale: str
    time_zone: str
    payment_terms_days: int
    reminder_offsets_days: list[int]
    reminder_hour: int
    invoice_series: str
    created_at: datetime
    reminder_repeat_days: int
    reminder_repeat_max: int
    vat_id: str
    kpp: str
    bic: str
    bik: str
    settlement_account: str
    correspondent_account: str
    phone: str
    director_name: str
    accountant_name: str
    logo: str
    accent_color: str
    footer_text: str
    proposal_series: str
    credit_note_series: str
    street: str
    city: str
    postal_code: str
    county: str
    address_needs_review: bool
    proposal_followup_days_after_sent: list[int]
    proposal_followup_days_before_expiry: list[int]


@dataclass(frozen=True, slots=True)
class CompanyBankAccountRow:
    """A row of `company_bank_accounts`."""

    id: UUID
    company_id: UUID
    currency: str
    bank_name: str
    iban: str
    bic: str
    settlement_account: str
    bik: str
    correspondent_account: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ContractLineRow:
    """A row of `contract_lines`."""

    contract_id: UUID
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    vat_category: str | None
    vat_legal_basis: str


@dataclass(frozen=True, slots=True)
class ContractRow:
    """A row of `contracts`."""

    id: UUID
    company_id: UUID
    client_id: UUID
    number: str
    contract_date: date
    subject: str
    currency: str
    payment_terms_days: int
    prices_include_vat: bool
    discount_percent: Decimal
    notes: str
    created_at: datetime
    # The matter (case) it is filed under, if any.
    matter_id: UUID | None


@dataclass(frozen=True, slots=True)
class CreditNoteRow:
    """A row of `credit_notes`."""

    id: UUID
    company_id: UUID
    client_id: UUID
    invoice_id: UUID
    series: str
    number: str
    issue_date: date
    currency: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    vat_groups: Any
    original_number: str
    original_issue_date: date
    reason: str
    amount_received: Decimal
    document_key: str | None
    issued_at: datetime
    sent_at: datetime | None
    created_at: datetime
    # The matter (case) it is filed under, if any.
    matter_id: UUID | None
    # The parties as issued (domain.parties.IssuedParties as JSON text).
    issued_parties: str | None


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A row of `documents`."""

    key: str
    content_type: str
    content: bytes
    sha256: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EmailOutboxRow:
    """A row of `email_outbox`."""

    id: UUID
    idempotency_key: str
    message_id: str
    kind: str
    proposal_id: UUID | None
    invoice_id: UUID | None
    to_address: str
    subject: str
    body_text: str
    attachments: Any
    scheduled_for: datetime | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    """A row of `events`."""

    id: UUID
    seq: int
    type: str
    payload: Any
    proposal_id: UUID | None
    invoice_id: UUID | None
    dedupe_key: str | None
    occurred_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InvoiceLineRow:
    """A row of `invoice_lines`."""

    invoice_id: UUID
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    net_amount: Decimal
    vat_category: str | None
    vat_legal_basis: str


@dataclass(frozen=True, slots=True)
class InvoiceStatusChangeRow:
    """A row of `invoice_status_changes`."""

    id: int
    invoice_id: UUID
    from_status: str | None
    to_status: str
    cause: str
    occurred_at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """A row of `invoices`."""

    id: UUID
    company_id: UUID
    client_id: UUID
    proposal_id: UUID | None
    series: str
    number: str | None
    status: str
    overdue: bool
    currency: str
    payment_terms_days: int
    issue_date: date | None
    due_date: date | None
    notes: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    amount_paid: Decimal
    draft_document_key: str | None
    document_key: str | None
    approved_at: datetime | None
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    created_at: datetime
    updated_at: datetime
    reminder_offsets_days: list[int] | None
    reminder_hour: int | None
    reminder_repeat_days: int | None
    reminder_repeat_max: int | None
    reminder_plan: Any | None
    reminders_paused_at: datetime | None
    reminders_resumed_at: datetime | None
    contract_id: UUID | None
    prices_include_vat: bool
    discount_percent: Decimal
    exchange_rate: Decimal | None
    approval_error: str | None
    request_key: str | None
    credit_note_id: UUID | None
    credit_note_number: str | None
    approved_by: str | None
    # The matter (case) it is filed under, if any.
    matter_id: UUID | None
    # The parties as issued (domain.parties.IssuedParties as JSON text); None for a draft.
    issued_parties: str | None


@dataclass(frozen=True, slots=True)
class MatterRow:
    """A row of `matters`."""

    id: UUID
    company_id: UUID
    client_id: UUID
    title: str
    reference: str
    responsible: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    closed_at: datetime | None
    closed_by: str | None


@dataclass(frozen=True, slots=True)
class NumberSeriesRow:
    """A row of `number_series`."""

    company_id: UUID
    kind: str
    series: str
    pattern: str
    next_seq: int
    reset_yearly: bool
    current_year: int | None


@dataclass(frozen=True, slots=True)
class OperatorRequestRow:
    """A row of `operator_requests`."""

    id: UUID
    operator_id: UUID | None
    actor: str
    action: str
    target: str
    created_at: datetime
    consumed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """A row of `operators`."""

    id: UUID
    name: str
    role: str
    key_hash: str
    retired_key_hashes: list[str]
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class PageViewRow:
    """A row of `page_views`."""

    id: int
    proposal_id: UUID | None
    invoice_id: UUID | None
    visitor: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """A row of `payments`."""

    id: UUID
    invoice_id: UUID
    amount: Decimal
    currency: str
    paid_at: date
    reference: str
    created_at: datetime
    source: str
    recorded_by: str


@dataclass(frozen=True, slots=True)
class ProposalAnswerRow:
    """A row of `proposal_answers`."""

    id: UUID
    proposal_id: UUID
    kind: str
    source: str
    token_hash: str | None
    provider_event_id: str | None
    document_sha256: str
    signer_name: str
    signer_email: str
    consent_text: str
    reason: str
    ip: str
    user_agent: str
    signature_image_key: str
    answered_at: datetime
    consumed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProposalLineRow:
    """A row of `proposal_lines`."""

    proposal_id: UUID
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    net_amount: Decimal
    vat_category: str | None
    vat_legal_basis: str


@dataclass(frozen=True, slots=True)
class ProposalRow:
    """A row of `proposals`."""

    id: UUID
    company_id: UUID
    client_id: UUID
    external_id: str | None
    status: str
    currency: str
    valid_until: date
    payment_terms_days: int
    notes: str
    subtotal: Decimal
    vat_total: Decimal
    total: Decimal
    document_key: str | None
    emailed_at: datetime | None
    signed_at: datetime | None
    declined_at: datetime | None
    decline_reason: str | None
    expired_at: datetime | None
    invoice_id: UUID | None
    created_at: datetime
    updated_at: datetime
    signed_document_key: str | None
    contract_id: UUID | None
    prices_include_vat: bool
    discount_percent: Decimal
    series: str | None
    number: str | None
    issue_date: date | None
    sent_by: str | None
    followup_days_after_sent: list[int] | None
    followup_days_before_expiry: list[int] | None
    converted_at: datetime | None
    converted_by: str | None
    # The matter (case) it is filed under, if any.
    matter_id: UUID | None
    # The parties as sent (domain.parties.IssuedParties as JSON text); None before.
    issued_parties: str | None


@dataclass(frozen=True, slots=True)
class RefundRow:
    """A row of `refunds`."""

    id: UUID
    invoice_id: UUID
    payment_id: UUID
    amount: Decimal
    from_invoice: Decimal
    from_credit: Decimal
    currency: str
    refunded_at: date
    reference: str
    created_at: datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """A row of `signatures`."""

    proposal_id: UUID
    signer_name: str
    signer_email: str
    signed_at: datetime
    ip: str
    user_agent: str
    document_sha256: str
    consent_text: str
    source: str
    signature_image_key: str | None
    consent_sha256: str


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A row of `tasks`."""

    id: UUID
    company_id: UUID
    invoice_id: UUID | None
    client_id: UUID | None
    kind: str
    title: str
    assignee: str
    due_date: date | None
    done_at: datetime | None
    created_at: datetime
    opened_by: str
    closed_by: str | None
    proposal_id: UUID | None
    # The matter (case) it is filed under, if any.
    matter_id: UUID | None


@dataclass(frozen=True, slots=True)
class UnmatchedPaymentRow:
    """A row of `unmatched_payments`."""

    id: UUID
    webhook_event_id: int | None
    invoice_ref: str
    invoice_id: UUID | None
    amount: Decimal
    currency: str
    reference: str
    paid_at: datetime | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRow:
    """A row of `webhook_deliveries`."""

    id: UUID
    event_id: UUID
    subscription_id: UUID
    status: str
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    failed_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDeliveryAttemptRow:
    """A row of `webhook_delivery_attempts`."""

    id: int
    delivery_id: UUID
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str


@dataclass(frozen=True, slots=True)
class WebhookEventRow:
    """A row of `webhook_events`."""

    id: int
    source: str
    event_id: str
    received_at: datetime
    payload: Any
    processed_at: datetime | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class WebhookRejectionRow:
    """A row of `webhook_rejections`."""

    id: int
    source: str
    reason: str
    remote_ip: str
    signature_header: str
    body_sha256: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookSubscriptionRow:
    """A row of `webhook_subscriptions`."""

    id: UUID
    url: str
    event_types: list[str]
    secret: str
    description: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class EfacturaTokenRow:
    """A row of `efactura_tokens` (the tokens as stored: nonce + ciphertext)."""

    company_id: UUID
    key_id: str
    access_token: bytes
    refresh_token: bytes
    access_expires_at: datetime
    oauth_url: str
    connected_at: datetime
    connected_by: str
    refreshed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EfacturaOauthStateRow:
    """A row of `efactura_oauth_states`."""

    state_hash: str
    company_id: UUID
    operator_id: UUID
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class EfacturaSubmissionRow:
    """A row of `efactura_submissions`."""

    id: UUID
    document_kind: str
    document_id: UUID
    company_id: UUID
    status: str
    xml_key: str | None
    xml_sha256: str
    upload_index: str | None
    download_id: str | None
    errors: Any
    upload_started_at: datetime | None
    uploaded_at: datetime | None
    answered_at: datetime | None
    answer_key: str | None
    attempts: int
    issued_at: datetime
    created_at: datetime
