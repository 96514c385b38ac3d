"""Temporal's remote codec protocol, so the Temporal UI shows operators decrypted payloads.

The UI posts `{"payloads": [{"metadata": {...}, "data": ...}]}` (every value base64) to
`/codec/decode` (and `/codec/encode` for the inputs an operator types) with an
`X-Namespace` header and, when configured, an `Authorization` header or the browser's
cookies. The routes are behind the operators' key, or the session cookie of the codec's
login page (pages/codec_session.py) for a UI that can send only cookies; CORS allows
credentials for the configured UI origins only, and the browser's preflight (which carries
no credentials) is answered for those origins only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field
from temporalio.api.common.v1 import Payload

from starter.api.deps import API_KEY, State, get_state
from starter.api.pages.codec_session import router as session_router
from temporal_connection import PayloadDecryptionError

# The UI asks for one event's payloads at a time, or a page of a history's.
MAX_PAYLOADS = 1000
MAX_METADATA = 32
# Base64 characters of one payload's data: Temporal refuses payloads over 2 MiB.
MAX_DATA_CHARS = 3 * 1024 * 1024


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    return value


Base64 = Annotated[str, AfterValidator(_base64)]


class CodecPayload(BaseModel):
    metadata: dict[
        Annotated[str, Field(max_length=256)], Annotated[Base64, Field(max_length=4096)]
    ] = Field(default_factory=dict, max_length=MAX_METADATA)
    data: Annotated[Base64, Field(max_length=MAX_DATA_CHARS)] = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(max_length=MAX_PAYLOADS)


def _to_protos(body: CodecPayloads) -> list[Payload]:
    return [
        Payload(
            metadata={key: base64.b64decode(value) for key, value in payload.metadata.items()},
            data=base64.b64decode(payload.data),
        )
        for payload in body.payloads
    ]


def _to_json(payloads: Sequence[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[
            CodecPayload(
                metadata={
                    key: base64.b64encode(value).decode() for key, value in payload.metadata.items()
                },
                data=base64.b64encode(payload.data).decode(),
            )
            for payload in payloads
        ]
    )


def _cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    if not origin or origin not in get_state(request).settings.codec_cors_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


class _CorsRoute(APIRoute):
    """Adds the CORS headers to every answer of these routes, a refusal (401) included, so
    the UI can read why it was refused."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            headers = _cors_headers(request)
            try:
                response = await handle(request)
            except HTTPException as refused:
                raise HTTPException(
                    refused.status_code, refused.detail, {**(refused.headers or {}), **headers}
                ) from refused
            response.headers.update(headers)
            return response

        return with_cors


router = APIRouter(route_class=_CorsRoute, tags=["codec"])
# The login page's routes keep their own (plain) route class.
router.include_router(session_router)

REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"description": "a payload that cannot be decrypted, or another namespace"}
}


def _check_namespace(state: State, namespace: str | None) -> None:
    if namespace is not None and namespace != state.settings.temporal_namespace:
        raise HTTPException(400, f"this codec serves namespace {state.settings.temporal_namespace}")


@router.post("/codec/decode", response_model=CodecPayloads, dependencies=API_KEY, responses=REFUSED)
async def decode(
    body: CodecPayloads,
    state: State,
    x_namespace: Annotated[str | None, Header(max_length=256)] = None,
) -> CodecPayloads:
    _check_namespace(state, x_namespace)
    payloads = _to_protos(body)
    codec = state.temporal.data_converter.payload_codec
    if codec is None:
        # No key configured: nothing this process wrote is encrypted.
        return _to_json(payloads)
    try:
        return _to_json(await codec.decode(payloads))
    except PayloadDecryptionError as err:
        raise HTTPException(400, str(err)) from None


@router.post("/codec/encode", response_model=CodecPayloads, dependencies=API_KEY, responses=REFUSED)
async def encode(
    body: CodecPayloads,
    state: State,
    x_namespace: Annotated[str | None, Header(max_length=256)] = None,
) -> CodecPayloads:
    _check_namespace(state, x_namespace)
    payloads = _to_protos(body)
    codec = state.temporal.data_converter.payload_codec
    return _to_json(payloads if codec is None else await codec.encode(payloads))


@router.options("/codec/decode", include_in_schema=False)
@router.options("/codec/encode", include_in_schema=False)
async def preflight(request: Request) -> Response:
    """The browser's preflight: it carries no Authorization header, so it needs none."""
    headers = _cors_headers(request)
    if not headers:
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            **headers,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
            "Access-Control-Max-Age": "600",
        },
    )
