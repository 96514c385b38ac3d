"""Stored documents (PDFs, signature images, logos), by key."""

from __future__ import annotations

from dataclasses import dataclass

from db.connection import Connection


async def put(
    conn: Connection, key: str, content: bytes, sha256: str, content_type: str = "application/pdf"
) -> None:
    """Store the content under `key`, replacing what was there (a re-render)."""
    await conn.execute(
        """INSERT INTO documents (key, content, sha256, content_type) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET content = EXCLUDED.content,
               sha256 = EXCLUDED.sha256, content_type = EXCLUDED.content_type,
               created_at = now()""",
        key,
        content,
        sha256,
        content_type,
    )


@dataclass(frozen=True, slots=True)
class DocumentContent:
    content: bytes
    content_type: str


async def content_of(conn: Connection, key: str) -> DocumentContent | None:
    record = await conn.fetchrow("SELECT content, content_type FROM documents WHERE key = $1", key)
    if record is None:
        return None
    return DocumentContent(bytes(record["content"]), record["content_type"])


async def sha256_of(conn: Connection, key: str | None) -> str | None:
    digest: str | None = await conn.fetchval("SELECT sha256 FROM documents WHERE key = $1", key)
    return digest
