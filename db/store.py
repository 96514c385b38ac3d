"""SQL shared by the activities and the HTTP API. PostgreSQL is the system of record."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, overload
from uuid import UUID

from db import companies, invoices, proposals, ui_views
from db.connection import Connection as Connection
from db.connection import lock_key
from db.errors import NotFound as NotFound
from db.outbox import sent_reminder_steps
from db.rows import (
    CompanyRow,
    ContractLineRow,
    InvoiceLineRow,
    InvoiceRow,
    NumberSeriesRow,
    ProposalLineRow,
    ProposalRow,
    row_as,
    rows_as,
)
from domain import audit as audit_chain
from domain import reminder_plan
from domain.contracts import DocumentLine
from domain.events import check_event_type, default_key
from domain.money import Line, amount_due, round_money
from domain.schedule import overdue_at, reminders_to_send
from domain.vat import DocumentTotals, VatCategory, compute_document_totals, line_category
from messages.models import InvoiceSnapshot, ReminderPlan

DEFAULT_COMPANY = {
    "name": "q2c Demo SRL",
    "email": "billing@q2c.localhost",
    "country": "RO",
    "tax_id": "RO18547290",
    "address": "Str. Exemplu 1, 010011 București, Sector 1",
    "iban": "RO49AAAA1B31007593840000",
    "bank_name": "Banca Exemplu",
    # In parts too, as CIUS-RO wants them, so the demo's e-Factura XML validates as it is.
    "street": "Str. Exemplu 1",
    "city": "SECTOR1",
    "postal_code": "010011",
    "county": "RO-B",
}


async def default_company_id(conn: Connection) -> str:
    """The seller. The first call creates one; later issues add per-company setup."""
    query = "SELECT id FROM companies ORDER BY created_at, id LIMIT 1"
    existing = await conn.fetchval(query)
    if existing is not None:
        return str(existing)
    async with conn.transaction():
        # Two first requests at once must not create two sellers.
        await conn.execute("SELECT pg_advisory_xact_lock(4242)")
        existing = await conn.fetchval(query)
        if existing is None:
            existing = await conn.fetchval(
                """INSERT INTO companies (name, email, country, tax_id, address, iban, bank_name,
                       street, city, postal_code, county)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
                *(
                    DEFAULT_COMPANY[key]
                    for key in (
                        "name",
                        "email",
                        "country",
                        "tax_id",
                        "address",
                        "iban",
                        "bank_name",
                        "street",
                        "city",
                        "postal_code",
                        "county",
                    )
                ),
            )
    return str(existing)


# Old names of db.companies.get, db.clients.get, db.proposals.get and db.invoices.get, for
# the modules other branches still edit (activities/proposals.py,
# activities/render_failures.py): new code calls the aggregate's `get`.
# A stored line of an invoice or a proposal.
LineRow = InvoiceLineRow | ProposalLineRow

# The statements of both line tables, each written out: a lookup by a table and owner
# column the caller does not have fails here rather than building SQL from them.
_SELECT_LINES = {
    ("invoice_lines", "invoice_id"): (
        "SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY position"
    ),
    ("proposal_lines", "proposal_id"): (
        "SELECT * FROM proposal_lines WHERE proposal_id = $1 ORDER BY position"
    ),
}
_DELETE_LINES = {
    ("invoice_lines", "invoice_id"): invoices.delete_lines,
    ("proposal_lines", "proposal_id"): proposals.delete_lines,
}
_INSERT_LINES = {
    ("invoice_lines", "invoice_id"): """INSERT INTO invoice_lines (invoice_id, position,
            description, quantity, unit, unit_price, discount_percent, vat_rate, net_amount,
            vat_category, vat_legal_basis)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
    ("proposal_lines", "proposal_id"): """INSERT INTO proposal_lines (proposal_id, position,
            description, quantity, unit, unit_price, discount_percent, vat_rate, net_amount,
            vat_category, vat_legal_basis)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
}


@overload
async def lines(
    conn: Connection, table: Literal["invoice_lines"], owner_column: str, owner_id: Any
) -> list[InvoiceLineRow]: ...
@overload
async def lines(
    conn: Connection, table: Literal["proposal_lines"], owner_column: str, owner_id: Any
) -> list[ProposalLineRow]: ...
async def lines(
    conn: Connection, table: str, owner_column: str, owner_id: Any
) -> list[InvoiceLineRow] | list[ProposalLineRow]:
    records = await conn.fetch(_SELECT_LINES[table, owner_column], owner_id)
    if table == "invoice_lines":
        return rows_as(InvoiceLineRow, records)
    return rows_as(ProposalLineRow, records)


def as_lines(rows: Sequence[LineRow | ContractLineRow]) -> list[DocumentLine]:
    """Lines as stored (of an invoice, a proposal or a contract: a contract's are the
    defaults of its invoices); rows without a VAT category (older rows) follow the rule."""
    return [
        DocumentLine(
            description=row.description,
            quantity=row.quantity,
            unit_price=row.unit_price,
            vat_rate=row.vat_rate,
            unit=row.unit,
            discount_percent=row.discount_percent,
            category=VatCategory(row.vat_category) if row.vat_category else None,
            legal_basis=row.vat_legal_basis or "",
        )
        for row in rows
    ]


def document_totals(document: InvoiceRow | ProposalRow, items: Sequence[Line]) -> DocumentTotals:
    """A proposal's or invoice's totals (domain.vat), with its own pricing: net or gross
    prices, and its document discount."""
    return compute_document_totals(
        items,
        document.currency.strip(),
        prices_include_vat=document.prices_include_vat,
        document_discount_percent=document.discount_percent or Decimal(0),
    )


async def replace_lines(
    conn: Connection,
    table: str,
    owner_column: str,
    owner_id: Any,
    items: Sequence[Line],
    currency: str,
    *,
    prices_include_vat: bool = False,
    discount_percent: Decimal = Decimal(0),
) -> None:
    """The lines, each with its VAT category and its net (without VAT, before the document
    discount: for gross prices, its share of its VAT group's net)."""
    delete, insert = _DELETE_LINES[table, owner_column], _INSERT_LINES[table, owner_column]
    totals = compute_document_totals(
        items,
        currency,
        prices_include_vat=prices_include_vat,
        document_discount_percent=discount_percent,
    )
    await delete(conn, owner_id)
    await conn.executemany(
        insert,
        [
            (
                owner_id,
                position,
                item.description,
                item.quantity,
                item.unit,
                item.unit_price,
                item.discount_percent,
                item.vat_rate,
                net,
                line_category(item).value,
                item.legal_basis if isinstance(item, DocumentLine) else "",
            )
            for position, (item, net) in enumerate(
                zip(items, totals.line_nets, strict=True), start=1
            )
        ],
    )


async def snapshot(
    conn: Connection, invoice_id: Any, *, read: tuple[InvoiceRow, CompanyRow] | None = None
) -> InvoiceSnapshot:
    """The invoice as the workflow sees it: its overdue instant (company time zone) and the
    next reminders still to send (domain.reminder_plan; none while paused). `read`:
    the invoice and company rows, when the caller has them as they are now."""
    if read is None:
        row = await invoices.get(conn, invoice_id)
        seller = await companies.get(conn, row.company_id)
    else:
        row, seller = read
    currency = row.currency.strip()
    due: date | None = row.due_date
    reminders: list[ReminderPlan] = []
    overdue_instant = None
    paused = row.reminders_paused_at is not None
    plan = reminder_plan.plan_in_force(row, seller)
    if due is not None and plan is not None:
        overdue_instant = overdue_at(due, seller.time_zone)
        to_send = reminders_to_send(
            plan.steps(due),
            reminder_plan.not_before(row, plan),
            await sent_reminder_steps(conn, row.id),
            paused=paused,
        )
        reminders = [
            ReminderPlan(step=p.step, send_at=p.send_at)
            for p in to_send[: reminder_plan.REMINDER_WINDOW]
        ]
    return InvoiceSnapshot(
        invoice_id=str(row.id),
        client_id=str(row.client_id),
        status=row.status,
        currency=currency,
        total=str(round_money(row.total, currency)),
        amount_paid=str(round_money(row.amount_paid, currency)),
        amount_due=str(round_money(amount_due(row.total, row.amount_paid), currency)),
        number=row.number,
        due_date=due.isoformat() if due else None,
        overdue_at=overdue_instant,
        reminders=reminders,
        reminders_paused=paused,
        view=await ui_views.invoice_view(conn, row, seller),
        matter_id=str(row.matter_id) if row.matter_id else None,
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_access_token(
    conn: Connection,
    purpose: str,
    expires_at: datetime,
    *,
    proposal_id: Any = None,
    invoice_id: Any = None,
) -> str:
    """A link token of 256 random bits; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO access_tokens (token_hash, purpose, proposal_id, invoice_id, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        hash_token(token),
        purpose,
        proposal_id,
        invoice_id,
        expires_at,
    )
    return token


async def audit(
    conn: Connection,
    kind: str,
    actor: str,
    at: datetime,
    *,
    proposal_id: Any = None,
    invoice_id: Any = None,
    ip: str = "",
    user_agent: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Append an event whose hash covers the previous event's hash of the same document
    (domain.audit). The first 'viewed' event of a document gets `{"first": true}`."""
    of_proposal = proposal_id is not None
    owner_id = proposal_id if of_proposal else invoice_id
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    payload = audit_chain.normalise_data(data)
    # A transaction (a savepoint inside the caller's) so the lock is held until the insert
    # commits: two appends to one document at once would otherwise both link to one head.
    async with conn.transaction():
        # Row lock first, chain lock second, in every caller: the insert's foreign key needs
        # this row lock anyway, and taking it after the chain lock would deadlock against a
        # transaction that holds the row FOR UPDATE and then appends an event.
        if of_proposal:
            await proposals.lock_key_share(conn, owner_id)
        else:
            await invoices.lock_key_share(conn, owner_id)
        await lock_key(conn, str(owner_id))
        prev_hash = (
            await conn.fetchval(
                "SELECT hash FROM audit_events WHERE proposal_id = $1 ORDER BY id DESC LIMIT 1"
                if of_proposal
                else "SELECT hash FROM audit_events WHERE invoice_id = $1 ORDER BY id DESC LIMIT 1",
                owner_id,
            )
            or ""
        )
        if kind == "viewed" and "first" not in payload:
            viewed_before = await conn.fetchval(
                "SELECT 1 FROM audit_events WHERE proposal_id = $1 AND kind = 'viewed'"
                if of_proposal
                else "SELECT 1 FROM audit_events WHERE invoice_id = $1 AND kind = 'viewed'",
                owner_id,
            )
            if not viewed_before:
                payload["first"] = True
        event = audit_chain.AuditEvent(
            kind=kind,
            actor=actor,
            occurred_at=at,
            # As the uuid column reads back, whatever spelling the caller used.
            proposal_id=str(UUID(str(proposal_id))) if proposal_id is not None else None,
            invoice_id=str(UUID(str(invoice_id))) if invoice_id is not None else None,
            ip=ip,
            user_agent=user_agent,
            data=payload,
        )
        await conn.execute(
            """INSERT INTO audit_events (proposal_id, invoice_id, kind, actor, occurred_at, ip,
                   user_agent, data, prev_hash, hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)""",
            proposal_id,
            invoice_id,
            kind,
            actor,
            at,
            ip,
            user_agent,
            audit_chain.canonical_json(payload),
            prev_hash,
            audit_chain.event_hash(event, prev_hash),
        )


async def lock_series(conn: Connection, company_id: Any, kind: str, series: str) -> NumberSeriesRow:
    """A number series' row, made on first use, locked until the caller's transaction ends:
    numberings and settings changes of one series take their turns."""
    await conn.execute(
        """INSERT INTO number_series (company_id, kind, series) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING""",
        company_id,
        kind,
        series,
    )
    row = await conn.fetchrow(
        """SELECT * FROM number_series
           WHERE company_id = $1 AND kind = $2 AND series = $3 FOR UPDATE""",
        company_id,
        kind,
        series,
    )
    assert row is not None
    return row_as(NumberSeriesRow, row)


async def assign_number(
    conn: Connection, company_id: Any, kind: str, series: str, year: int
) -> str:
    """The next number of a series. Call inside the transaction that stores it: the row lock
    is held until that commits, so concurrent approvals queue and no number is skipped."""
    from domain.numbering import format_number, sequence_for

    row = await lock_series(conn, company_id, kind, series)
    seq = sequence_for(row.next_seq, row.current_year, year, row.reset_yearly)
    await conn.execute(
        """UPDATE number_series SET next_seq = $4 + 1, current_year = greatest($5,
               coalesce(current_year, $5))
           WHERE company_id = $1 AND kind = $2 AND series = $3""",
        company_id,
        kind,
        series,
        seq,
        year,
    )
    return format_number(row.pattern, series, year, seq)


# The deliveries emit_event created in the running activity or HTTP request, if something
# collects them: it starts their workflows once the transaction has committed
# (activities/events.py for activities, starter/events.py for routes).
created_deliveries: ContextVar[list[str] | None] = ContextVar("created_deliveries", default=None)


async def emit_event(
    conn: Connection,
    type: str,
    payload: dict[str, Any],
    *,
    proposal_id: Any = None,
    invoice_id: Any = None,
    key: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """Record an outbound event in the caller's transaction (a transactional outbox) with a
    pending delivery for each active subscription to its type, in one statement. `key`
    makes it happen once (once-per-document types have one by default); the event's id, or
    None if an event with that key exists already."""
    check_event_type(type)
    key = key or default_key(type, invoice_id if invoice_id is not None else proposal_id)
    row = await conn.fetchrow(
        """WITH event AS (
               INSERT INTO events (type, payload, proposal_id, invoice_id, dedupe_key,
                   occurred_at)
               VALUES ($1, $2::jsonb, $3, $4, $5, coalesce($6, clock_timestamp()))
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING id
           ), delivery AS (
               INSERT INTO webhook_deliveries (event_id, subscription_id)
               SELECT event.id, s.id FROM event, webhook_subscriptions s
               WHERE s.disabled_at IS NULL
                 AND ($1 = ANY (s.event_types) OR '*' = ANY (s.event_types))
               RETURNING id
           )
           SELECT (SELECT id FROM event) AS event_id,
                  array(SELECT id::text FROM delivery) AS deliveries""",
        type,
        json.dumps(payload),
        proposal_id,
        invoice_id,
        key,
        at,
    )
    assert row is not None
    collected = created_deliveries.get()
    if collected is not None:
        collected.extend(row["deliveries"])
    return str(row["event_id"]) if row["event_id"] is not None else None
