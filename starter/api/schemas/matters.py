"""Matters (cases, дела): a new one, a change, a matter as answered with its money."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from starter.api.schemas.common import Answer, Body, DecimalText, IsoInstant, Name

# A reference is the firm's file number ("2026/14", "LIT-0042"): one printable line.
Reference = Name


class MatterIn(Body):
    client_id: UUID
    title: Name = Field(min_length=1, max_length=200)
    reference: Reference = Field(min_length=1, max_length=64)
    # Who at the firm handles it (a name, as people write it); "" for nobody named.
    responsible: Name = Field(default="", max_length=200)


class MatterPatch(Body):
    """A field left out keeps its value; `closed` true closes the matter (no new documents
    may name it), false opens it again."""

    title: Name | None = Field(default=None, min_length=1, max_length=200)
    responsible: Name | None = Field(default=None, max_length=200)
    closed: bool | None = None


class MatterOut(Answer):
    id: str
    client_id: str
    title: str
    reference: str
    responsible: str
    created_at: IsoInstant
    created_by: str
    updated_at: IsoInstant
    updated_by: str
    # Closed when and by whom (`operator:<name>`); None while open.
    closed_at: IsoInstant | None
    closed_by: str | None


class MatterMoneyOut(Answer):
    """Per currency, as decimal strings, over the matter's invoices: `billed` (issued, not
    void), `collected` (transfers received less refunds paid), `due` (what open invoices
    still ask) and of it `overdue`."""

    currency: str
    billed: DecimalText
    collected: DecimalText
    due: DecimalText
    overdue: DecimalText


class MatterDetailOut(MatterOut):
    money: list[MatterMoneyOut]


class MatterList(Answer):
    """A page of matters by reference; `next_cursor` (opaque) asks for the next, None at
    the end."""

    items: list[MatterOut]
    next_cursor: str | None
