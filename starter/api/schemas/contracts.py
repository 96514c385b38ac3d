"""Framework contracts and the invoices made from them."""

from __future__ import annotations

from starter.api.schemas.common import Answer, DecimalText, IsoDate, IsoInstant, LineOut


class ContractOut(Answer):
    id: str
    number: str
    contract_date: IsoDate
    client_id: str
    subject: str
    currency: str
    payment_terms_days: int
    prices_include_vat: bool
    discount_percent: DecimalText
    notes: str
    created_at: IsoInstant
    # The matter (case) it is filed under (GET /api/v1/matters/{id}), if any.
    matter_id: str | None = None


class ContractLineOut(LineOut):
    vat_category: str
    vat_legal_basis: str


class ContractInvoiceRef(Answer):
    id: str
    number: str | None
    status: str


class ContractDetailOut(ContractOut):
    lines: list[ContractLineOut]
    # The default lines' totals, as one invoice of them would have.
    subtotal: DecimalText
    vat_total: DecimalText
    total: DecimalText
    invoices: list[ContractInvoiceRef]


class ContractList(Answer):
    items: list[ContractOut]
