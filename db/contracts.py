"""Framework contracts that proposals and invoices refer to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from db.connection import Connection
from db.errors import NotFound
from db.rows import ContractLineRow, ContractRow, row_as, rows_as
from domain.contracts import DocumentLine, vat_category


async def find(conn: Connection, contract_id: Any) -> ContractRow | None:
    record = await conn.fetchrow("SELECT * FROM contracts WHERE id = $1", contract_id)
    return row_as(ContractRow, record) if record is not None else None


# --- for starter/api (routers) ---


async def get(conn: Connection, contract_id: Any) -> ContractRow:
    contract = await find(conn, contract_id)
    if contract is None:
        raise NotFound("contract", str(contract_id))
    return contract


async def list_for_company(
    conn: Connection, company_id: Any, *, client_id: Any | None, limit: int
) -> list[ContractRow]:
    """The company's newest contracts, of one client when given."""
    records = await conn.fetch(
        """SELECT * FROM contracts
           WHERE company_id = $1 AND ($2::uuid IS NULL OR client_id = $2)
           ORDER BY contract_date DESC, created_at DESC LIMIT $3""",
        company_id,
        client_id,
        limit,
    )
    return rows_as(ContractRow, records)


async def lines(conn: Connection, contract_id: Any) -> list[ContractLineRow]:
    records = await conn.fetch(
        "SELECT * FROM contract_lines WHERE contract_id = $1 ORDER BY position", contract_id
    )
    return rows_as(ContractLineRow, records)


@dataclass(frozen=True, slots=True)
class NewContract:
    company_id: Any
    client_id: Any
    number: str
    contract_date: date
    subject: str
    currency: str
    payment_terms_days: int
    prices_include_vat: bool
    discount_percent: Decimal
    notes: str
    # The matter (case) it is filed under; its invoices inherit it.
    matter_id: Any = None


class NumberTaken(Exception):
    """The company already has a contract with this number."""


async def insert(conn: Connection, contract: NewContract) -> UUID:
    """A new contract's id; a number the company already used raises NumberTaken."""
    try:
        contract_id: UUID = await conn.fetchval(
            """INSERT INTO contracts (company_id, client_id, number, contract_date,
               subject, currency, payment_terms_days, prices_include_vat,
               discount_percent, notes, matter_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
            contract.company_id,
            contract.client_id,
            contract.number,
            contract.contract_date,
            contract.subject,
            contract.currency,
            contract.payment_terms_days,
            contract.prices_include_vat,
            contract.discount_percent,
            contract.notes,
            contract.matter_id,
        )
    except asyncpg.UniqueViolationError:
        raise NumberTaken(contract.number) from None
    return contract_id


async def insert_lines(conn: Connection, contract_id: Any, items: Sequence[DocumentLine]) -> None:
    """The contract's default lines, numbered from 1 in the order given."""
    await conn.executemany(
        """INSERT INTO contract_lines (contract_id, position, description, quantity,
               unit, unit_price, discount_percent, vat_rate, vat_category,
               vat_legal_basis)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        [
            (
                contract_id,
                position,
                line.description,
                line.quantity,
                line.unit,
                line.unit_price,
                line.discount_percent,
                line.vat_rate,
                vat_category(line).value,
                line.legal_basis,
            )
            for position, line in enumerate(items, start=1)
        ],
    )
