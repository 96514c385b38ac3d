"""A company's access to ANAF's e-Factura API: its OAuth2 tokens, stored encrypted, and
the `AnafClient` the submission activities use.

ANAF's OAuth2 (https://logincert.anaf.ro/anaf-oauth2/v1): the company authorizes q2c's
registered application once, in a browser holding its qualified certificate
(authorization-code flow); the access token then lasts about 90 days and the refresh token
longer. Here the tokens are refreshed on use when less than REFRESH_WITHIN remains, and
once more when ANAF refuses an access token (401): refresh once, send once more.

The tokens are sealed with AES-256-GCM under the payload key ring (Settings.payload_keys,
Q2C_PAYLOAD_KEYS): the first key seals, every key opens, and a row sealed under an older
key is sealed again under the newest one when next used. Without a key nothing is stored.
No token, secret or code is ever put in a log line or an error message.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.anaf_client import AnafClient, AnafError, AnafNotConnected, AnafRefused
from db import efactura_tokens
from db.rows import EfacturaOauthStateRow, EfacturaTokenRow
from domain.operators import key_hash
from settings import Settings

log = logging.getLogger("q2c.efactura")

# Refresh on use when the access token has less than this left (ANAF's last 90 days).
REFRESH_WITHIN = timedelta(days=7)
# How long an operator has to finish the authorize step at ANAF.
STATE_VALID_FOR = timedelta(minutes=30)
OAUTH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
NONCE_BYTES = 12
# ANAF's JWTs are a few kB; anything far bigger is not a token.
MAX_TOKEN_CHARS = 16_384
# expires_in is seconds; ANAF gives 90 days. A year and a bit bounds a bad answer.
MAX_EXPIRES_IN = 400 * 24 * 3600
_NO_KEY = (
    "no payload key is configured (Q2C_PAYLOAD_KEYS): ANAF's tokens are stored only "
    "encrypted, so q2c refuses to connect without one (e.g. `openssl rand -base64 32`, "
    "set as Q2C_PAYLOAD_KEYS=k1:<key>)"
)


@dataclass(frozen=True)
class TokenGrant:
    """What ANAF's token endpoint answers (or an operator brings from elsewhere)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int  # seconds

    def checked(self, *, refresh_kept: bool = False) -> TokenGrant:
        """The grant, refused (naming the field) unless its tokens look like tokens;
        `refresh_kept`: a refresh answer may leave the refresh token out (it stays)."""
        tokens = [("access_token", self.access_token)]
        if not (refresh_kept and not self.refresh_token):
            tokens.append(("refresh_token", self.refresh_token))
        for name, token in tokens:
            if not token or len(token) > MAX_TOKEN_CHARS or not token.isprintable():
                raise AnafRefused(
                    f"{name}: not a token (1 to {MAX_TOKEN_CHARS} printable characters)"
                )
        if not 0 < self.expires_in <= MAX_EXPIRES_IN:
            raise AnafRefused(f"expires_in: must be 1 to {MAX_EXPIRES_IN} seconds")
        return self


@dataclass(frozen=True)
class Connection:
    """Whether a company is connected to ANAF, and since when (no token in it)."""

    connected: bool
    base_url: str | None
    oauth_url: str
    access_expires_at: datetime | None = None
    connected_at: datetime | None = None
    connected_by: str = ""
    refreshed_at: datetime | None = None
    # The tokens were issued by another OAuth server than the one configured now.
    other_oauth_url: bool = False


class TokenCipher:
    """AES-256-GCM over one token, bound to its company and column (the additional data),
    under the key ring's first key; any key of the ring opens."""

    def __init__(self, keys: tuple[tuple[str, bytes], ...]) -> None:
        if not keys:
            raise AnafNotConnected(_NO_KEY)
        self.key_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    @staticmethod
    def _bound(company_id: Any, column: str, key_id: str) -> bytes:
        return f"efactura_tokens:{company_id}:{column}:{key_id}".encode()

    def seal(self, company_id: Any, column: str, token: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._ciphers[self.key_id]
        return nonce + cipher.encrypt(
            nonce, token.encode(), self._bound(company_id, column, self.key_id)
        )

    def open(self, company_id: Any, column: str, key_id: str, sealed: bytes) -> str:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise AnafNotConnected(
                f"ANAF's tokens are sealed with payload key {key_id!r}, which is not among "
                "Q2C_PAYLOAD_KEYS: add it back, or connect again"
            )
        try:
            plain = cipher.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], self._bound(company_id, column, key_id)
            )
        except InvalidTag:
            raise AnafNotConnected(
                "ANAF's stored tokens fail authentication (altered): connect again"
            ) from None
        return plain.decode()


class EfacturaAccess:
    """The tokens of each company, and a client for each: what the submission activities,
    the API's /efactura routes and the dev stack share."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._transport = transport

    @property
    def base_url(self) -> str | None:
        return self._settings.efactura_url

    @property
    def oauth_url(self) -> str:
        return self._settings.efactura_oauth_url.rstrip("/")

    def _cipher(self) -> TokenCipher:
        return TokenCipher(self._settings.payload_keys)

    def _now(self) -> datetime:
        return datetime.now(UTC)

    # --- connecting ---

    def _need_client(self) -> None:
        if not self._settings.anaf_client_id or not self._settings.anaf_client_secret:
            raise AnafNotConnected(
                "Q2C_ANAF_CLIENT_ID and Q2C_ANAF_CLIENT_SECRET are not set: register q2c as an "
                "application at ANAF (README, e-Factura: ANAF connection) and set them"
            )

    def authorize_url(self, state: str) -> str:
        """Where the company's representative authorizes q2c, with the certificate."""
        self._need_client()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._settings.anaf_client_id,
                "redirect_uri": self._settings.oauth_redirect_url(),
                "token_content_type": "jwt",
                "state": state,
            }
        )
        return f"{self.oauth_url}/authorize?{query}"

    async def start(self, company_id: Any, operator_id: Any) -> str:
        """A new authorization for the operator: the URL to open, its `state` bound to them
        (stored hashed, valid for STATE_VALID_FOR)."""
        self._cipher()  # refuse before the operator goes to ANAF for nothing
        state = secrets.token_urlsafe(32)
        url = self.authorize_url(state)
        async with self._pool.acquire() as conn:
            await efactura_tokens.start_state(
                conn, key_hash(state), company_id, operator_id, self._now() + STATE_VALID_FOR
            )
        return url

    async def claim(self, state: str) -> EfacturaOauthStateRow:
        """The authorization ANAF's redirect names by its `state`: one an operator started
        here, unused and unexpired (it is used up now). Refused otherwise."""
        if not state or len(state) > 200:
            raise AnafRefused("the authorization's state is missing or malformed")
        async with self._pool.acquire() as conn:
            started = await efactura_tokens.redeem_state(conn, key_hash(state), self._now())
        if started is None:
            raise AnafRefused(
                "this authorization was not started here, was used already, or expired: "
                "start again with `q2c efactura connect`"
            )
        return started

    async def connect_with_code(self, company_id: Any, code: str, *, actor: str) -> Connection:
        """Exchanges an authorization code (from ANAF's redirect) for the first tokens."""
        if not code or len(code) > MAX_TOKEN_CHARS or not code.isprintable():
            raise AnafRefused("code: not an authorization code")
        cipher = self._cipher()
        self._need_client()
        grant = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self._settings.oauth_redirect_url(),
                "token_content_type": "jwt",
            }
        )
        await self._store(cipher, company_id, grant, actor)
        return await self.connection(company_id)

    async def connect_with_tokens(
        self, company_id: Any, grant: TokenGrant, *, actor: str
    ) -> Connection:
        """Stores tokens obtained elsewhere (another tool, or the dev stack's stand-in)."""
        cipher = self._cipher()
        await self._store(cipher, company_id, grant.checked(), actor)
        return await self.connection(company_id)

    async def _store(
        self, cipher: TokenCipher, company_id: Any, grant: TokenGrant, actor: str
    ) -> None:
        async with self._pool.acquire() as conn:
            await efactura_tokens.connect(
                conn,
                company_id,
                key_id=cipher.key_id,
                access_token=cipher.seal(company_id, "access_token", grant.access_token),
                refresh_token=cipher.seal(company_id, "refresh_token", grant.refresh_token),
                access_expires_at=self._now() + timedelta(seconds=grant.expires_in),
                oauth_url=self.oauth_url,
                connected_by=actor,
            )
        log.info("company %s connected to ANAF's e-Factura by %s", company_id, actor)

    async def disconnect(self, company_id: Any) -> None:
        async with self._pool.acquire() as conn:
            await efactura_tokens.disconnect(conn, company_id)

    async def connection(self, company_id: Any) -> Connection:
        async with self._pool.acquire() as conn:
            row = await efactura_tokens.get(conn, company_id)
        if row is None:
            return Connection(False, self.base_url, self.oauth_url)
        return Connection(
            connected=row.oauth_url == self.oauth_url,
            base_url=self.base_url,
            oauth_url=self.oauth_url,
            access_expires_at=row.access_expires_at,
            connected_at=row.connected_at,
            connected_by=row.connected_by,
            refreshed_at=row.refreshed_at,
            other_oauth_url=row.oauth_url != self.oauth_url,
        )

    # --- using ---

    def _row_usable(self, row: EfacturaTokenRow | None) -> EfacturaTokenRow:
        if row is None:
            raise AnafNotConnected(
                "the company is not connected to ANAF's e-Factura: run `q2c efactura connect`"
            )
        if row.oauth_url != self.oauth_url:
            raise AnafNotConnected(
                f"the company's ANAF tokens were issued by {row.oauth_url}, and q2c now uses "
                f"{self.oauth_url}: run `q2c efactura connect` again"
            )
        return row

    async def client_for(self, company_id: Any) -> AnafClient:
        """The company's client, its access token refreshed first when it expires within
        REFRESH_WITHIN. Raises AnafNotConnected without tokens (or with e-Factura off)."""
        if self.base_url is None:
            raise AnafNotConnected("e-Factura is off (Q2C_EFACTURA_URL=off)")
        cipher = self._cipher()
        async with self._pool.acquire() as conn:
            row = self._row_usable(await efactura_tokens.get(conn, company_id))
        if row.access_expires_at - self._now() < REFRESH_WITHIN:
            token = await self.refresh(company_id)
        else:
            token = cipher.open(company_id, "access_token", row.key_id, row.access_token)
            if row.key_id != cipher.key_id:
                await self._reseal(company_id)

        async def refresh_refused(refused: str) -> str:
            return await self.refresh(company_id, refused=refused)

        return AnafClient(self.base_url, token, refresh=refresh_refused, transport=self._transport)

    async def _reseal(self, company_id: Any) -> None:
        """The tokens sealed again under the ring's first key (after a key rotation)."""
        cipher = self._cipher()
        async with self._pool.acquire() as conn, conn.transaction():
            row = await efactura_tokens.get(conn, company_id, lock=True)
            if row is None or row.key_id == cipher.key_id:
                return
            access = cipher.open(company_id, "access_token", row.key_id, row.access_token)
            refresh = cipher.open(company_id, "refresh_token", row.key_id, row.refresh_token)
            await efactura_tokens.refreshed(
                conn,
                company_id,
                key_id=cipher.key_id,
                access_token=cipher.seal(company_id, "access_token", access),
                refresh_token=cipher.seal(company_id, "refresh_token", refresh),
                access_expires_at=None,
                at=None,
            )

    async def refresh(self, company_id: Any, *, refused: str | None = None) -> str:
        """A fresh access token from the refresh token (grant_type=refresh_token), stored.
        Refreshes take turns on the row: one that finds the work done uses its result."""
        cipher = self._cipher()
        async with self._pool.acquire() as conn, conn.transaction():
            row = self._row_usable(await efactura_tokens.get(conn, company_id, lock=True))
            access = cipher.open(company_id, "access_token", row.key_id, row.access_token)
            if refused is not None and access != refused:
                return access
            if refused is None and row.access_expires_at - self._now() >= REFRESH_WITHIN:
                return access
            refresh = cipher.open(company_id, "refresh_token", row.key_id, row.refresh_token)
            self._need_client()
            grant = await self._token_request(
                {"grant_type": "refresh_token", "refresh_token": refresh}, refreshing=True
            )
            now = self._now()
            await efactura_tokens.refreshed(
                conn,
                company_id,
                key_id=cipher.key_id,
                access_token=cipher.seal(company_id, "access_token", grant.access_token),
                refresh_token=cipher.seal(
                    company_id, "refresh_token", grant.refresh_token or refresh
                ),
                access_expires_at=now + timedelta(seconds=grant.expires_in),
                at=now,
            )
        log.info(
            "company %s: ANAF access token refreshed (%s)",
            company_id,
            "refused by ANAF" if refused is not None else "near its expiry",
        )
        return grant.access_token

    async def _token_request(self, form: dict[str, str], *, refreshing: bool = False) -> TokenGrant:
        form = form | {
            "client_id": self._settings.anaf_client_id,
            "client_secret": self._settings.anaf_client_secret,
        }
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=OAUTH_TIMEOUT, follow_redirects=False
            ) as http:
                response = await http.post(f"{self.oauth_url}/token", data=form)
        except httpx.HTTPError as failed:
            raise AnafError(
                f"ANAF's OAuth server did not answer: {type(failed).__name__}"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise AnafError(f"ANAF's OAuth server answered HTTP {response.status_code}: try later")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise AnafError("ANAF's OAuth server answered no JSON object")
        if response.status_code >= 400 or "error" in data:
            # OAuth2's error code is safe to show; its description is ANAF's own words.
            error = str(data.get("error", "refused"))[:100]
            description = " ".join(str(data.get("error_description", "")).split())[:300]
            what = "the refresh token" if refreshing else "the authorization"
            raise AnafNotConnected(
                f"ANAF refused {what} ({error}{': ' + description if description else ''}): "
                "run `q2c efactura connect` again"
            )
        try:
            grant = TokenGrant(
                access_token=str(data["access_token"]),
                refresh_token=str(data.get("refresh_token") or ""),
                expires_in=int(data.get("expires_in", 0)),
            )
        except (KeyError, TypeError, ValueError):
            raise AnafError("ANAF's OAuth server answered without an access token") from None
        return grant.checked(refresh_kept=refreshing)
