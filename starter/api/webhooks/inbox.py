"""The path every inbound webhook shares: authentication, validation, the inbox of stored
events (processed once), and the answer. The order of the checks is the package's docstring."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from activities import metrics
from db import store, webhooks
from db.connection import DatabaseError
from domain.errors import InvalidInput, Refusal, Unacceptable
from domain.hmac_signature import (
    SIGNATURE_HEADER,
    SignatureRefused,
    verify_signature,
)
from domain.status import IllegalTransition
from starter.api.deps import Q2CState, client_ip
from starter.api.errors import status_of
from starter.api.operations import iso
from starter.api.schemas import WebhookEventIn

log = logging.getLogger("q2c.webhooks")

MAX_BODY_BYTES = 1024 * 1024

E = TypeVar("E", bound=WebhookEventIn)
T = TypeVar("T")


# --- authentication ----------------------------------------------------------------------


# The scheme itself (shared with outbound events) is domain.hmac_signature.


def remote_ip(request: Request) -> str:
    return client_ip(request)


async def authenticate(state: Q2CState, request: Request, source: str, body: bytes) -> None:
    header = request.headers.get(SIGNATURE_HEADER)
    try:
        matched = verify_signature(
            header,
            body,
            state.settings.webhook_secrets.get(source, ()),
            now=datetime.now(UTC).timestamp(),
        )
    except SignatureRefused as refused:
        metrics.WEBHOOKS_REFUSED.labels(source, refused.reason).inc()
        await _record_rejection(state, request, source, refused.reason, header or "", body)
        raise HTTPException(401, str(refused)) from None
    if matched > 0:
        # Operators finish a rotation once this stops appearing.
        log.info("webhook %s signed with an older secret (#%d)", source, matched + 1)


async def _record_rejection(
    state: Q2CState, request: Request, source: str, reason: str, header: str, body: bytes
) -> None:
    body_sha256 = hashlib.sha256(body).hexdigest()
    ip = remote_ip(request)
    log.warning(
        "webhook %s refused: %s (from %s, %s %r, body sha256 %s)",
        source,
        reason,
        ip,
        SIGNATURE_HEADER,
        header[:200],
        body_sha256,
    )
    try:
        async with state.pool.acquire() as conn:
            await webhooks.record_rejection(
                conn,
                source=source,
                reason=reason,
                remote_ip=ip,
                signature_header=header[:1000],
                body_sha256=body_sha256,
            )
    except (DatabaseError, OSError):
        log.exception("could not record a refused %s webhook", source)


# --- parsing and the event store ---------------------------------------------------------


def parse_event(model: type[E], body: bytes) -> tuple[E, dict[str, Any]]:
    """The validated event and the JSON object it came from; 422 naming the field if bad."""
    try:
        payload = json.loads(body)
    except ValueError as bad:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": f"the body is not valid JSON: {bad}",
                    "type": "json_invalid",
                }
            ]
        ) from None
    if not isinstance(payload, dict):
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body must be a JSON object", "type": "dict_type"}]
        )
    where = _nul_character(payload)
    if where is not None:
        # PostgreSQL text cannot hold U+0000.
        raise RequestValidationError(
            [{"loc": ("body", *where), "msg": "U+0000 is not allowed", "type": "string_type"}]
        )
    try:
        return model.model_validate(payload), payload
    except ValidationError as invalid:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", *error["loc"])}
                for error in invalid.errors(include_url=False, include_context=False)
            ]
        ) from None


def _nul_character(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _nul_character(item, (*path, key))
        if found is not None:
            return found
    return None


@dataclass
class StoredEvent:
    row_id: int
    event_id: str
    received_at: datetime
    payload: dict[str, Any]
    processed_at: datetime | None = None
    outcome: str | None = None
    new: bool = True


async def store_event(
    pool: asyncpg.Pool, source: str, event_id: str, payload: dict[str, Any]
) -> StoredEvent:
    """Insert the event, or find the one stored under the same (source, event id)."""
    for _ in range(3):
        async with pool.acquire() as conn:
            row = await webhooks.insert_event(conn, source, event_id, json.dumps(payload))
            new = row is not None
            if row is None:
                row = await webhooks.find_event(conn, source, event_id)
        if row is not None:  # else it was removed in between (a 422): insert again
            return StoredEvent(
                row_id=row.id,
                event_id=row.event_id,
                received_at=row.received_at,
                payload=json.loads(row.payload),
                processed_at=row.processed_at,
                outcome=row.outcome,
                new=new,
            )
    raise HTTPException(503, "the event could not be stored; send it again")


async def finish(pool: asyncpg.Pool, row_id: int, outcome: str) -> None:
    async with pool.acquire() as conn:
        await webhooks.mark_processed(conn, row_id, outcome)


async def finish_with(
    pool: asyncpg.Pool,
    row_id: int,
    outcome: str,
    action: Callable[[store.Connection], Awaitable[T]],
) -> T | None:
    """Run a database-only effect and mark the event processed, in one transaction: a
    second delivery being processed at the same time, or a retry, does not run it again."""
    async with pool.acquire() as conn, conn.transaction():
        if not await webhooks.lock_unprocessed(conn, row_id):
            return None
        result = await action(conn)
        await webhooks.mark_processed(conn, row_id, outcome)
        return result


@dataclass
class Outcome:
    status_code: int
    outcome: str
    fields: dict[str, Any] = field(default_factory=dict)
    # Already marked processed, in the transaction of its effect (finish_with).
    finished: bool = False


@dataclass
class Delivery:
    event: StoredEvent
    remote_ip: str


Processor = Callable[[Q2CState, E, Delivery], Awaitable[Outcome]]
Describer = Callable[[Q2CState, E], Awaitable[dict[str, Any]]]


async def read_body(request: Request) -> bytes:
    """The raw body, exactly as signed; refused past MAX_BODY_BYTES without reading it all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(
    request: Request,
    state: Q2CState,
    source: str,
    model: type[E],
    process: Processor[E],
    describe: Describer[E] | None = None,
) -> JSONResponse:
    """Authenticate, validate, store, then process once; the shared path of every webhook."""
    try:
        body = await read_body(request)
    except HTTPException:
        metrics.WEBHOOKS_REFUSED.labels(source, "too_large").inc()
        raise
    await authenticate(state, request, source, body)
    try:
        event, payload = parse_event(model, body)
    except RequestValidationError:
        metrics.WEBHOOKS_REFUSED.labels(source, "invalid").inc()
        raise
    stored = await store_event(state.pool, source, event.id, payload)
    if not stored.new:
        if stored.payload != payload:
            log.warning(
                "webhook %s event %s re-sent with a different body; the first one stands",
                source,
                event.id,
            )
        if stored.processed_at is not None:
            answer: dict[str, Any] = {
                "event_id": stored.event_id,
                "outcome": stored.outcome,
                "duplicate": True,
                "received_at": iso(stored.received_at),
                "processed_at": iso(stored.processed_at),
            }
            if describe is not None:
                answer |= await describe(state, model.model_validate(stored.payload))
            metrics.WEBHOOKS_DUPLICATE.labels(source).inc()
            return JSONResponse(answer, status_code=200)
        log.info("webhook %s event %s was stored, not processed: processing it", source, event.id)
        event = model.model_validate(stored.payload)

    delivery = Delivery(stored, remote_ip(request))
    try:
        result = await process(state, event, delivery)
    except IllegalTransition as refused:
        result = Outcome(409, "rejected", {"detail": refused.reason})
    except store.NotFound as missing:
        result = Outcome(404, "rejected", {"detail": f"{missing.kind} not found"})
    except (RequestValidationError, InvalidInput, Unacceptable):
        # Invalid input stores nothing, wherever it was found (past the body's schema too:
        # a VAT rate not in force, say).
        async with state.pool.acquire() as conn:
            await webhooks.forget_unprocessed(conn, stored.row_id)
        metrics.WEBHOOKS_REFUSED.labels(source, "invalid").inc()
        raise
    except Refusal as refused:
        status_code = status_of(refused)
        if not 400 <= status_code < 500:
            raise  # ours: the event stays unprocessed and the sender's retry redoes it
        result = Outcome(status_code, "rejected", {"detail": str(refused)})
    if not result.finished:
        await finish(state.pool, stored.row_id, result.outcome)
    if result.status_code >= 400:  # a business refusal: a hash that differs, no proposal
        metrics.WEBHOOKS_REFUSED.labels(source, "rejected").inc()
    else:
        metrics.WEBHOOKS_ACCEPTED.labels(source).inc()
    log.info("webhook %s event %s: %s", source, stored.event_id, result.outcome)
    return JSONResponse(
        {"event_id": stored.event_id, "outcome": result.outcome, "duplicate": False}
        | result.fields,
        status_code=result.status_code,
    )


# --- the routes' shared parts ----------------------------------------------------------


# Every webhook is signed; the header is read from the raw request, so OpenAPI is told here.
SIGNED_REQUEST = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">',
        }
    ],
    # The body is parsed by `parse_event`, not by FastAPI, which would otherwise declare
    # the 422 that a body failing validation gets.
    "responses": {
        "422": {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        }
    },
}
