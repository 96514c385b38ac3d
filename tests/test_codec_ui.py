"""The Temporal UI decodes for a logged-in operator (issue 13 point 3): the UI sends no
operator key, only the browser's cookies, so an operator logs in on the codec's page and
the UI's `fetch(..., {credentials: "include"})` carries the session cookie.

The browser test drives Debian Chromium (see tests/test_browser.py): the API is served on
one port of 127.0.0.1 and a page standing in for the Temporal UI on another, which is a
different origin but the same site, exactly as localhost:8233 and localhost:8000.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import async_playwright
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from settings import DEFAULT_TEMPORAL_UI_ORIGIN, Settings
from starter.api.app import create_app
from starter.api.deps import CODEC_SESSION_COOKIE
from temporal_connection import ENCRYPTED_ENCODING, EncryptionCodec, connect_arguments
from tests.conftest import API_KEY, PUBLIC_URL, WEBHOOK_SECRETS
from tests.helpers import eventually
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

KEY = ("ui1", os.urandom(32))
SECRET_TEXT = "Zamfirescu Decodat SRL"


@dataclass
class CodecApp:
    app: FastAPI
    settings: Settings
    db: asyncpg.Pool
    ui_listener: socket.socket

    @property
    def ui_origin(self) -> str:
        return f"http://127.0.0.1:{self.ui_listener.getsockname()[1]}"

    def client(self, **headers: str) -> httpx.AsyncClient:
        """A client with no key of its own, as the browser is."""
        transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 50000))
        return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, headers=headers)

    def admin(self) -> httpx.AsyncClient:
        return self.client(Authorization=f"Bearer {API_KEY}")


def _free_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return listener


@pytest.fixture
async def codec_app(env: WorkflowEnvironment, db: asyncpg.Pool) -> AsyncIterator[CodecApp]:
    """The API with a payload key (no worker: the codec needs none), allowing the UI's
    default origin and the stand-in UI's port."""
    ui_listener = _free_listener()
    ui_origin = f"http://127.0.0.1:{ui_listener.getsockname()[1]}"
    settings = Settings(
        database_url="unused",
        temporal_address="unused",
        temporal_namespace=env.client.namespace,
        smtp_url="smtp://127.0.0.1:1",
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        task_queue=f"q2c-test-{uuid.uuid4()}",
        webhook_secrets=dict(WEBHOOK_SECRETS),
        payload_keys=(KEY,),
        codec_cors_origins=(DEFAULT_TEMPORAL_UI_ORIGIN, ui_origin),
    )
    arguments = connect_arguments(settings)
    client = Client(
        env.client.service_client,
        namespace=arguments.namespace,
        data_converter=arguments.data_converter,
    )
    app = create_app(settings, pool=db, temporal=client)
    async with app.router.lifespan_context(app):
        yield CodecApp(app, settings, db, ui_listener)
    ui_listener.close()


async def _sealed_body() -> dict[str, Any]:
    """What the UI would post: one payload as Temporal stores it, encrypted."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{SECRET_TEXT}"'.encode())
    [sealed] = await EncryptionCodec([KEY]).encode([plain])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }


def _texts(answer: dict[str, Any]) -> list[str]:
    return [base64.b64decode(p["data"]).decode() for p in answer["payloads"]]


async def _add_operator(codec: CodecApp, role: str) -> tuple[str, str]:
    async with codec.admin() as admin:
        made = await admin.post(
            "/api/v1/operators", json={"name": f"{role}-{uuid.uuid4().hex[:6]}", "role": role}
        )
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["key"]


async def _log_in(codec: CodecApp, key: str) -> httpx.Response:
    async with codec.client(Origin=PUBLIC_URL) as page:
        return await page.post("/codec/session", data={"key": key})


def _ui_headers(codec: CodecApp, cookie: str) -> dict[str, str]:
    return {
        "Origin": codec.ui_origin,
        "X-Namespace": codec.settings.temporal_namespace,
        "Cookie": f"{CODEC_SESSION_COOKIE}={cookie}",
    }


async def test_logging_in_gives_an_opaque_cookie_the_codec_accepts(codec_app: CodecApp) -> None:
    codec = codec_app
    _, key = await _add_operator(codec, "viewer")
    async with codec.client() as page:
        form = await page.get("/codec/session")
    assert form.status_code == 200 and 'name="key"' in form.text
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    assert form.headers["cache-control"] == "no-store"
    assert form.headers["referrer-policy"] == "same-origin"

    logged = await _log_in(codec, key)
    assert logged.status_code == 200, logged.text
    assert "Logged in as" in logged.text
    set_cookie = logged.headers["set-cookie"]
    assert key not in set_cookie, "the cookie never holds the operator's key"
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie
    assert "Path=/codec" in set_cookie and "Max-Age=43200" in set_cookie
    token = logged.cookies[CODEC_SESSION_COOKIE]
    assert token and token != key and key not in token
    # Only the token's hash is stored.
    stored = await codec.db.fetch("SELECT * FROM codec_sessions")
    assert len(stored) == 1
    assert all(token not in str(value) and key not in str(value) for value in stored[0].values())

    body = await _sealed_body()
    async with codec.client(**_ui_headers(codec, token)) as ui:
        decoded = await ui.post("/codec/decode", json=body)
        assert decoded.status_code == 200, decoded.text
        assert _texts(decoded.json()) == [f'"{SECRET_TEXT}"']
        assert decoded.headers["access-control-allow-origin"] == codec.ui_origin
        assert decoded.headers["access-control-allow-credentials"] == "true"
        # Encoding is an operator's write: a viewer's session may not.
        typed = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "InZvaWQi"}]}
        assert (await ui.post("/codec/encode", json=typed)).status_code == 403
    # The cookie is the codec's only: it opens no other route.
    async with codec.client(Cookie=f"{CODEC_SESSION_COOKIE}={token}") as elsewhere:
        assert (await elsewhere.get("/api/v1/operators")).status_code == 401
    # Nor does it work from a page that is not the UI's (another app on the same host).
    foreign = {**_ui_headers(codec, token), "Origin": "http://127.0.0.1:1"}
    async with codec.client(**foreign) as other:
        assert (await other.post("/codec/decode", json=body)).status_code == 401


async def test_an_operator_session_encodes_and_logging_out_ends_it(codec_app: CodecApp) -> None:
    codec = codec_app
    _, key = await _add_operator(codec, "operator")
    token = (await _log_in(codec, key)).cookies[CODEC_SESSION_COOKIE]
    typed = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "InZvaWQi"}]}
    async with codec.client(**_ui_headers(codec, token)) as ui:
        encoded = await ui.post("/codec/encode", json=typed)
        assert encoded.status_code == 200, encoded.text
        assert encoded.json()["payloads"][0]["data"] != "InZvaWQi"
    async with codec.client(Origin=PUBLIC_URL, Cookie=f"{CODEC_SESSION_COOKIE}={token}") as page:
        out = await page.post("/codec/session/logout")
    assert out.status_code == 200 and "Logged out" in out.text
    assert "Max-Age=0" in out.headers["set-cookie"] or "expires=" in out.headers["set-cookie"]
    async with codec.client(**_ui_headers(codec, token)) as ui:
        assert (await ui.post("/codec/decode", json=await _sealed_body())).status_code == 401


async def test_a_session_ends_when_it_expires_or_the_key_is_rotated(codec_app: CodecApp) -> None:
    codec = codec_app
    operator_id, key = await _add_operator(codec, "viewer")
    body = await _sealed_body()
    expiring = (await _log_in(codec, key)).cookies[CODEC_SESSION_COOKIE]
    async with codec.client(**_ui_headers(codec, expiring)) as ui:
        assert (await ui.post("/codec/decode", json=body)).status_code == 200
        # Twelve hours later, as the database's clock sees it.
        await codec.db.execute("UPDATE codec_sessions SET expires_at = now() - interval '1 second'")
        late = await ui.post("/codec/decode", json=body)
        assert late.status_code == 401
        assert "/codec/session" in late.json()["detail"]

    rotating = (await _log_in(codec, key)).cookies[CODEC_SESSION_COOKIE]
    async with codec.client(**_ui_headers(codec, rotating)) as ui:
        assert (await ui.post("/codec/decode", json=body)).status_code == 200
        async with codec.admin() as admin:
            rotated = await admin.post(f"/api/v1/operators/{operator_id}/rotate")
        assert rotated.status_code == 200
        assert (await ui.post("/codec/decode", json=body)).status_code == 401
    # The new key logs in again; the old one no longer does.
    assert (await _log_in(codec, rotated.json()["key"])).status_code == 200
    assert (await _log_in(codec, key)).status_code == 401


async def test_the_login_form_refuses_other_sites_and_wrong_keys(codec_app: CodecApp) -> None:
    codec = codec_app
    _, key = await _add_operator(codec, "viewer")
    for origin in ("https://evil.example", "null", codec.ui_origin):
        async with codec.client(Origin=origin) as page:
            refused = await page.post("/codec/session", data={"key": key})
        assert refused.status_code == 403, origin
        assert "set-cookie" not in refused.headers
    async with codec.client() as page:
        assert (await page.post("/codec/session", data={"key": key})).status_code == 403
    wrong = await _log_in(codec, "q2c_" + "x" * 43)
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    async with codec.client(Origin=PUBLIC_URL) as page:
        too_long = await page.post("/codec/session", data={"key": "k" * 5000})
    assert too_long.status_code == 422
    assert await codec.db.fetchval("SELECT count(*) FROM codec_sessions") == 0


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


async def _serve(app: FastAPI, listener: socket.socket) -> Served:
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))

    async def started() -> bool:
        if task.done():
            task.result()
            raise AssertionError("the HTTP server stopped before listening")
        return server.started

    await eventually(started, within=10, what="the HTTP server to listen")
    return Served(f"http://127.0.0.1:{listener.getsockname()[1]}", server, task)


async def _stop(served: Served) -> None:
    served.server.should_exit = True
    await asyncio.wait_for(served.task, timeout=10)


def _stand_in_ui() -> FastAPI:
    """The Temporal UI's origin: any page of it can run the UI's fetch."""
    ui = FastAPI()

    @ui.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return "<!doctype html><title>Temporal UI stand-in</title><p>UI</p>"

    return ui


# The Temporal UI's own call (temporalio/ui src/lib/services/data-encoder.ts) when its codec
# setting includeCredentials is on.
UI_FETCH = """async ([endpoint, namespace, body]) => {
    const response = await fetch(endpoint + "/decode", {
        method: "POST",
        credentials: "include",
        headers: {"Content-Type": "application/json", "X-Namespace": namespace},
        body: JSON.stringify(body),
    });
    return {status: response.status, body: response.ok ? await response.json() : null};
}"""


async def test_the_ui_decodes_in_a_real_browser_after_the_operator_logs_in(
    codec_app: CodecApp,
) -> None:
    codec = codec_app
    operator_id, key = await _add_operator(codec, "viewer")
    body = await _sealed_body()
    api = await _serve(codec.app, _free_listener())
    ui = await _serve(_stand_in_ui(), codec.ui_listener)
    endpoint = api.url + "/codec"
    namespace = codec.settings.temporal_namespace
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context()
                ui_page = await context.new_page()
                await ui_page.goto(ui.url + "/")

                # Not logged in: the UI is refused (and can read the refusal).
                before = await ui_page.evaluate(UI_FETCH, [endpoint, namespace, body])
                assert before["status"] == 401

                login = await context.new_page()
                await login.goto(api.url + "/codec/session")
                await login.fill("input[name=key]", key)
                await login.click("button[type=submit]")
                await login.wait_for_load_state()
                assert "Logged in as" in await login.content(), await login.content()
                cookies = await context.cookies(api.url + "/codec/decode")
                [cookie] = [c for c in cookies if c["name"] == CODEC_SESSION_COOKIE]
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
                assert cookie["path"] == "/codec" and key not in cookie["value"]
                assert not await login.evaluate("document.cookie"), "no script can read it"

                after = await ui_page.evaluate(UI_FETCH, [endpoint, namespace, body])
                assert after["status"] == 200
                assert _texts(after["body"]) == [f'"{SECRET_TEXT}"']

                async with codec.admin() as admin:
                    revoked = await admin.post(f"/api/v1/operators/{operator_id}/revoke")
                assert revoked.status_code == 200
                gone = await ui_page.evaluate(UI_FETCH, [endpoint, namespace, body])
                assert gone["status"] == 401
            finally:
                await browser.close()
    finally:
        await _stop(ui)
        await _stop(api)


async def test_the_preflight_allows_credentials_for_the_ui_only(codec_app: CodecApp) -> None:
    codec = codec_app
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with codec.client() as browser:
        ok = await browser.options("/codec/decode", headers={**asked, "Origin": codec.ui_origin})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == codec.ui_origin
        assert ok.headers["access-control-allow-credentials"] == "true"
        other = await browser.options(
            "/codec/decode", headers={**asked, "Origin": "http://127.0.0.1:1"}
        )
        assert other.status_code == 403
        assert "access-control-allow-credentials" not in other.headers
