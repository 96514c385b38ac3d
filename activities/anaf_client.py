"""ANAF's e-Factura API (SPV) over HTTP: upload, message status, download, message list.

CONTRACT (issue 14): the names and signatures below are the interface the submission
activities use; implemented on branch `anaf`. `anafpy` (PyPI) needs Python 3.12 and q2c
runs on 3.11, so this is a small client on httpx following ANAF's published API
(https://mfinante.gov.ro/static/10/eFactura/upload.html and its siblings).

Every answer is ANAF's shape: the upload and the status answer XML (`header` with
attributes, `Errors errorMessage=…` when refused), the download a zip, the message list
JSON (`mesaje`, or `eroare`). No error message and no log line carries the token or the
document: ANAF's own messages name ids and rules, never the bearer.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import httpx

from settings import ANAF_OAUTH_URL, ANAF_PRODUCTION_URL, ANAF_TEST_URL

Standard = Literal["UBL", "CN"]  # an Invoice, a CreditNote

PRODUCTION_URL = ANAF_PRODUCTION_URL
TEST_URL = ANAF_TEST_URL
OAUTH_URL = ANAF_OAUTH_URL
# ANAF refuses documents over 10 MB; its answers (a zip with the document and a signature)
# are of the same order. Anything far bigger is not ANAF's answer.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_ANSWER_BYTES = 50 * 1024 * 1024
# A slow SPV answers an upload in tens of seconds; a stuck one must not hold an activity.
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MESSAGE_DAYS = range(1, 61)
# ANAF's ids are decimal numbers; anything else is refused before it reaches a URL.
_ID = re.compile(r"[0-9]{1,20}")
_CIF = re.compile(r"(?:RO)?([0-9]{2,10})", re.IGNORECASE)
# listaMesajeFactura answers `eroare` also when there is simply nothing to list.
_NO_MESSAGES = re.compile(r"^\s*Nu exista mesaje", re.IGNORECASE)


class AnafError(Exception):
    """ANAF could not be reached or answered 5xx / 429: try again later."""


class AnafRefused(AnafError):
    """ANAF refused the request itself (4xx other than 429, or an ExecutionStatus=1 answer):
    trying again unchanged fails again. The message is ANAF's."""


class AnafNotConnected(AnafRefused):
    """The company has no ANAF tokens (run `q2c efactura connect`), or they were revoked."""


class UploadState(StrEnum):
    PROCESSING = "in prelucrare"
    OK = "ok"
    NOK = "nok"
    # "XML cu erori nepreluat de sistem": the upload was refused before processing.
    INVALID = "XML cu erori nepreluat de sistem"


@dataclass(frozen=True)
class UploadStatus:
    state: UploadState
    download_id: str | None  # set for ok and nok: the answer to download
    errors: tuple[str, ...] = ()  # ANAF's messages when the status answer carries them


@dataclass(frozen=True)
class AnafMessage:
    """One entry of `listaMesajeFactura`."""

    download_id: str  # "id"
    upload_index: str  # "id_solicitare"
    kind: str  # "tip": "FACTURA TRIMISA", "ERORI FACTURA", "FACTURA PRIMITA", ...
    created_at: str  # "data_creare", ANAF's "YYYYMMDDHHMM"
    cif: str
    details: str


def cif_digits(cif: str) -> str:
    """The CIF as ANAF's query parameter wants it: digits only, without "RO"."""
    match = _CIF.fullmatch(cif.strip().replace(" ", ""))
    if match is None:
        raise AnafRefused("the seller's CIF is not a Romanian tax id (2 to 10 digits)")
    return match.group(1)


def _checked_id(value: str, what: str) -> str:
    if not _ID.fullmatch(value):
        raise AnafRefused(f"{what} must be ANAF's numeric id")
    return value


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml(body: bytes, what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise AnafError(f"ANAF's {what} answer is not XML") from None


def _error_messages(root: ElementTree.Element) -> tuple[str, ...]:
    return tuple(
        element.get("errorMessage", "").strip()
        for element in root.iter()
        if _local(element.tag) in ("Errors", "Error") and element.get("errorMessage")
    )


def parse_upload_answer(body: bytes) -> str:
    """`index_incarcare` of an ExecutionStatus="0" answer; ANAF's errors raised otherwise."""
    root = _parse_xml(body, "upload")
    errors = _error_messages(root)
    if root.get("ExecutionStatus") == "0" and root.get("index_incarcare"):
        return _checked_id(root.get("index_incarcare", ""), "index_incarcare")
    raise AnafRefused("; ".join(errors) or "ANAF refused the upload without a message")


def parse_status_answer(body: bytes) -> UploadStatus:
    root = _parse_xml(body, "status")
    errors = _error_messages(root)
    stare = root.get("stare")
    if stare is None:
        # No state, only Errors: the index is unknown or not this CIF's.
        raise AnafRefused("; ".join(errors) or "ANAF answered no state")
    try:
        state = UploadState(stare.strip())
    except ValueError:
        raise AnafError(f"ANAF answered an unknown state {stare[:60]!r}") from None
    download_id = root.get("id_descarcare") or None
    if download_id is not None:
        download_id = _checked_id(download_id, "id_descarcare")
    return UploadStatus(state, download_id, errors)


def parse_messages_answer(data: Any) -> list[AnafMessage]:
    if not isinstance(data, dict):
        raise AnafError("ANAF's message list is not a JSON object")
    if "eroare" in data:
        message = str(data["eroare"])
        if _NO_MESSAGES.match(message):
            return []
        raise AnafRefused(message[:500])
    entries = data.get("mesaje")
    if not isinstance(entries, list):
        raise AnafError("ANAF's message list has no `mesaje`")
    return [
        AnafMessage(
            download_id=str(entry.get("id", "")),
            upload_index=str(entry.get("id_solicitare", "")),
            kind=str(entry.get("tip", "")),
            created_at=str(entry.get("data_creare", "")),
            cif=str(entry.get("cif", "")),
            details=str(entry.get("detalii", "")),
        )
        for entry in entries
        if isinstance(entry, dict)
    ]


# Called with the access token ANAF refused (401): returns a fresh one, or raises
# AnafNotConnected when the refresh is refused too.
Refresh = Callable[[str], Awaitable[str]]


class AnafClient:
    """One company's access to SPV: its CIF's uploads and messages, with its bearer token.

    `base_url` is ANAF's REST base (PRODUCTION_URL, TEST_URL, or the stand-in's). When ANAF
    answers 401 and `refresh` is given, the token is refreshed once and the request sent
    once more."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        refresh: Refresh | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self._refresh = refresh
        self._transport = transport
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"AnafClient({self.base_url!r})"

    async def _send_once(
        self, method: str, path: str, params: dict[str, str], content: bytes | None
    ) -> _Answer:
        headers = {"Authorization": f"Bearer {self._token}"}
        if content is not None:
            headers["Content-Type"] = "text/plain"
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout, follow_redirects=False
        ) as http:
            try:
                async with http.stream(
                    method,
                    f"{self.base_url}/{path}",
                    params=params,
                    content=content,
                    headers=headers,
                ) as response:
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > MAX_ANSWER_BYTES:
                            raise AnafError(f"ANAF's {path} answer is over the size limit")
                    return _Answer(response.status_code, bytes(body))
            except httpx.HTTPError as failed:
                # The exception's text may quote the URL (no secret in it) but never the
                # headers; its class name says enough.
                raise AnafError(f"ANAF {path} did not answer: {type(failed).__name__}") from None

    async def _send(
        self, method: str, path: str, params: dict[str, str], content: bytes | None = None
    ) -> _Answer:
        response = await self._send_once(method, path, params, content)
        if response.status_code == 401 and self._refresh is not None:
            self._token = await self._refresh(self._token)
            response = await self._send_once(method, path, params, content)
        if response.status_code == 401:
            raise AnafNotConnected(
                "ANAF refused the access token: connect again (`q2c efactura connect`)"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise AnafError(f"ANAF {path} answered HTTP {response.status_code}: try later")
        if response.status_code >= 400:
            raise AnafRefused(
                f"ANAF {path} refused the request (HTTP {response.status_code}): "
                f"{_refusal_text(response)}"
            )
        return response

    async def upload(
        self,
        xml: bytes,
        *,
        cif: str,
        standard: Standard,
        b2c: bool = False,
        foreign_buyer: bool = False,
    ) -> str:
        """Uploads the document; returns ANAF's `index_incarcare`. `b2c` uses ANAF's
        endpoint for a buyer without a tax id (`uploadb2c`); `foreign_buyer` marks a buyer
        outside Romania (`extern=DA`)."""
        if standard not in ("UBL", "CN"):
            raise AnafRefused(f"unknown standard {standard!r}")
        if len(xml) > MAX_UPLOAD_BYTES:
            raise AnafRefused("the document is over ANAF's 10 MB limit")
        params = {"standard": standard, "cif": cif_digits(cif)}
        if foreign_buyer:
            params["extern"] = "DA"
        response = await self._send("POST", "uploadb2c" if b2c else "upload", params, xml)
        return parse_upload_answer(response.content)

    async def status(self, upload_index: str) -> UploadStatus:
        params = {"id_incarcare": _checked_id(upload_index, "the upload index")}
        response = await self._send("GET", "stareMesaj", params)
        return parse_status_answer(response.content)

    async def download(self, download_id: str) -> bytes:
        """The zip ANAF keeps for the message: on ok the document with ANAF's signature,
        on nok the error list."""
        params = {"id": _checked_id(download_id, "the download id")}
        response = await self._send("GET", "descarcare", params)
        if response.content[:2] != b"PK":
            # ANAF answers a refusal as JSON (`eroare`) with HTTP 200.
            raise AnafRefused(_refusal_text(response))
        return response.content

    async def messages(self, cif: str, days: int) -> list[AnafMessage]:
        """The messages of the last `days` days (1..60) for the CIF."""
        if days not in MESSAGE_DAYS:
            raise AnafRefused("ANAF lists the messages of 1 to 60 days")
        params = {"zile": str(days), "cif": cif_digits(cif)}
        response = await self._send("GET", "listaMesajeFactura", params)
        try:
            data = json.loads(response.content)
        except ValueError:
            raise AnafError("ANAF's message list is not JSON") from None
        return parse_messages_answer(data)


@dataclass(frozen=True)
class _Answer:
    status_code: int
    content: bytes


def _refusal_text(response: _Answer) -> str:
    """ANAF's own words from a refusal: `eroare` / `message` of a JSON body, the
    `errorMessage`s of an XML one; never more than a line's worth."""
    text = ""
    try:
        data = json.loads(response.content)
        if isinstance(data, dict):
            text = str(data.get("eroare") or data.get("message") or data.get("error") or "")
    except ValueError:
        try:
            text = "; ".join(_error_messages(ElementTree.fromstring(response.content)))
        except ElementTree.ParseError:
            text = ""
    return " ".join(text.split())[:500] or "no message"
