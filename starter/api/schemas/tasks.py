"""Operators' tasks."""

from __future__ import annotations

from starter.api.schemas.common import Answer, IsoDate, IsoInstant


class TaskOut(Answer):
    id: str
    kind: str
    title: str
    assignee: str
    due_date: IsoDate | None
    done: bool
    done_at: IsoInstant | None
    invoice_id: str | None
    client_id: str | None
    created_at: IsoInstant
    # Who opened and who closed it ("system" for the automatic ones; see domain.operators).
    opened_by: str
    closed_by: str | None
    # The matter (case) it is filed under (GET /api/v1/matters/{id}), if any.
    matter_id: str | None = None


class TaskList(Answer):
    items: list[TaskOut]
    # The next page's `cursor`; null on the last page.
    next_cursor: str | None
