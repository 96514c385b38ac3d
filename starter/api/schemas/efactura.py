"""The company's connection to ANAF's e-Factura (routers/efactura.py)."""

from __future__ import annotations

from pydantic import Field, model_validator

from starter.api.schemas.common import Answer, Body, IsoInstant


class EfacturaConnectIn(Body):
    """Empty: start the authorization at ANAF (the answer gives the URL to open). `code`: an
    authorization code obtained at ANAF for q2c's redirect URL. The three token fields:
    tokens obtained elsewhere for q2c's registered application."""

    code: str | None = Field(default=None, min_length=1, max_length=4096)
    access_token: str | None = Field(default=None, min_length=1, max_length=16384)
    refresh_token: str | None = Field(default=None, min_length=1, max_length=16384)
    expires_in: int | None = Field(default=None, gt=0, le=400 * 24 * 3600)

    @model_validator(mode="after")
    def _one_way(self) -> EfacturaConnectIn:
        tokens = (self.access_token, self.refresh_token, self.expires_in)
        given = [value is not None for value in tokens]
        if any(given) and not all(given):
            raise ValueError("access_token, refresh_token and expires_in go together")
        if self.code is not None and any(given):
            raise ValueError("give either code or the tokens, not both")
        return self


class EfacturaCheckOut(Answer):
    """A live request to ANAF (the company's message list of the last day)."""

    ok: bool
    message: str
    messages: int | None


class EfacturaStatusOut(Answer):
    # False when Q2C_EFACTURA_URL=off: nothing is submitted.
    enabled: bool
    base_url: str | None
    oauth_url: str
    connected: bool
    access_expires_at: IsoInstant | None
    connected_at: IsoInstant | None
    connected_by: str | None
    last_refresh_at: IsoInstant | None
    # None when there is nothing to check (not connected, or e-Factura off).
    check: EfacturaCheckOut | None


class EfacturaConnectOut(Answer):
    # Set when an authorization was started: open it in a browser holding the company's
    # qualified certificate; ANAF sends it back to q2c's callback.
    authorize_url: str | None
    authorize_expires_at: IsoInstant | None
    status: EfacturaStatusOut
