"""Credit notes (storno) and clients' credit balances."""

from __future__ import annotations

from starter.api.schemas.common import Answer, DecimalText, IsoDate, IsoInstant, LineOut
from starter.api.schemas.invoices import EfacturaOut


class CreditGroupOut(Answer):
    rate: DecimalText
    category: str
    base: DecimalText
    vat: DecimalText


class CreditNoteOut(Answer):
    id: str
    number: str
    series: str
    # "issued", then "sent" once emailed.
    status: str
    issue_date: IsoDate
    client_id: str
    invoice_id: str
    invoice_number: str
    invoice_issue_date: IsoDate
    currency: str
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    vat_groups: list[CreditGroupOut]
    reason: str
    amount_received: DecimalText
    issued_at: IsoInstant
    sent_at: IsoInstant | None
    # Its invoice's matter (case), if any.
    matter_id: str | None = None


class CreditNoteLineOut(LineOut):
    net_amount: DecimalText


class CreditNoteDetailOut(CreditNoteOut):
    lines: list[CreditNoteLineOut]
    efactura: EfacturaOut | None = None


class CreditNoteList(Answer):
    items: list[CreditNoteOut]
    # The next page's `cursor`; null on the last page.
    next_cursor: str | None


class CreditBalanceOut(Answer):
    currency: str
    amount: DecimalText


class CreditEntryOut(Answer):
    kind: str
    amount: DecimalText
    currency: str
    invoice_id: str
    invoice_number: str | None
    reference: str
    created_at: IsoInstant


class ClientCreditOut(Answer):
    client_id: str
    balances: list[CreditBalanceOut]
    entries: list[CreditEntryOut]
