"""The codec's login page: how an operator lets the Temporal UI decrypt payloads.

The UI calls `/codec/decode` from the browser with no operator key (it can only send its
own OIDC token, or the browser's cookies when its codec setting "include credentials" is
on). So the operator logs in here once with their key, and the answer is a cookie holding
an opaque session token (never the key; stored hashed, expiring, ended by logout or by
revoking or rotating the operator), scoped to `/codec` and `SameSite=Strict`: the UI on
another port of the same host is the same site and sends it, no other site can.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from db import codec_sessions, operators
from starter.api.deps import CODEC_SESSION_COOKIE, State, get_state
from starter.api.pages.signing import security_headers

SESSION_PATH = "/codec/session"
SESSION_LIFETIME = timedelta(hours=12)
# Operator keys are "q2c_" and 43 characters; anything far longer is not one.
KEY_MAX = 200

router = APIRouter()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _same_origin(request: Request) -> bool:
    """A browser names the page a form was posted from in Origin: only this API's own pages
    (as the request reached it, or its configured public address) may log in or out, so
    another site cannot post a key of its own choosing (login CSRF) or log an operator out."""
    origin = request.headers.get("origin", "").lower()
    if not origin or origin == "null":
        return False
    settings = get_state(request).settings
    own = {_origin(str(request.base_url)), _origin(settings.public_url), _origin(settings.api_url)}
    return origin in own


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    html_text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>q2c: Temporal UI decoding</title></head>"
        '<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">'
        f"<h1>Temporal UI decoding</h1>{body}</body></html>"
    )
    # The signing page's headers, but with the referrer kept for same-origin requests only:
    # under `no-referrer` Chromium posts the form with `Origin: null`, and the Origin check
    # (the CSRF guard) needs the page's own origin. Nothing leaves to other sites still.
    headers = {**security_headers(), "Referrer-Policy": "same-origin"}
    return HTMLResponse(html_text, status_code=status_code, headers=headers)


LOGIN_FORM = (
    "<p>Paste your q2c operator key to let the Temporal UI in this browser show decrypted "
    "payloads for the next 12 hours. The key is not kept in the browser.</p>"
    f'<form method="post" action="{SESSION_PATH}">'
    '<label>Operator key <input type="password" name="key" autocomplete="off" required '
    f'maxlength="{KEY_MAX}"></label> <button type="submit">Log in</button></form>'
)


def _logged_in(name: str, role: str, until: datetime) -> str:
    return (
        f"<p>Logged in as <strong>{html.escape(name)}</strong> ({html.escape(role)}) until "
        f"{until.strftime('%Y-%m-%d %H:%M')} UTC. The Temporal UI can decode now (its codec "
        "setting to include credentials must be on).</p>"
        f'<form method="post" action="{SESSION_PATH}/logout">'
        '<button type="submit">Log out</button></form>'
    )


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_state(request).settings.public_url.startswith(
        "https:"
    )


@router.get(SESSION_PATH, response_class=HTMLResponse, include_in_schema=False)
async def session_page(request: Request, state: State) -> HTMLResponse:
    token = request.cookies.get(CODEC_SESSION_COOKIE, "")
    if token and len(token) <= KEY_MAX:
        async with state.pool.acquire() as conn:
            row = await codec_sessions.operator_of(conn, token, datetime.now(UTC))
        if row is not None:
            return _page(f"<p>This browser has a codec session for {html.escape(row.name)}.</p>")
    return _page(LOGIN_FORM)


@router.post(SESSION_PATH, response_class=HTMLResponse, include_in_schema=False)
async def log_in(
    request: Request, state: State, key: Annotated[str, Form(max_length=KEY_MAX)] = ""
) -> HTMLResponse:
    if not _same_origin(request):
        return _page("<p>This form only works from this site's own page.</p>", 403)
    async with state.pool.acquire() as conn:
        row = await operators.by_key(conn, key.strip()) if key.strip() else None
        if row is None or row.revoked_at is not None:
            return _page("<p>That is not an active operator key.</p>" + LOGIN_FORM, 401)
        now = datetime.now(UTC)
        until = now + SESSION_LIFETIME
        token = await codec_sessions.start(conn, row.id, until)
    response = _page(_logged_in(row.name, row.role, until))
    response.set_cookie(
        CODEC_SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/codec",
        secure=_cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post(SESSION_PATH + "/logout", response_class=HTMLResponse, include_in_schema=False)
async def log_out(request: Request, state: State) -> HTMLResponse:
    if not _same_origin(request):
        return _page("<p>This form only works from this site's own page.</p>", 403)
    token = request.cookies.get(CODEC_SESSION_COOKIE, "")
    if token and len(token) <= KEY_MAX:
        async with state.pool.acquire() as conn:
            await codec_sessions.end(conn, token)
    response = _page("<p>Logged out.</p>" + LOGIN_FORM)
    response.delete_cookie(
        CODEC_SESSION_COOKIE,
        path="/codec",
        secure=_cookie_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response
