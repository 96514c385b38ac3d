"""Tasks: the automatic ones the invoice activities open and close."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal
from uuid import UUID

from db import keyset
from db.connection import Connection
from db.rows import TaskRow, row_as, rows_as
from db.store import NotFound
from domain.operators import SYSTEM


async def open_check_payment_task(
    conn: Connection,
    *,
    company_id: Any,
    invoice_id: Any,
    client_id: Any,
    invoice_number: str | None,
    due_date: date,
    move_due_date_on_reopen: bool,
) -> None:
    """The invoice's one 'check payment' task, opened (or opened again if it was closed).
    `move_due_date_on_reopen`: a task opened again takes `due_date`; otherwise it keeps the
    due date it was first given (as a refund that makes the invoice overdue has always done,
    while marking it overdue moves it)."""
    await conn.execute(
        """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title, due_date)
           VALUES ($1, $2, $3, 'check_payment', $4, $5)
           ON CONFLICT (invoice_id, kind) WHERE kind <> 'manual'
           DO UPDATE SET done_at = NULL,
               due_date = CASE WHEN $6 THEN EXCLUDED.due_date ELSE tasks.due_date END""",
        company_id,
        invoice_id,
        client_id,
        f"Check payment of invoice {invoice_number}",
        due_date,
        move_due_date_on_reopen,
    )


async def close_check_payment_task(
    conn: Connection, invoice_id: Any, closed_by: str = SYSTEM
) -> None:
    await conn.execute(
        """UPDATE tasks SET done_at = now(), closed_by = $2 WHERE invoice_id = $1
               AND kind = 'check_payment' AND done_at IS NULL""",
        invoice_id,
        closed_by,
    )


async def close_automatic_tasks(conn: Connection, invoice_id: Any, closed_by: str = SYSTEM) -> None:
    """Every open task the activities opened for the invoice (not the operators' own)."""
    await conn.execute(
        """UPDATE tasks SET done_at = now(), closed_by = $2
           WHERE invoice_id = $1 AND kind <> 'manual' AND done_at IS NULL""",
        invoice_id,
        closed_by,
    )


# Automatic tasks opened at most once per invoice (the table's unique key makes a second
# one a no-op): a person calls when the reminders are spent; money received on a cancelled
# invoice is refunded.
# e-Factura (issue 14): ANAF rejected the invoice / its credit note, it is not accepted 4
# days after issue, or q2c is not connected to ANAF.
OnceTaskKind = Literal[
    "call_client",
    "refund_after_void",
    "render_failed",
    "efactura_rejected",
    "efactura_credit_note_rejected",
    "efactura_deadline",
    "efactura_credit_note_deadline",
    "efactura_not_connected",
]


async def open_task_once(
    conn: Connection,
    kind: OnceTaskKind,
    *,
    company_id: Any,
    invoice_id: Any,
    client_id: Any,
    title: str,
    due_date: date,
    proposal_id: Any = None,
) -> None:
    """Open the invoice's (or, with no invoice, the proposal's) task of `kind`, unless it
    has one already."""
    await conn.execute(
        """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title, due_date,
                              proposal_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING""",
        company_id,
        invoice_id,
        client_id,
        kind,
        title,
        due_date,
        proposal_id,
    )


async def close_automatic_task(
    conn: Connection, invoice_id: Any, kind: str, closed_by: str = SYSTEM
) -> None:
    """The invoice's open automatic task of `kind` marked done (e-Factura: connected again,
    or accepted after its deadline task)."""
    await conn.execute(
        """UPDATE tasks SET done_at = now(), closed_by = $3
           WHERE invoice_id = $1 AND kind = $2 AND kind <> 'manual' AND done_at IS NULL""",
        invoice_id,
        kind,
        closed_by,
    )


async def automatic_task_id(conn: Connection, invoice_id: Any, kind: str) -> UUID | None:
    """The id of the invoice's automatic task of `kind` (one per invoice and kind)."""
    task_id: UUID | None = await conn.fetchval(
        "SELECT id FROM tasks WHERE invoice_id = $1 AND kind = $2 AND kind <> 'manual'",
        invoice_id,
        kind,
    )
    return task_id


async def automatic_proposal_task_id(conn: Connection, proposal_id: Any, kind: str) -> UUID | None:
    """The id of the proposal's automatic task of `kind` (one per proposal and kind)."""
    task_id: UUID | None = await conn.fetchval(
        "SELECT id FROM tasks WHERE proposal_id = $1 AND kind = $2 AND kind <> 'manual'",
        proposal_id,
        kind,
    )
    return task_id


async def get(conn: Connection, task_id: Any) -> TaskRow:
    record = await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
    if record is None:
        raise NotFound("task", str(task_id))
    return row_as(TaskRow, record)


# --- for starter/api (routers) ---


# Soonest due first, those without a due date last; then the oldest, then the id.
ORDER = keyset.Order(
    (
        keyset.Key("due_date", "date", nullable=True),
        keyset.Key("created_at", "timestamptz"),
        keyset.Key("id", "uuid"),
    )
)


async def list_filtered(
    conn: Connection,
    *,
    done: bool | None,
    invoice_id: UUID | None,
    client_id: UUID | None,
    assignee: str | None,
    after: Sequence[Any] | None,
    limit: int,
    matter_id: UUID | None = None,
) -> list[TaskRow]:
    """The tasks matching every filter given (None matches all) in ORDER after the key
    `after`. A matter's tasks: those naming it and those of its invoices (the automatic
    ones). A missing due date sorts as 'infinity' on both sides of the comparison."""
    records = await conn.fetch(
        """SELECT * FROM tasks
           WHERE ($1::boolean IS NULL OR (done_at IS NOT NULL) = $1)
             AND ($2::uuid IS NULL OR invoice_id = $2)
             AND ($3::uuid IS NULL OR client_id = $3)
             AND ($4::text IS NULL OR assignee = $4)
             AND (COALESCE(due_date, 'infinity'::date), created_at, id)
                 > (COALESCE($5::date, 'infinity'::date), $6::timestamptz, $7::uuid)
             AND ($9::uuid IS NULL OR matter_id = $9
                  OR invoice_id IN (SELECT id FROM invoices WHERE matter_id = $9))
           ORDER BY COALESCE(due_date, 'infinity'::date), created_at, id
           LIMIT $8""",
        done,
        invoice_id,
        client_id,
        assignee,
        *ORDER.params(after),
        limit,
        matter_id,
    )
    return rows_as(TaskRow, records)


async def insert_manual(
    conn: Connection,
    *,
    company_id: Any,
    invoice_id: UUID | None,
    client_id: UUID | None,
    title: str,
    assignee: str,
    due_date: date | None,
    opened_by: str = SYSTEM,
    matter_id: UUID | None = None,
) -> TaskRow:
    """A task an operator made by hand (filed under a matter when given)."""
    record = await conn.fetchrow(
        """INSERT INTO tasks (company_id, invoice_id, client_id, kind, title,
               assignee, due_date, opened_by, matter_id)
           VALUES ($1, $2, $3, 'manual', $4, $5, $6, $7, $8) RETURNING *""",
        company_id,
        invoice_id,
        client_id,
        title,
        assignee,
        due_date,
        opened_by,
        matter_id,
    )
    assert record is not None
    return row_as(TaskRow, record)


async def mark_done(conn: Connection, task_id: UUID, closed_by: str = SYSTEM) -> TaskRow | None:
    """The task marked done (a task already done keeps when and by whom); None if there is
    none."""
    record = await conn.fetchrow(
        """UPDATE tasks SET closed_by = CASE WHEN done_at IS NULL THEN $2 ELSE closed_by END,
               done_at = coalesce(done_at, now())
           WHERE id = $1 RETURNING *""",
        task_id,
        closed_by,
    )
    return None if record is None else row_as(TaskRow, record)
