"""RO e-Factura submissions: one row per issued document (invoice or credit note) of a
Romanian seller, what was uploaded to ANAF and what ANAF answered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from db.connection import Connection
from db.rows import EfacturaSubmissionRow, row_as

DocumentKind = Literal["invoice", "credit_note"]
Status = Literal["not_required", "pending", "uploaded", "accepted", "rejected"]


async def put_prepared(
    conn: Connection,
    kind: DocumentKind,
    document_id: Any,
    *,
    company_id: Any,
    status: Status,
    xml_key: str | None,
    xml_sha256: str,
    issued_at: datetime,
) -> EfacturaSubmissionRow:
    """The document's submission as built at issue. A retried issue builds it again: the XML
    is replaced only while nothing was uploaded, so what was uploaded stays what is stored."""
    record = await conn.fetchrow(
        """INSERT INTO efactura_submissions (document_kind, document_id, company_id, status,
               xml_key, xml_sha256, issued_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (document_kind, document_id) DO UPDATE
               SET xml_key = EXCLUDED.xml_key, xml_sha256 = EXCLUDED.xml_sha256
               WHERE efactura_submissions.upload_started_at IS NULL
           RETURNING *""",
        kind,
        document_id,
        company_id,
        status,
        xml_key,
        xml_sha256,
        issued_at,
    )
    if record is None:
        existing = await get(conn, kind, document_id)
        assert existing is not None
        return existing
    return row_as(EfacturaSubmissionRow, record)


async def get(
    conn: Connection, kind: str, document_id: Any, *, lock: bool = False
) -> EfacturaSubmissionRow | None:
    if lock:
        record = await conn.fetchrow(
            """SELECT * FROM efactura_submissions
               WHERE document_kind = $1 AND document_id = $2 FOR UPDATE""",
            kind,
            document_id,
        )
    else:
        record = await conn.fetchrow(
            "SELECT * FROM efactura_submissions WHERE document_kind = $1 AND document_id = $2",
            kind,
            document_id,
        )
    return None if record is None else row_as(EfacturaSubmissionRow, record)


async def record_intent(conn: Connection, submission_id: UUID, at: datetime) -> None:
    """About to upload: committed first, so a lost answer is looked for before uploading
    again."""
    await conn.execute(
        """UPDATE efactura_submissions SET upload_started_at = $2, attempts = attempts + 1
           WHERE id = $1""",
        submission_id,
        at,
    )


async def record_upload(
    conn: Connection, submission_id: UUID, upload_index: str, at: datetime
) -> EfacturaSubmissionRow:
    record = await conn.fetchrow(
        """UPDATE efactura_submissions
           SET status = 'uploaded', upload_index = $2, uploaded_at = $3, errors = '[]'
           WHERE id = $1 RETURNING *""",
        submission_id,
        upload_index,
        at,
    )
    assert record is not None
    return row_as(EfacturaSubmissionRow, record)


async def record_answer(
    conn: Connection,
    submission_id: UUID,
    *,
    status: Literal["accepted", "rejected"],
    download_id: str | None,
    errors: Sequence[str],
    answer_key: str | None,
    at: datetime,
) -> EfacturaSubmissionRow:
    """ANAF's final answer. A rejected upload may be fixed and uploaded again: its intent is
    cleared, as ANAF never reports it as a sent invoice."""
    record = await conn.fetchrow(
        """UPDATE efactura_submissions
           SET status = $2, download_id = $3, errors = $4::jsonb, answer_key = $5,
               answered_at = $6,
               upload_started_at = CASE WHEN $2 = 'rejected' THEN NULL
                                        ELSE upload_started_at END
           WHERE id = $1 RETURNING *""",
        submission_id,
        status,
        download_id,
        json.dumps(list(errors)),
        answer_key,
        at,
    )
    assert record is not None
    return row_as(EfacturaSubmissionRow, record)


def errors_of(row: EfacturaSubmissionRow) -> list[str]:
    errors = json.loads(row.errors) if isinstance(row.errors, str) else row.errors
    return [str(error) for error in errors or []]
