"""Where domain errors become HTTP answers: one status per error, the same `detail` bodies
the routes gave when they raised HTTPException themselves."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from db import store
from domain.errors import (
    Conflict,
    InvalidInput,
    Missing,
    OperationFailed,
    Refusal,
    Unacceptable,
    Unavailable,
)
from domain.status import IllegalTransition

STATUS_OF_REFUSAL: dict[type[Refusal], int] = {
    Unacceptable: 422,
    Missing: 404,
    Conflict: 409,
    Unavailable: 503,
    OperationFailed: 500,
}


def status_of(refusal: Refusal) -> int:
    return STATUS_OF_REFUSAL.get(type(refusal), 500)


def unprocessable(message: str) -> RequestValidationError:
    """A domain refusal ("lines[1].vat_rate: ...") as FastAPI's 422, the field in `loc`."""
    field, sep, text = message.partition(": ")
    if not sep or " " in field:
        field, text = "", message
    loc: tuple[str | int, ...] = ("body",)
    for part in field.replace("]", "").replace("[", ".").split("."):
        if part:
            loc += (int(part) if part.isdigit() else part,)
    return RequestValidationError([{"loc": loc, "msg": text, "type": "value_error"}])


def invalid_parameter(where: str, name: str, message: str) -> RequestValidationError:
    """A refused query or path parameter as FastAPI's 422 (`detail` a list, as the OpenAPI
    document promises for every 422), e.g. ("query", "from", "must not be after to")."""
    return RequestValidationError([{"loc": (where, name), "msg": message, "type": "value_error"}])


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(store.NotFound)
    async def not_found(_: Request, missing: store.NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"{missing.kind} not found"}, status_code=404)

    @app.exception_handler(IllegalTransition)
    async def illegal_transition(_: Request, refused: IllegalTransition) -> JSONResponse:
        return JSONResponse({"detail": refused.reason}, status_code=409)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, refused: InvalidInput) -> JSONResponse:
        return await request_validation_exception_handler(request, unprocessable(str(refused)))

    @app.exception_handler(Unacceptable)
    async def unacceptable(request: Request, refused: Unacceptable) -> JSONResponse:
        # A 422 like every other: the OpenAPI document promises `detail` as a list.
        return await request_validation_exception_handler(request, unprocessable(str(refused)))

    @app.exception_handler(Refusal)
    async def refusal(_: Request, refused: Refusal) -> JSONResponse:
        return JSONResponse({"detail": str(refused)}, status_code=status_of(refused))
