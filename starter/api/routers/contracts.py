"""Contracts with clients, and invoices made straight from them (no proposal).

    POST /api/v1/contracts                   201; 404 unknown client; 409 number taken
    GET  /api/v1/contracts?client_id=&limit= the company's contracts, newest first
    GET  /api/v1/contracts/{id}              one, with its default lines and its invoices
    POST /api/v1/contracts/{id}/invoices     201: a draft invoice from the contract, its
                                             InvoiceWorkflow started (-> awaiting_review);
                                             200 with the same invoice when its
                                             Idempotency-Key header was used before

A contract's lines are the defaults of its invoices: a fixed fee (quantity 1) or a rate
(an hourly price whose quantity each invoice gives in `quantities`). Its default lines'
VAT rates are checked on the day they are entered (they are for invoices from then on);
an invoice's on the day it is made, and again on its issue date at approval.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Response
from pydantic import Field, field_validator, model_validator

from db import clients, companies, contracts, invoices, store
from db.rows import ContractLineRow, ContractRow
from domain.contracts import (
    DocumentLine,
    check_exchange_rate,
    check_line_rates,
    contract_invoice_lines,
    vat_category,
)
from domain.errors import Conflict
from domain.money import plain_decimal
from domain.operators import SYSTEM
from domain.schedule import local_date
from domain.vat import compute_document_totals
from starter.api.deps import API_KEY, CurrentOperator, Q2CState, State
from starter.api.operations import (
    DraftInvoice,
    check_matter_of,
    checked_document_totals,
    invoice_json,
    iso,
    money,
    open_draft_invoice,
)
from starter.api.schemas import (
    Amount,
    Body,
    ContractDetailOut,
    ContractList,
    InvoiceOut,
    LineIn,
    _known_currency,
)

# --- bodies ------------------------------------------------------------------------------


class ContractLineIn(LineIn):
    """A default line: a fixed item (quantity 1 unless given) or a rate whose quantity each
    invoice gives."""

    quantity: Amount = Field(default=Decimal(1), gt=0, decimal_places=4)


class ContractIn(Body):
    client_id: UUID
    number: str = Field(min_length=1, max_length=100)
    contract_date: date
    subject: str = Field(default="", max_length=500)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # Default: the company's payment terms.
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    prices_include_vat: bool = False
    discount_percent: Amount = Field(default=Decimal(0), ge=0, le=100, decimal_places=4)
    notes: str = Field(default="", max_length=5000)
    lines: list[ContractLineIn] = Field(min_length=1, max_length=500)
    # A matter (case) of the same client; the contract's invoices inherit it.
    matter_id: UUID | None = None

    _currency = field_validator("currency")(_known_currency)


class ContractInvoiceIn(Body):
    """What this invoice changes from the contract's defaults: its own `lines`, or one
    quantity per contract line (0 leaves that line out), notes, and the exchange rate (lei
    per unit) of a Romanian seller's invoice in another currency."""

    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    quantities: list[Amount] | None = Field(default=None, min_length=1, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    exchange_rate: Amount | None = Field(default=None, gt=0, decimal_places=6)

    @model_validator(mode="after")
    def _lines_or_quantities(self) -> ContractInvoiceIn:
        if self.lines is not None and self.quantities is not None:
            raise ValueError("give either lines or quantities, not both")
        return self


# --- JSON --------------------------------------------------------------------------------


def _line_json(row: ContractLineRow, line: DocumentLine, currency: str) -> dict[str, Any]:
    return {
        "description": row.description,
        "quantity": plain_decimal(row.quantity),
        "unit": row.unit,
        "unit_price": money(row.unit_price, currency),
        "discount_percent": plain_decimal(row.discount_percent),
        "vat_rate": plain_decimal(row.vat_rate),
        "vat_category": vat_category(line).value,
        "vat_legal_basis": row.vat_legal_basis,
    }


def contract_json(row: ContractRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "number": row.number,
        "contract_date": iso(row.contract_date),
        "client_id": str(row.client_id),
        "subject": row.subject,
        "currency": row.currency.strip(),
        "payment_terms_days": row.payment_terms_days,
        "prices_include_vat": row.prices_include_vat,
        "discount_percent": plain_decimal(row.discount_percent),
        "notes": row.notes,
        "created_at": iso(row.created_at),
        "matter_id": str(row.matter_id) if row.matter_id else None,
    }


async def contract_detail(conn: store.Connection, contract_id: Any) -> dict[str, Any]:
    row = await contracts.get(conn, contract_id)
    currency = row.currency.strip()
    line_rows = await contracts.lines(conn, row.id)
    document_lines = store.as_lines(line_rows)
    totals = compute_document_totals(
        document_lines,
        currency,
        prices_include_vat=row.prices_include_vat,
        document_discount_percent=row.discount_percent,
    )
    made = await invoices.of_contract(conn, row.id)
    return contract_json(row) | {
        "lines": [
            _line_json(line_row, line, currency)
            for line_row, line in zip(line_rows, document_lines, strict=True)
        ],
        # The default lines' totals, as one invoice of them would have.
        "subtotal": money(totals.subtotal, currency),
        "vat_total": money(totals.vat_total, currency),
        "total": money(totals.total, currency),
        "invoices": [
            {"id": str(invoice.id), "number": invoice.number, "status": invoice.status}
            for invoice in made
        ],
    }


# --- operations ----------------------------------------------------------------------------


async def create_contract(state: Q2CState, body: ContractIn) -> dict[str, Any]:
    items = [line.as_line() for line in body.lines]
    async with state.pool.acquire() as conn:
        buyer = await clients.get(conn, body.client_id)
        if buyer.archived_at is not None:  # an archived client gets no new documents
            raise Conflict(f"client {buyer.id} is archived: unarchive it first")
        seller = await companies.get(conn, buyer.company_id)
        if body.matter_id is not None:
            await check_matter_of(conn, body.matter_id, buyer.id)
        today = local_date(datetime.now(UTC), seller.time_zone)
        checked_document_totals(
            seller.country,
            today,
            items,
            body.currency,
            body.prices_include_vat,
            body.discount_percent,
        )
        try:
            async with conn.transaction():
                contract_id = await contracts.insert(
                    conn,
                    contracts.NewContract(
                        company_id=seller.id,
                        client_id=buyer.id,
                        number=body.number,
                        contract_date=body.contract_date,
                        subject=body.subject,
                        currency=body.currency,
                        payment_terms_days=body.payment_terms_days
                        if body.payment_terms_days is not None
                        else seller.payment_terms_days,
                        prices_include_vat=body.prices_include_vat,
                        discount_percent=body.discount_percent,
                        notes=body.notes,
                        matter_id=body.matter_id,
                    ),
                )
                await contracts.insert_lines(conn, contract_id, items)
        except contracts.NumberTaken:
            raise HTTPException(
                409, f"number: the company already has a contract {body.number}"
            ) from None
        return await contract_detail(conn, contract_id)


async def invoice_from_contract(
    state: Q2CState,
    contract_id: UUID,
    body: ContractInvoiceIn,
    request_key: str | None = None,
    actor: str = SYSTEM,
) -> tuple[dict[str, Any], bool]:
    """A draft invoice with the contract's parties, currency, terms and lines (or those the
    body gives), and its InvoiceWorkflow started: it renders the draft and waits for the
    operator's review. Nothing is kept if the workflow cannot be started. With a request
    key already used, the invoice made then (and False: nothing new was made)."""
    async with state.pool.acquire() as conn:
        contract = await contracts.get(conn, contract_id)
        if request_key is not None:
            earlier = await _invoice_of_request(conn, contract, request_key)
            if earlier is not None:
                return earlier, False
        if (await clients.get(conn, contract.client_id)).archived_at is not None:
            # An archived client gets no new documents (a replayed request above still
            # answers with the invoice it made).
            raise Conflict(f"client {contract.client_id} is archived: unarchive it first")
        seller = await companies.get(conn, contract.company_id)
        currency = contract.currency.strip()
        today = local_date(datetime.now(UTC), seller.time_zone)
        if body.lines is not None:
            items = [line.as_line() for line in body.lines]
        else:
            defaults = store.as_lines(await contracts.lines(conn, contract.id))
            # Named as the contract's lines, whose rates these are.
            check_line_rates(seller.country, today, defaults, "contract_lines")
            items = contract_invoice_lines(defaults, body.quantities)
        check_exchange_rate(seller.country, currency, body.exchange_rate, required=False)
        totals = checked_document_totals(
            seller.country,
            today,
            items,
            currency,
            contract.prices_include_vat,
            contract.discount_percent,
        )
        invoice_id = await open_draft_invoice(
            state,
            conn,
            DraftInvoice(
                company_id=seller.id,
                client_id=contract.client_id,
                contract_id=contract.id,
                series=seller.invoice_series,
                currency=currency,
                payment_terms_days=contract.payment_terms_days,
                notes=body.notes if body.notes is not None else contract.notes,
                items=items,
                totals=totals,
                prices_include_vat=contract.prices_include_vat,
                discount_percent=contract.discount_percent,
                exchange_rate=body.exchange_rate,
                request_key=request_key,
                audit_kind="created_from_contract",
                audit_data={"contract_id": str(contract.id), "contract_number": contract.number},
                matter_id=contract.matter_id,  # filed under the contract's matter
            ),
            actor,
        )
        if invoice_id is None:  # the same key's request committed while this one ran
            assert request_key is not None
            earlier = await _invoice_of_request(conn, contract, request_key)
            assert earlier is not None
            return earlier, False
        return invoice_json(await invoices.get(conn, invoice_id)), True


async def _invoice_of_request(
    conn: store.Connection, contract: ContractRow, request_key: str
) -> dict[str, Any] | None:
    row = await invoices.by_request_key(conn, contract.company_id, request_key)
    if row is None:
        return None
    if row.contract_id != contract.id:
        raise HTTPException(409, "this Idempotency-Key was used for another contract's invoice")
    return invoice_json(row)


# --- routes --------------------------------------------------------------------------------


router = APIRouter()


@router.post(
    "/api/v1/contracts",
    response_model=ContractDetailOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["contracts"],
)
async def post_contract(body: ContractIn, state: State) -> dict[str, Any]:
    return await create_contract(state, body)


@router.get(
    "/api/v1/contracts", response_model=ContractList, dependencies=API_KEY, tags=["contracts"]
)
async def list_contracts(
    state: State,
    client_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        rows = await contracts.list_for_company(conn, company_id, client_id=client_id, limit=limit)
    return {"items": [contract_json(row) for row in rows]}


@router.get(
    "/api/v1/contracts/{contract_id}",
    response_model=ContractDetailOut,
    dependencies=API_KEY,
    tags=["contracts"],
)
async def get_contract(contract_id: UUID, state: State) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        return await contract_detail(conn, contract_id)


@router.post(
    "/api/v1/contracts/{contract_id}/invoices",
    response_model=InvoiceOut,
    status_code=201,
    dependencies=API_KEY,
    tags=["contracts"],
)
async def post_contract_invoice(
    contract_id: UUID,
    state: State,
    response: Response,
    operator: CurrentOperator,
    body: ContractInvoiceIn | None = None,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> dict[str, Any]:
    invoice, created = await invoice_from_contract(
        state, contract_id, body or ContractInvoiceIn(), idempotency_key, operator.actor
    )
    if not created:
        response.status_code = 200
    return invoice
