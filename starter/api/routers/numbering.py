"""Number series settings for operators: pattern, yearly reset, and moving the next number on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import Field

from db import numbering, store
from db.rows import NumberSeriesRow
from domain.numbering import (
    DEFAULT_PATTERN,
    NumberingError,
    check_move_forward,
    format_number,
    sequence_for,
    validate_series,
)
from starter.api.deps import API_KEY, State
from starter.api.errors import invalid_parameter
from starter.api.schemas import Body, NumberSeriesList, NumberSeriesOut

Kind = Literal["proposal", "invoice", "credit_note"]


class SeriesIn(Body):
    pattern: str = Field(default=DEFAULT_PATTERN, min_length=1, max_length=100)
    reset_yearly: bool = False
    next_seq: int | None = Field(default=None, ge=1)


def series_json(row: NumberSeriesRow, year: int) -> dict[str, Any]:
    upcoming = sequence_for(row.next_seq, row.current_year, year, row.reset_yearly)
    return {
        "kind": row.kind,
        "series": row.series,
        "pattern": row.pattern,
        "reset_yearly": row.reset_yearly,
        "next_seq": row.next_seq,
        "next_number": format_number(row.pattern, row.series, year, upcoming),
    }


def _this_year() -> int:
    return datetime.now(UTC).year


router = APIRouter()


@router.get(
    "/api/v1/number-series",
    response_model=NumberSeriesList,
    dependencies=API_KEY,
    tags=["numbering"],
)
async def list_series(state: State, year: int | None = None) -> dict[str, Any]:
    async with state.pool.acquire() as conn:
        company_id = await store.default_company_id(conn)
        rows = await numbering.series_of_company(conn, company_id)
    shown_year = year or _this_year()
    return {"items": [series_json(row, shown_year) for row in rows]}


@router.put(
    "/api/v1/number-series/{kind}/{series}",
    response_model=NumberSeriesOut,
    dependencies=API_KEY,
    tags=["numbering"],
)
async def put_series(kind: Kind, series: str, body: SeriesIn, state: State) -> dict[str, Any]:
    if not series.isalnum() or len(series) > 20:
        raise invalid_parameter("path", "series", "letters and digits only, at most 20")
    # A NumberingError is InvalidInput: a 422 naming the body's field (starter.api.errors).
    validate_series(body.pattern, body.reset_yearly)
    async with state.pool.acquire() as conn, conn.transaction():
        company_id = await store.default_company_id(conn)
        # The same lock an approval takes: settings never change under a numbering.
        current = await store.lock_series(conn, company_id, kind, series)
        next_seq = current.next_seq
        if body.next_seq is not None:
            try:
                check_move_forward(next_seq, body.next_seq)
            except NumberingError as refused:
                raise HTTPException(409, str(refused)) from refused
            next_seq = body.next_seq
        row = await numbering.update_settings(
            conn,
            company_id,
            kind,
            series,
            pattern=body.pattern,
            reset_yearly=body.reset_yearly,
            next_seq=next_seq,
        )
    return series_json(row, _this_year())
