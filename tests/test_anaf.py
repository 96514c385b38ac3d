"""ANAF's e-Factura API client (activities/anaf_client.py) against the SPV stand-in served
over real HTTP (starter/devstack/spv.py), and the company's OAuth2 access to it
(activities/efactura_access.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.anaf_client import (
    AnafClient,
    AnafError,
    AnafNotConnected,
    AnafRefused,
    UploadState,
)
from activities.efactura_access import EfacturaAccess, TokenGrant
from activities.efactura_rules import EXAMPLES_DIR
from db import operators
from db.store import default_company_id
from domain.efactura import CUSTOMIZATION_ID
from domain.operators import Role
from settings import Settings
from starter.cli.main import main
from starter.devstack.mailsink import MailSink
from starter.devstack.spv import SpvStandIn
from starter.devstack.spv import serve as serve_spv
from tests.conftest import (
    API_KEY,
    EFACTURA_PAYLOAD_KEYS,
    PUBLIC_URL,
    SPV_CLIENT_ID,
    SPV_CLIENT_SECRET,
    Stack,
    connect_to_spv,
    spv_settings,
    stack_on,
)
from tests.helpers import issued_invoice

SELLER_CIF = "RO1234567890"  # the seller of ANAF's example invoice
ERROR_NS = "{mfp:anaf:dgti:spv:reqErrorMessage}"


def example(name: str = "eInvoice_ex.xml", *, current: bool = True) -> bytes:
    """ANAF's example document; `current` gives it today's CustomizationID (as published
    it carries CIUS-RO 1.0.0 and breaks BR-RO-001, and only that)."""
    xml = (EXAMPLES_DIR / name).read_bytes()
    if current:
        xml = re.sub(
            rb"(<cbc:CustomizationID>)[^<]*(</cbc:CustomizationID>)",
            rb"\g<1>" + CUSTOMIZATION_ID.encode() + rb"\g<2>",
            xml,
        )
    return xml


def client(spv: SpvStandIn) -> AnafClient:
    return AnafClient(spv.base_url, spv.issue_tokens()["access_token"])


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_a_valid_invoice_is_ok_and_its_answer_holds_it_with_a_signature(
    spv: SpvStandIn,
) -> None:
    anaf = client(spv)
    xml = example()
    index = await anaf.upload(xml, cif=SELLER_CIF, standard="UBL")
    assert index.isdigit()
    status = await anaf.status(index)
    assert status.state is UploadState.OK and status.download_id
    files = unzip(await anaf.download(status.download_id))
    assert set(files) == {f"{index}.xml", f"semnatura_{index}.xml"}
    assert files[f"{index}.xml"] == xml
    signature = ElementTree.fromstring(files[f"semnatura_{index}.xml"])
    assert signature.tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    assert spv.upload_count == 1
    # A buyer without a tax id: ANAF's B2C endpoint.
    b2c = await anaf.upload(xml, cif=SELLER_CIF, standard="UBL", b2c=True)
    assert spv.uploads[b2c].b2c and (await anaf.status(b2c)).state is UploadState.OK


async def test_a_credit_note_goes_as_cn_and_a_broken_invoice_is_nok_with_its_rule_ids(
    spv: SpvStandIn,
) -> None:
    anaf = client(spv)
    note = await anaf.upload(
        example("creditNote_ex.xml"), cif="SE123451234501"[2:12], standard="CN"
    )
    assert (await anaf.status(note)).state is UploadState.OK

    index = await anaf.upload(example(current=False), cif=SELLER_CIF, standard="UBL")
    status = await anaf.status(index)
    assert status.state is UploadState.NOK and status.download_id
    files = unzip(await anaf.download(status.download_id))
    assert set(files) == {f"{index}.xml", f"semnatura_{index}.xml"}
    errors = ElementTree.fromstring(files[f"{index}.xml"])
    assert errors.tag == f"{ERROR_NS}header"
    assert errors.get("Index_incarcare") == index
    assert errors.get("Cif_emitent") == "1234567890"
    messages = [error.get("errorMessage", "") for error in errors.iter(f"{ERROR_NS}Error")]
    assert len(messages) == 1
    assert "BR-RO-001" in messages[0] and messages[0].startswith("E: ")


async def test_status_is_in_processing_for_the_configured_polls_then_ok(spv: SpvStandIn) -> None:
    spv.processing_polls = 2
    anaf = client(spv)
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    first, second = await anaf.status(index), await anaf.status(index)
    assert first.state is second.state is UploadState.PROCESSING
    assert first.download_id is None
    third = await anaf.status(index)
    assert third.state is UploadState.OK and third.download_id is not None


async def test_an_upload_in_processing_is_listed_once_processed(spv: SpvStandIn) -> None:
    """Each list request counts as one poll too: an upload nobody polls (its index lost)
    is listed after `processing_polls` list requests, as ANAF lists it once processed."""
    spv.processing_polls = 2
    anaf = client(spv)
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert await anaf.messages(SELLER_CIF, 1) == []
    assert await anaf.messages(SELLER_CIF, 1) == []
    (message,) = await anaf.messages(SELLER_CIF, 1)
    assert message.upload_index == index and message.kind == "FACTURA TRIMISA"


async def test_the_message_list_shows_sent_invoices_and_errors(spv: SpvStandIn) -> None:
    anaf = client(spv)
    assert await anaf.messages(SELLER_CIF, 60) == []
    good = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    bad = await anaf.upload(example(current=False), cif=SELLER_CIF, standard="UBL")
    listed = {message.upload_index: message for message in await anaf.messages(SELLER_CIF, 1)}
    assert set(listed) == {good, bad}
    assert listed[good].kind == "FACTURA TRIMISA"
    assert listed[bad].kind == "ERORI FACTURA"
    assert listed[good].download_id == (await anaf.status(good)).download_id
    assert listed[good].cif == "1234567890"
    assert listed[good].details == (
        f"Factura cu id_incarcare={good} emisa de cif_emitent=1234567890 "
        "pentru cif_beneficiar=987456123"
    )
    assert re.fullmatch(r"[0-9]{12}", listed[good].created_at)
    # Another CIF's list does not show them.
    assert await anaf.messages("RO987456123", 1) == []


async def test_refused_requests_raise_anafs_own_message(spv: SpvStandIn) -> None:
    anaf = client(spv)
    # An invoice sent as a credit note: refused at upload (ExecutionStatus=1).
    with pytest.raises(AnafRefused, match="CN"):
        await anaf.upload(example(), cif=SELLER_CIF, standard="CN")
    with pytest.raises(AnafRefused, match="nu este valid"):
        await anaf.upload(b"<Invoice>not closed", cif=SELLER_CIF, standard="UBL")
    with pytest.raises(AnafRefused, match="Nu aveti dreptul"):
        await anaf.status("999")
    with pytest.raises(AnafRefused, match="nu exista"):
        await anaf.download("999")
    with pytest.raises(AnafRefused):
        await anaf.messages(SELLER_CIF, 61)
    assert spv.upload_count == 0
    # A token ANAF does not know: 401, and without a way to refresh, not connected.
    with pytest.raises(AnafNotConnected):
        await AnafClient(spv.base_url, "not-a-token").messages(SELLER_CIF, 1)
    spv.expire_access_tokens()
    with pytest.raises(AnafNotConnected):
        await anaf.status("1")


async def test_an_answer_lost_after_the_upload_leaves_the_upload_recorded(
    spv: SpvStandIn,
) -> None:
    """The fault switch the submission's crash test uses: the upload happens, its answer
    never arrives, the client says "try again" (AnafError, not a refusal), and the message
    list shows the upload."""
    anaf = client(spv)
    spv.drop_next_upload = True
    with pytest.raises(AnafError) as lost:
        await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert not isinstance(lost.value, AnafRefused)
    assert spv.upload_count == 1
    (message,) = await anaf.messages(SELLER_CIF, 1)
    assert message.kind == "FACTURA TRIMISA"
    # The switch is for one upload only.
    assert (await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")).isdigit()
    assert spv.upload_count == 2


async def test_an_unreachable_spv_is_an_error_to_retry() -> None:
    anaf = AnafClient("http://127.0.0.1:9/prod/FCTEL/rest", "token")
    with pytest.raises(AnafError) as failed:
        await anaf.status("1")
    assert not isinstance(failed.value, AnafRefused)


# --- the company's access: tokens stored encrypted, refreshed, and a client for it --------


def access_settings(spv: SpvStandIn, database_url: str, **more: Any) -> Settings:
    return Settings(
        database_url=database_url,
        temporal_address="unused",
        temporal_namespace="default",
        smtp_url="smtp://unused",
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        **(spv_settings(spv) | more),
    )


async def test_a_connected_company_gets_a_working_client_and_others_are_refused(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str
) -> None:
    settings = access_settings(spv, database_url)
    access = EfacturaAccess(db, settings)
    async with db.acquire() as conn:
        company_id = await default_company_id(conn)
    with pytest.raises(AnafNotConnected, match="q2c efactura connect"):
        await access.client_for(company_id)
    assert await connect_to_spv(spv, db, settings) == company_id
    anaf = await access.client_for(company_id)
    assert anaf.base_url == spv.base_url
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert (await anaf.status(index)).state is UploadState.OK
    off = EfacturaAccess(db, dataclasses.replace(settings, efactura_url=None))
    with pytest.raises(AnafNotConnected, match="off"):
        await off.client_for(company_id)


async def test_connect_through_anafs_authorize_and_token_stores_the_tokens_sealed(
    spv: SpvStandIn,
    env: WorkflowEnvironment,
    db: asyncpg.Pool,
    mail: MailSink,
    database_url: str,
    owner_pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack_on(env, db, mail, database_url, **spv_settings(spv)) as stack:
        before = await stack.api.get("/api/v1/efactura/status")
        assert before.status_code == 200, before.text
        assert before.json()["connected"] is False and before.json()["check"] is None

        started = await stack.api.post("/api/v1/efactura/connect", json={})
        assert started.status_code == 200, started.text
        url = started.json()["authorize_url"]
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(f"{spv.oauth_url}/authorize?")
        assert query["client_id"] == [SPV_CLIENT_ID] and query["response_type"] == ["code"]
        assert query["redirect_uri"] == [f"{PUBLIC_URL}/api/v1/efactura/oauth/callback"]

        # The company's representative, in a browser with the certificate: ANAF redirects.
        async with httpx.AsyncClient() as browser:
            authorized = await browser.get(url)
        assert authorized.status_code == 302
        back = authorized.headers["location"]
        assert back.startswith(f"{PUBLIC_URL}/api/v1/efactura/oauth/callback?code=")

        # The browser brings no operator key: the state lets it in, once.
        transport = httpx.ASGITransport(app=stack.app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as browser:
            done = await browser.get(back)
            again = await browser.get(back)
            forged = await browser.get(back.replace("state=", "state=x"))
        assert done.status_code == 200 and "connected" in done.text, done.text
        assert again.status_code == 400 and "used already" in again.text
        assert forged.status_code == 400
        assert spv.token_grants == ["authorization_code"]

        status = (await stack.api.get("/api/v1/efactura/status")).json()
        assert status["connected"] is True and status["enabled"] is True
        assert status["base_url"] == spv.base_url and status["oauth_url"] == spv.oauth_url
        assert status["connected_by"] == "operator:admin"
        assert status["check"]["ok"] is True, status["check"]
        expires = datetime.fromisoformat(status["access_expires_at"])
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)

        # At rest: ciphertext under the payload key's id, no token in any column.
        row = await owner_pool.fetchrow("SELECT * FROM efactura_tokens")
        assert row is not None
        assert row["key_id"] == EFACTURA_PAYLOAD_KEYS[0][0]
        stored = " ".join(
            value.hex() + repr(value) if isinstance(value, bytes) else str(value)
            for value in row.values()
        )
        assert spv.issued, "the stand-in issued tokens"
        for token in spv.issued:
            assert token not in stored and token.encode().hex() not in stored

        # A viewer or an operator may not see or change the connection.
        made = await stack.api.post("/api/v1/operators", json={"name": "ana", "role": "operator"})
        key = made.json()["key"]
        forbidden = await stack.api.get(
            "/api/v1/efactura/status", headers={"Authorization": f"Bearer {key}"}
        )
        assert forbidden.status_code == 403
    for secret in [*spv.issued, SPV_CLIENT_SECRET]:
        assert secret not in caplog.text


async def test_tokens_near_expiry_are_refreshed_before_use(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str, owner_pool: asyncpg.Pool
) -> None:
    settings = access_settings(spv, database_url)
    access = EfacturaAccess(db, settings)
    async with db.acquire() as conn:
        company_id = await default_company_id(conn)
    grant = spv.issue_tokens(access_seconds=3 * 24 * 3600)
    await access.connect_with_tokens(
        company_id,
        TokenGrant(grant["access_token"], grant["refresh_token"], grant["expires_in"]),
        actor="tests",
    )
    anaf = await access.client_for(company_id)
    assert spv.token_grants == ["refresh_token"]
    assert await anaf.messages(SELLER_CIF, 1) == []
    connection = await access.connection(company_id)
    assert connection.refreshed_at is not None and connection.access_expires_at is not None
    assert connection.access_expires_at - datetime.now(UTC) > timedelta(days=89)
    # Fresh now: the next use refreshes nothing.
    await access.client_for(company_id)
    assert spv.token_grants == ["refresh_token"]


async def test_a_refused_access_token_is_refreshed_once_and_the_request_sent_again(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = access_settings(spv, database_url)
    access = EfacturaAccess(db, settings)
    company_id = await connect_to_spv(spv, db, settings)
    anaf = await access.client_for(company_id)
    spv.expire_access_tokens()
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert spv.token_grants == ["refresh_token"] and spv.upload_count == 1
    assert (await anaf.status(index)).state is UploadState.OK
    assert spv.token_grants == ["refresh_token"]
    # Revoked at ANAF: one refresh is tried, refused, and the company is not connected.
    # Refused again later on the same client: refreshed again, from the token it now holds.
    spv.expire_access_tokens()
    assert (await anaf.status(index)).state is UploadState.OK
    assert spv.token_grants == ["refresh_token", "refresh_token"]
    spv.expire_access_tokens()
    spv.revoke_refresh_tokens()
    with pytest.raises(AnafNotConnected, match="connect"):
        await (await access.client_for(company_id)).status(index)
    assert spv.token_grants == ["refresh_token"] * 3
    for secret in [*spv.issued, SPV_CLIENT_SECRET]:
        assert secret not in caplog.text


async def test_without_a_payload_key_q2c_refuses_to_connect(
    spv: SpvStandIn,
    env: WorkflowEnvironment,
    db: asyncpg.Pool,
    mail: MailSink,
    database_url: str,
    owner_pool: asyncpg.Pool,
) -> None:
    keyless = spv_settings(spv) | {"payload_keys": ()}
    settings = access_settings(spv, database_url, payload_keys=())
    grant = spv.issue_tokens()
    with pytest.raises(AnafNotConnected, match="Q2C_PAYLOAD_KEYS"):
        await EfacturaAccess(db, settings).connect_with_tokens(
            await connect_company(db),
            TokenGrant(grant["access_token"], grant["refresh_token"], 3600),
            actor="tests",
        )
    async with stack_on(env, db, mail, database_url, **keyless) as stack:
        for body in ({}, {"code": "abc"}, {k: grant[k] for k in TOKEN_FIELDS}):
            refused = await stack.api.post("/api/v1/efactura/connect", json=body)
            assert refused.status_code == 409, refused.text
            assert "Q2C_PAYLOAD_KEYS" in refused.json()["detail"]
        half = await stack.api.post(
            "/api/v1/efactura/connect", json={"access_token": "a", "expires_in": 60}
        )
        assert half.status_code == 422 and isinstance(half.json()["detail"], list)
    assert await owner_pool.fetchval("SELECT count(*) FROM efactura_tokens") == 0
    assert await owner_pool.fetchval("SELECT count(*) FROM efactura_oauth_states") == 0
    assert spv.token_grants == []


async def test_a_rotated_payload_key_still_opens_the_tokens_and_reseals_them(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str, owner_pool: asyncpg.Pool
) -> None:
    old = EFACTURA_PAYLOAD_KEYS[0]
    new = ("efactura-new", bytes(range(100, 132)))
    company_id = await connect_to_spv(spv, db, access_settings(spv, database_url))
    rotated = EfacturaAccess(db, access_settings(spv, database_url, payload_keys=(new, old)))
    assert await (await rotated.client_for(company_id)).messages(SELLER_CIF, 1) == []
    assert await owner_pool.fetchval("SELECT key_id FROM efactura_tokens") == new[0]
    # The old key may go now; without the key that sealed them the tokens are refused.
    only_new = EfacturaAccess(db, access_settings(spv, database_url, payload_keys=(new,)))
    assert await (await only_new.client_for(company_id)).messages(SELLER_CIF, 1) == []
    lost = EfacturaAccess(db, access_settings(spv, database_url, payload_keys=(old,)))
    with pytest.raises(AnafNotConnected, match="efactura-new"):
        await lost.client_for(company_id)
    # Tokens of another OAuth server (the stand-in's, with q2c now pointed at ANAF) are
    # never sent there.
    elsewhere = EfacturaAccess(
        db, access_settings(spv, database_url, efactura_oauth_url="https://logincert.anaf.ro/x")
    )
    with pytest.raises(AnafNotConnected, match="connect` again"):
        await elsewhere.client_for(company_id)
    assert spv.token_grants == []


async def test_q2c_efactura_status_and_connect_through_the_cli(
    spv: SpvStandIn,
    env: WorkflowEnvironment,
    db: asyncpg.Pool,
    mail: MailSink,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_API_URL", PUBLIC_URL)
    async with stack_on(env, db, mail, database_url, **spv_settings(spv)) as stack:
        to_app = AppTransport(stack.api, asyncio.get_running_loop())

        async def q2c(*argv: str) -> int:
            return await asyncio.to_thread(main, list(argv), transport=to_app)

        assert await q2c("efactura", "status") == 1
        printed = capsys.readouterr().out
        assert "connected:" in printed and "no" in printed
        assert "q2c efactura connect" in printed

        assert await q2c("efactura", "connect") == 0
        printed = capsys.readouterr().out
        assert f"{spv.oauth_url}/authorize?" in printed and "certificate" in printed

        grant = spv.issue_tokens()
        tokens = tmp_path / "tokens.json"
        tokens.write_text(json.dumps({k: grant[k] for k in TOKEN_FIELDS}))
        assert await q2c("efactura", "connect", "--tokens", str(tokens)) == 0
        assert await q2c("efactura", "status") == 0
        printed = capsys.readouterr().out
        assert "connected:      yes" in printed
        assert "check:          working" in printed and spv.base_url in printed
        for token in spv.issued:
            assert token not in printed

        # An authorization code from ANAF, pasted by hand.
        async with httpx.AsyncClient() as browser:
            started = await stack.api.post("/api/v1/efactura/connect", json={})
            authorized = await browser.get(started.json()["authorize_url"])
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        assert await q2c("efactura", "connect", "--code", code) == 0
        assert spv.token_grants == ["authorization_code"]
        assert "check:          working" in capsys.readouterr().out
        # A code used already is ANAF's refusal, exit 1.
        assert await q2c("efactura", "connect", "--code", code) == 1
        assert "invalid_grant" in capsys.readouterr().err


TOKEN_FIELDS = ("access_token", "refresh_token", "expires_in")


async def connect_company(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        return await default_company_id(conn)


class AppTransport(httpx.BaseTransport):
    """The CLI's (sync) requests to the stack's app, on the test's loop."""

    def __init__(self, api: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self._api = api
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            forwarded = self._api.build_request(
                request.method,
                request.url.raw_path.decode(),
                headers={
                    name: value
                    for name, value in request.headers.items()
                    if name in ("authorization", "content-type")
                },
                content=request.read(),
            )
            answer = await self._api.send(forwarded)
            await answer.aread()
            return answer

        answer = asyncio.run_coroutine_threadsafe(send(), self._loop).result(timeout=60)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


async def test_a_restarted_stand_in_still_answers_for_its_uploads(tmp_path: Path) -> None:
    """`q2c dev` keeps the stand-in's uploads and tokens in .q2c/spv.json: an invoice
    uploaded before a restart is still polled to its answer after it."""
    state = tmp_path / "spv.json"
    first = SpvStandIn(state_file=state, processing_polls=1)
    async with serve_spv(first):
        token = first.issue_tokens()["access_token"]
        index = await AnafClient(first.base_url, token).upload(
            example(), cif=SELLER_CIF, standard="UBL"
        )
    assert state.stat().st_mode & 0o077 == 0
    again = SpvStandIn(state_file=state)
    async with serve_spv(again):
        anaf = AnafClient(again.base_url, token)
        assert (await anaf.status(index)).state is UploadState.PROCESSING
        status = await anaf.status(index)
        assert status.state is UploadState.OK and status.download_id is not None
        assert f"{index}.xml" in unzip(await anaf.download(status.download_id))


async def test_q2c_efactura_xml_saves_the_stored_xml(
    stack: Stack, live_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_API_URL", live_url)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))
    invoice = await issued_invoice(stack)
    saved = tmp_path / "invoice.xml"
    argv = ["efactura", "xml", invoice["id"], "-o", str(saved)]
    assert await asyncio.to_thread(main, argv) == 0
    stored = await stack.api.get(f"/api/v1/invoices/{invoice['id']}/efactura.xml")
    assert stored.status_code == 200
    assert saved.read_bytes() == stored.content
    assert f"<cbc:ID>{invoice['number']}</cbc:ID>".encode() in stored.content
    # A credit note id the API does not know: refused, nothing written.
    missing = tmp_path / "missing.xml"
    argv = ["efactura", "xml", str(uuid4()), "--credit-note", "-o", str(missing)]
    assert await asyncio.to_thread(main, argv) == 1
    assert not missing.exists()


async def test_an_authorization_state_is_single_use_short_lived_and_cleared_later(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str, owner_pool: asyncpg.Pool
) -> None:
    access = EfacturaAccess(db, access_settings(spv, database_url))
    company_id = await connect_company(db)
    async with db.acquire() as conn:
        admin, _ = await operators.add(conn, "root", Role.ADMIN)
    url = await access.start(company_id, admin.id)
    state = parse_qs(urlsplit(url).query)["state"][0]
    stored = await owner_pool.fetchval("SELECT state_hash FROM efactura_oauth_states")
    assert stored != state and state not in stored
    claimed = await access.claim(state)
    assert (claimed.company_id, claimed.operator_id) == (UUID(company_id), admin.id)
    with pytest.raises(AnafRefused, match="used already"):
        await access.claim(state)
    # Expired: refused; a day past its expiry, gone at the next start.
    await owner_pool.execute(
        "UPDATE efactura_oauth_states SET used_at = NULL, expires_at = now() - interval '2 days'"
    )
    with pytest.raises(AnafRefused, match="expired"):
        await access.claim(state)
    await access.start(company_id, admin.id)
    assert await owner_pool.fetchval("SELECT count(*) FROM efactura_oauth_states") == 1


async def test_the_access_log_shows_the_oauth_callback_without_its_code(stack: Stack) -> None:
    # The API (its lifespan ran for `stack`) filters uvicorn's access log: a callback line,
    # as uvicorn writes it, keeps its path and loses its query.
    access = logging.getLogger("uvicorn.access")
    callback = "/api/v1/efactura/oauth/callback?code=C0DE&state=S7"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:5000", "GET", callback, "1.1", 200),
        None,
    )
    assert all(f.filter(record) for f in access.filters if isinstance(f, logging.Filter))
    line = record.getMessage()
    assert "/api/v1/efactura/oauth/callback" in line
    assert "C0DE" not in line and "S7" not in line
