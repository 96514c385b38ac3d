"""The one client of the q2c HTTP API: `Api` and the errors it raises.

Every operator command and the demo reach q2c through `Api`; a test hands it an httpx
transport in place of the network.
"""

from __future__ import annotations

from typing import Any

import httpx


class CliError(Exception):
    """Something to tell the operator, then exit 1 (bad input, a timeout, a refused step)."""


class ApiError(Exception):
    """The API answered 4xx/5xx; `detail` is its `detail` (a string or pydantic's list)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Unreachable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


def _detail_of(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    text = response.text.strip()
    if text and response.headers.get("content-type", "").startswith("text/plain"):
        return text[:500]
    return response.reason_phrase or "request failed"


def _transport_reason(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect ({error})" if str(error) else "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return f"{type(error).__name__}: {error}"


class Api:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "q2c-cli"},
            timeout=timeout,
            transport=transport,
        )
        # For the public signing page: a client's browser, so no API key goes with it.
        self._public = httpx.Client(
            timeout=timeout, transport=transport, headers={"User-Agent": "q2c-cli demo"}
        )

    def close(self) -> None:
        self._http.close()
        self._public.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise Unreachable(self.base_url, _transport_reason(error)) from error
        if response.is_error:
            raise ApiError(response.status_code, _detail_of(response))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs).json()
        if not isinstance(body, dict):
            raise CliError(f"unexpected answer from {method} {path}: {body!r}")
        return body

    def get(self, path: str) -> dict[str, Any]:
        return self.json("GET", path)

    def post_form(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            return self._public.post(url, data=form)
        except httpx.TransportError as error:
            raise Unreachable(url, _transport_reason(error)) from error

    def post_json_text(self, path: str, body: str) -> dict[str, Any]:
        """POST a JSON body as written (so amounts given as strings stay exact)."""
        return self.json(
            "POST", path, content=body.encode(), headers={"Content-Type": "application/json"}
        )
