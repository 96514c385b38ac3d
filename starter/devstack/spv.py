"""A local stand-in for ANAF's e-Factura API (SPV) and its OAuth2 server, so the whole
submission path runs offline: `q2c dev` serves it beside the API, the tests serve it on a
free port (tests/conftest.py, fixture `spv`).

It answers ANAF's documented endpoints with ANAF's shapes, under the same paths:
`{base}/upload|uploadb2c`, `{base}/stareMesaj`, `{base}/descarcare`,
`{base}/listaMesajeFactura` with base `/prod/FCTEL/rest` (and `/test/FCTEL/rest`), and
`/anaf-oauth2/v1/authorize|token|revoke`. Each upload is validated with the official
CIUS-RO rules (`activities.efactura_rules`): no fatal rule is `ok` with a zip of the
document and a signature, a fatal rule is `nok` with a zip of ANAF's error list naming the
rule ids. Bearer tokens are checked; the authorize step, done at ANAF with the company's
qualified certificate, here grants at once.

What the tests steer: `processing_polls` (status answers "in prelucrare" that many times
per upload before the outcome; a message-list request counts as a poll of each upload it
would list, and lists it only once processed), `drop_next_upload` (the next upload is
recorded, then its answer is lost on the wire, as when a worker dies before recording the
index), `upload_count`, and `expire_access_tokens()` (ANAF then answers 401).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import secrets
import socket
import threading
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import AsyncIterator, Generator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from xml.sax.saxutils import quoteattr

import uvicorn
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from activities import efactura_rules

REST_PREFIXES = ("/prod/FCTEL/rest", "/test/FCTEL/rest")
OAUTH_PREFIX = "/anaf-oauth2/v1"
# ANAF's lifetimes: an access token for 90 days, a refresh token for 365.
ACCESS_TOKEN_SECONDS = 90 * 24 * 3600
REFRESH_TOKEN_SECONDS = 365 * 24 * 3600
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_UPLOAD_NS = "mfp:anaf:dgti:spv:respUploadFisier:v1"
_STATUS_NS = "mfp:anaf:dgti:efactura:stareMesajFactura:v1"
_ERROR_NS = "mfp:anaf:dgti:spv:reqErrorMessage"
_STANDARDS = ("UBL", "CN", "CII", "RASP")
_ROOTS = {"UBL": "Invoice", "CN": "CreditNote"}
_SIGNATURE_KEY = b"q2c SPV stand-in: not ANAF's key"


def _stamp(moment: datetime) -> str:
    """ANAF's `dateResponse` / `data_creare`: YYYYMMDDHHMM, Romanian time in ANAF's
    answers; the stand-in keeps UTC."""
    return moment.strftime("%Y%m%d%H%M")


@dataclass
class Upload:
    index: str
    cif: str
    standard: str
    xml: str
    state: str  # "ok" | "nok"
    download_id: str
    errors: list[str]  # "RULE-ID: text" of the fatal rules
    polls_left: int
    created_at: str
    b2c: bool = False
    buyer_cif: str = ""


@dataclass
class _Tokens:
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    refresh: dict[str, float] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri


class _DroppedAnswer(Response):
    """Starts the answer, then breaks the connection: the client sees no answer at all."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4096"), (b"content-type", b"text/xml")],
            }
        )
        raise ConnectionAbortedError("SPV stand-in: the answer to this upload is dropped")


def _xml(body: str) -> Response:
    return Response(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body,
        media_type="application/xml",
    )


def _upload_refused(message: str, now: datetime) -> Response:
    return _xml(
        f'<header xmlns="{_UPLOAD_NS}" dateResponse="{_stamp(now)}" ExecutionStatus="1">'
        f"<Errors errorMessage={quoteattr(message)}/></header>"
    )


def _status_refused(message: str) -> Response:
    return _xml(
        f'<header xmlns="{_STATUS_NS}"><Errors errorMessage={quoteattr(message)}/></header>'
    )


def error_xml(upload: Upload, now: datetime) -> str:
    """ANAF's error list of a `nok` upload: one `Error` per broken rule, its id in it."""
    errors = "".join(
        "<Error errorMessage="
        + quoteattr(f"E: validari globale sistem  ID_EROARE: {rule_id} eroare: {text}")
        + "/>"
        for rule_id, _, text in (error.partition(": ") for error in upload.errors)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<header xmlns="{_ERROR_NS}" dateResponse="{_stamp(now)}" '
        f'Index_incarcare="{upload.index}" Cif_emitent="{upload.cif}">{errors}</header>'
    )


_CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
_CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


def _buyer_cif(document: ElementTree.Element) -> str:
    """The buyer's tax id as ANAF's message details name it: digits, without "RO"."""
    buyer = document.find(f"{_CAC}AccountingCustomerParty/{_CAC}Party")
    if buyer is None:
        return ""
    for path in (
        f"{_CAC}PartyTaxScheme/{_CBC}CompanyID",
        f"{_CAC}PartyLegalEntity/{_CBC}CompanyID",
    ):
        found = buyer.find(path)
        if found is not None and found.text:
            value = found.text.strip()
            return value[2:] if value[:2].upper() == "RO" else value
    return ""


def signature_xml(document: bytes) -> str:
    """The shape of ANAF's `semnatura_*.xml` (an XML-DSig over the document); the value is
    the stand-in's HMAC, not a qualified signature."""
    digest = base64.b64encode(hashlib.sha256(document).digest()).decode()
    value = base64.b64encode(hashlib.sha256(_SIGNATURE_KEY + document).digest()).decode()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
        '<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        '<Reference URI=""><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<DigestValue>{digest}</DigestValue></Reference></SignedInfo>"
        f"<SignatureValue>{value}</SignatureValue></Signature>"
    )


class SpvStandIn:
    """The stand-in's state and its ASGI app (`app`). Uploads and tokens are kept in memory
    and, when `state_file` is given, in that JSON file, so a restarted `q2c dev` still
    answers for its earlier uploads."""

    def __init__(
        self,
        *,
        processing_polls: int = 0,
        state_file: Path | None = None,
        client_id: str = "",
        client_secret: str = "",
    ) -> None:
        self.processing_polls = processing_polls
        self.drop_next_upload = False
        # When set, the token endpoint insists on these client credentials.
        self.client_id = client_id
        self.client_secret = client_secret
        self.uploads: dict[str, Upload] = {}
        self.upload_count = 0
        # Every grant_type the token endpoint was asked for, in order, and every token it
        # (or issue_tokens) gave out: what the tests look for where no token may be.
        self.token_grants: list[str] = []
        self.issued: list[str] = []
        self._tokens = _Tokens()
        self._state_file = state_file
        self._lock = threading.Lock()
        self._next_index = 5_001_120_000
        self._next_download = 3_001_290_000
        # Where it is served (`serve`), e.g. "http://127.0.0.1:8020".
        self.root_url = ""
        self._load()
        self.app = self._build_app()

    @property
    def base_url(self) -> str:
        """What Q2C_EFACTURA_URL names: the REST base, as ANAF's production one."""
        return f"{self.root_url}{REST_PREFIXES[0]}"

    @property
    def oauth_url(self) -> str:
        """What Q2C_EFACTURA_OAUTH_URL names."""
        return f"{self.root_url}{OAUTH_PREFIX}"

    # --- state ---

    def _load(self) -> None:
        if self._state_file is None or not self._state_file.is_file():
            return
        data = json.loads(self._state_file.read_text())
        self.uploads = {key: Upload(**value) for key, value in data["uploads"].items()}
        self._tokens = _Tokens(data["access"], data["refresh"], {})
        self._next_index = data["next_index"]
        self._next_download = data["next_download"]

    def _save(self) -> None:
        if self._state_file is None:
            return
        data = {
            "uploads": {key: asdict(upload) for key, upload in self.uploads.items()},
            "access": self._tokens.access,
            "refresh": self._tokens.refresh,
            "next_index": self._next_index,
            "next_download": self._next_download,
        }
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.chmod(0o600)
        temporary.replace(self._state_file)

    def issue_tokens(
        self,
        access_seconds: int = ACCESS_TOKEN_SECONDS,
        refresh_seconds: int = REFRESH_TOKEN_SECONDS,
    ) -> dict[str, Any]:
        """A new token pair, as the token endpoint answers it."""
        now = datetime.now(UTC).timestamp()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.access[access] = now + access_seconds
            self._tokens.refresh[refresh] = now + refresh_seconds
            self.issued += [access, refresh]
            self._save()
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": access_seconds,
            "scope": "",
        }

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (ANAF answers 401)."""
        with self._lock:
            self._tokens.access.clear()
            self._save()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far stops working (as after a revocation at ANAF)."""
        with self._lock:
            self._tokens.refresh.clear()
            self._save()

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self._tokens.access.get(token) if scheme.lower() == "bearer" else None
        return expiry is not None and expiry > datetime.now(UTC).timestamp()

    # --- the SPV endpoints ---

    async def _upload(self, request: Request, standard: str, cif: str, b2c: bool) -> Response:
        now = datetime.now(UTC)
        if standard not in _STANDARDS:
            return _upload_refused(
                "Valorile acceptate pentru parametrul standard sunt UBL, CN, CII sau RASP", now
            )
        if not cif.isdigit() or len(cif) > 10:
            return _upload_refused(f"CIF introdus= {cif[:20]} nu este un numar", now)
        body = await request.body()
        if not body or len(body) > MAX_UPLOAD_BYTES:
            return _upload_refused("Fisierul transmis este gol sau depaseste 10 MB", now)
        try:
            document = ElementTree.fromstring(body)
            root = document.tag.rpartition("}")[2]
        except ElementTree.ParseError:
            return _upload_refused(
                "Fisierul transmis nu este valid. Nu este un document XML bine format", now
            )
        expected = _ROOTS.get(standard)
        if expected is not None and root != expected:
            return _upload_refused(
                f"Documentul nu corespunde standardului {standard} (element radacina {root[:40]})",
                now,
            )
        failures = efactura_rules.fatal(await efactura_rules.validate_async(body))
        with self._lock:
            self._next_index += 1
            self._next_download += 1
            upload = Upload(
                index=str(self._next_index),
                cif=cif,
                standard=standard,
                xml=body.decode("utf-8"),
                state="nok" if failures else "ok",
                download_id=str(self._next_download),
                errors=[f"{failure.rule_id}: {failure.text}" for failure in failures],
                polls_left=self.processing_polls,
                created_at=_stamp(now),
                b2c=b2c,
                buyer_cif=_buyer_cif(document),
            )
            self.uploads[upload.index] = upload
            self.upload_count += 1
            drop, self.drop_next_upload = self.drop_next_upload, False
            self._save()
        if drop:
            return _DroppedAnswer()
        return _xml(
            f'<header xmlns="{_UPLOAD_NS}" dateResponse="{_stamp(now)}" ExecutionStatus="0" '
            f'index_incarcare="{upload.index}"/>'
        )

    def _status(self, id_incarcare: str) -> Response:
        if not id_incarcare.isdigit():
            return _status_refused(
                f"Id_incarcare introdus= {id_incarcare[:20]} nu este un numar intreg"
            )
        with self._lock:
            upload = self.uploads.get(id_incarcare)
            if upload is None:
                return _status_refused(
                    f"Nu aveti dreptul de inteorgare pentru id_incarcare= {id_incarcare}"
                )
            if upload.polls_left > 0:
                upload.polls_left -= 1
                self._save()
                return _xml(f'<header xmlns="{_STATUS_NS}" stare="in prelucrare"/>')
        return _xml(
            f'<header xmlns="{_STATUS_NS}" stare="{upload.state}" '
            f'id_descarcare="{upload.download_id}"/>'
        )

    def answer_zip(self, upload: Upload) -> bytes:
        """The zip ANAF keeps for an answered upload: `{index}.xml` (the document on ok,
        ANAF's error list on nok) and `semnatura_{index}.xml`."""
        document = (
            upload.xml if upload.state == "ok" else error_xml(upload, datetime.now(UTC))
        ).encode("utf-8")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{upload.index}.xml", document)
            archive.writestr(f"semnatura_{upload.index}.xml", signature_xml(document))
        return buffer.getvalue()

    def _download(self, download_id: str) -> Response:
        found = next(
            (
                upload
                for upload in list(self.uploads.values())
                if upload.download_id == download_id and upload.polls_left == 0
            ),
            None,
        )
        if found is None:
            return JSONResponse(
                {
                    "eroare": f"Pentru id={download_id[:20]} nu exista inregistrata nici o factura",
                    "titlu": "Descarcare mesaj",
                }
            )
        return Response(
            self.answer_zip(found),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{download_id}.zip"'},
        )

    def _messages(self, zile: str, cif: str) -> Response:
        if not zile.isdigit() or not 1 <= int(zile) <= 60:
            return JSONResponse(
                {"eroare": "Numarul de zile trebuie sa fie intre 1 si 60", "titlu": "Lista Mesaje"}
            )
        if not cif.isdigit():
            return JSONResponse(
                {"eroare": f"CIF introdus= {cif[:20]} nu este un numar", "titlu": "Lista Mesaje"}
            )
        since = _stamp(datetime.now(UTC) - timedelta(days=int(zile)))
        answered = []
        with self._lock:
            for upload in list(self.uploads.values()):
                if upload.cif != cif or upload.created_at < since:
                    continue
                # A list request counts as a poll of each upload still being processed, so
                # an upload whose index was lost (never polled) is answered too.
                if upload.polls_left > 0:
                    upload.polls_left -= 1
                else:
                    answered.append(upload)
            self._save()
        listed = [
            {
                "data_creare": upload.created_at,
                "cif": upload.cif,
                "id_solicitare": upload.index,
                "detalii": f"Factura cu id_incarcare={upload.index} emisa de "
                f"cif_emitent={upload.cif} pentru cif_beneficiar={upload.buyer_cif}",
                "tip": "FACTURA TRIMISA" if upload.state == "ok" else "ERORI FACTURA",
                "id": upload.download_id,
            }
            for upload in answered
        ]
        if not listed:
            return JSONResponse(
                {"eroare": f"Nu exista mesaje in ultimele {zile} zile", "titlu": "Lista Mesaje"}
            )
        return JSONResponse(
            {
                "mesaje": listed,
                "serial": "q2c-spv-stand-in",
                "cui": cif,
                "titlu": f"Lista Mesaje disponibile din ultimele {zile} zile",
            }
        )

    # --- the OAuth2 endpoints ---

    def _authorize(
        self, response_type: str, client_id: str, redirect_uri: str, state: str
    ) -> Response:
        if response_type != "code" or not client_id or not redirect_uri.startswith("http"):
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "response_type=code, "
                    "client_id and redirect_uri are required",
                },
                status_code=400,
            )
        if self.client_id and client_id != self.client_id:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.codes[code] = redirect_uri
        query = urlencode({"code": code, **({"state": state} if state else {})})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    def _token(self, form: dict[str, str], basic: tuple[str, str] | None) -> Response:
        client_id = form.get("client_id") or (basic[0] if basic else "")
        client_secret = form.get("client_secret") or (basic[1] if basic else "")
        grant = form.get("grant_type", "")
        self.token_grants.append(grant)
        if not client_id or (
            self.client_id and (client_id, client_secret) != (self.client_id, self.client_secret)
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        now = datetime.now(UTC).timestamp()
        with self._lock:
            if grant == "authorization_code":
                redirect_uri = self._tokens.codes.pop(form.get("code", ""), None)
                if redirect_uri is None or redirect_uri != form.get("redirect_uri", ""):
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
            elif grant == "refresh_token":
                expiry = self._tokens.refresh.get(form.get("refresh_token", ""))
                if expiry is None or expiry <= now:
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
            else:
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        return JSONResponse(self.issue_tokens())

    def _revoke(self, token: str) -> Response:
        with self._lock:
            self._tokens.access.pop(token, None)
            self._tokens.refresh.pop(token, None)
            self._save()
        return Response(status_code=200)

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="SPV stand-in", docs_url=None, redoc_url=None, openapi_url=None)
        unauthorized = JSONResponse(
            {"status": 401, "error": "Unauthorized", "message": "invalid_token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

        def rest(prefix: str) -> APIRouter:
            router = APIRouter(prefix=prefix)

            @router.post("/upload")
            async def upload(
                request: Request, standard: str = "", cif: str = "", extern: str = ""
            ) -> Response:
                if not self._authorized(request):
                    return unauthorized
                return await self._upload(request, standard, cif, b2c=False)

            @router.post("/uploadb2c")
            async def upload_b2c(request: Request, standard: str = "", cif: str = "") -> Response:
                if not self._authorized(request):
                    return unauthorized
                return await self._upload(request, standard, cif, b2c=True)

            @router.get("/stareMesaj")
            async def status(request: Request, id_incarcare: str = "") -> Response:
                if not self._authorized(request):
                    return unauthorized
                return self._status(id_incarcare)

            @router.get("/descarcare")
            async def download(request: Request, id: str = "") -> Response:
                if not self._authorized(request):
                    return unauthorized
                return self._download(id)

            @router.get("/listaMesajeFactura")
            async def messages(request: Request, zile: str = "", cif: str = "") -> Response:
                if not self._authorized(request):
                    return unauthorized
                return self._messages(zile, cif)

            return router

        for prefix in REST_PREFIXES:
            app.include_router(rest(prefix))

        @app.get(f"{OAUTH_PREFIX}/authorize")
        async def authorize(
            response_type: Annotated[str, Query()] = "",
            client_id: Annotated[str, Query()] = "",
            redirect_uri: Annotated[str, Query()] = "",
            state: Annotated[str, Query()] = "",
        ) -> Response:
            return self._authorize(response_type, client_id, redirect_uri, state)

        @app.post(f"{OAUTH_PREFIX}/token")
        async def token(request: Request) -> Response:
            form = {key: str(value) for key, value in (await request.form()).items()}
            return self._token(form, _basic_credentials(request))

        @app.post(f"{OAUTH_PREFIX}/revoke")
        async def revoke(token: Annotated[str, Form()] = "") -> Response:
            return self._revoke(token)

        return app


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the dev stack and pytest own Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serve(standin: SpvStandIn, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serves the stand-in over HTTP on the running loop (port 0: a free one) until the
    block ends; yields its root URL (also set as `standin.root_url`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    server = _Server(
        # No logging setup of its own (the API's uvicorn has one), and no access log: an
        # authorize request carries its state in the URL.
        uvicorn.Config(standin.app, log_config=None, access_log=False, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the SPV stand-in stopped at start")
            await asyncio.sleep(0.01)
        standin.root_url = f"http://{host}:{bound_port}"
        yield standin.root_url
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
        sock.close()
