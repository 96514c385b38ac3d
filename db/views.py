"""Which views of a client link go into the audit trail: at most one per visitor and
document per window (domain.link_policy), and at most a few per document per window
whoever the visitors claim to be."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db.connection import Connection

_COUNT_PROPOSAL_VIEWS = (
    "SELECT count(*) FROM page_views WHERE proposal_id = $1 AND recorded_at > $2"
)
_COUNT_INVOICE_VIEWS = "SELECT count(*) FROM page_views WHERE invoice_id = $1 AND recorded_at > $2"
_CLAIM_PROPOSAL_VIEW = """INSERT INTO page_views (proposal_id, visitor, recorded_at)
    VALUES ($1, $2, $3)
    ON CONFLICT (proposal_id, visitor) WHERE proposal_id IS NOT NULL
    DO UPDATE SET recorded_at = EXCLUDED.recorded_at
    WHERE page_views.recorded_at <= EXCLUDED.recorded_at - $4::interval
    RETURNING id"""
_CLAIM_INVOICE_VIEW = """INSERT INTO page_views (invoice_id, visitor, recorded_at)
    VALUES ($1, $2, $3)
    ON CONFLICT (invoice_id, visitor) WHERE invoice_id IS NOT NULL
    DO UPDATE SET recorded_at = EXCLUDED.recorded_at
    WHERE page_views.recorded_at <= EXCLUDED.recorded_at - $4::interval
    RETURNING id"""


async def claim_view(
    conn: Connection,
    *,
    visitor: str,
    at: datetime,
    window: timedelta,
    per_document_limit: int,
    proposal_id: Any = None,
    invoice_id: Any = None,
) -> bool:
    """True when this view should be recorded: the visitor's first in `window` for the
    document, and fewer than `per_document_limit` views of the document recorded in it.
    Call it in the transaction that records the view, after the document's row lock, so a
    failed recording gives the claim back."""
    of_proposal = proposal_id is not None
    owner = proposal_id if of_proposal else invoice_id
    recent = await conn.fetchval(
        _COUNT_PROPOSAL_VIEWS if of_proposal else _COUNT_INVOICE_VIEWS, owner, at - window
    )
    if recent >= per_document_limit:
        return False
    # The row lock an ON CONFLICT update takes orders two loads by one visitor at once: the
    # second sees the first's time and records nothing.
    claimed = await conn.fetchval(
        _CLAIM_PROPOSAL_VIEW if of_proposal else _CLAIM_INVOICE_VIEW,
        owner,
        visitor[:200],
        at,
        window,
    )
    return claimed is not None
