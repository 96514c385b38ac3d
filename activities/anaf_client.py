"""ANAF's e-Factura API (SPV) over HTTP: upload, message status, download, message list.

CONTRACT (issue 14): the names and signatures below are the interface the submission
activities use; implemented on branch `anaf`. `anafpy` (PyPI) needs Python 3.12 and q2c
runs on 3.11, so this is a small client on httpx following ANAF's published API
(https://mfinante.gov.ro/static/10/eFactura/upload.html and its siblings).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Standard = Literal["UBL", "CN"]  # an Invoice, a CreditNote


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


class AnafClient:
    """One company's access to SPV: its CIF's uploads and messages, with its bearer token."""

    async def upload(self, xml: bytes, *, cif: str, standard: Standard) -> str:
        """Uploads the document; returns ANAF's `index_incarcare`."""
        raise NotImplementedError

    async def status(self, upload_index: str) -> UploadStatus:
        raise NotImplementedError

    async def download(self, download_id: str) -> bytes:
        """The zip ANAF keeps for the message: on ok the document with ANAF's signature,
        on nok the error list."""
        raise NotImplementedError

    async def messages(self, cif: str, days: int) -> list[AnafMessage]:
        """The messages of the last `days` days (1..60) for the CIF."""
        raise NotImplementedError
