"""The `Q2C-Signature` scheme, both ways: inbound webhooks are verified with it and
outbound events are signed with it.

`Q2C-Signature: t=<unix seconds>,v1=<hex>`, where the hex is HMAC-SHA256, keyed by the
secret, over the bytes `"{t}.{raw body}"`. Pure: no I/O and no clock; callers pass the
current time (unix seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

SIGNATURE_HEADER = "Q2C-Signature"
TOLERANCE_SECONDS = 300

REFUSALS = {
    "no_secret_configured": "webhooks from this source are not enabled",
    "missing_signature": f"the {SIGNATURE_HEADER} header is missing",
    "malformed_signature": f"the {SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex>",
    "bad_signature": "the signature does not match",
    "stale_timestamp": f"the signature's timestamp is more than {TOLERANCE_SECONDS} s away "
    "from the server's clock",
}


class SignatureRefused(Exception):
    """Why a request is not authentic; `reason` is what webhook_rejections records."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSALS[reason])
        self.reason = reason


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The v1 signature: hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed by the secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, now: float) -> str:
    """The `Q2C-Signature` value for `body` signed at `now` (unix seconds)."""
    t = str(int(now))
    return f"t={t},v1={signature(secret, t, body)}"


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> int:
    """Check a `Q2C-Signature` header received at `now` (unix seconds); the index of the
    secret that signed it, or a refusal.

    Several `v1=` entries are allowed (a sender signing with two secrets while rotating);
    one matching any configured secret is enough. Keys other than `t` and `v1` are ignored.
    The signature is checked before the timestamp, so "stale" is only ever said of an
    authentic, old request: a replay.
    """
    if not secrets:
        raise SignatureRefused("no_secret_configured")
    if not header:
        raise SignatureRefused("missing_signature")
    timestamp = ""
    candidates: list[bytes] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value.strip()
        elif key == "v1":
            candidates.append(value.strip().lower().encode())
    if not _TIMESTAMP.fullmatch(timestamp) or not candidates:
        raise SignatureRefused("malformed_signature")
    matched = None
    for index, secret in enumerate(secrets):
        expected = signature(secret, timestamp, body).encode()
        for candidate in candidates:
            # Every pair is compared, in constant time, whatever matched before.
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = index
    if matched is None:
        raise SignatureRefused("bad_signature")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise SignatureRefused("stale_timestamp")
    return matched
