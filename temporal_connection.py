"""How every q2c process reaches Temporal: the one place that turns the settings into
`Client.connect`'s arguments (TLS, mTLS or Temporal Cloud's API key, and the data converter
with the payload codec), and the codec itself.

The codec encrypts each payload (workflow and activity inputs and results, signals,
queries, updates, memos, failures' messages) with AES-256-GCM before it leaves the process;
Temporal and anyone reading its database see only ciphertext and the id of the key.
Search attributes are not payloads the codec sees: they must never carry personal data
(messages/search_attributes.py).

Imported by the worker, the API, the CLI and the dev stack; it imports only `settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)
from temporalio.service import TLSConfig

from settings import Settings

# The marker of an encrypted payload; a payload without it (one written before a key was
# configured, such as the saved histories in tests/histories/) passes through unchanged.
ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload this process cannot decrypt: unknown key id, or altered ciphertext."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each serialized payload; the first key encrypts, every key decrypts,
    so a new key goes first and the old ones stay until no open workflow needs them."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self._encrypting_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypting_id
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload relabelled with another id fails.
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which is not among this "
                f"process's payload keys ({', '.join(self._ciphers)}): add it to "
                "Q2C_PAYLOAD_KEYS"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload under key id {key_id!r} failed authentication: it was altered"
            ) from None
        return Payload.FromString(plain)


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    return EncryptionCodec(settings.payload_keys) if settings.payload_keys else None


def data_converter(settings: Settings) -> DataConverter:
    """The default converter, plus the codec when a payload key is configured. Failures'
    messages and stack traces go into an encoded payload as well (they may quote a client's
    address, e.g. an SMTP refusal)."""
    codec = payload_codec(settings)
    if codec is None:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


class TemporalConfigError(RuntimeError):
    """The Temporal connection settings cannot be used (e.g. a certificate file is missing)."""


@dataclass(frozen=True)
class ConnectArguments:
    """What `Client.connect` gets, built from the settings by `connect_arguments`."""

    target_host: str
    namespace: str
    tls: TLSConfig | bool
    api_key: str | None = dataclasses.field(repr=False)
    data_converter: DataConverter = dataclasses.field(repr=False)

    async def connect(self) -> Client:
        return await Client.connect(
            self.target_host,
            namespace=self.namespace,
            tls=self.tls,
            api_key=self.api_key,
            data_converter=self.data_converter,
        )


def _read_pem(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise TemporalConfigError(f"{variable}: cannot read {path}: {err.strerror}") from None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """False for plain TCP; True for TLS with the system's roots; a TLSConfig for mTLS, a
    private CA or another server name."""
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if (cert is None) != (key is None):
        raise TemporalConfigError(
            "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: mTLS needs both"
        )
    configured = cert is not None or ca is not None or bool(settings.temporal_tls_server_name)
    if settings.temporal_tls is False:
        if configured:
            raise TemporalConfigError("TEMPORAL_TLS=0, yet TLS certificates are configured")
        return False
    if not configured:
        # Temporal Cloud takes an API key only over TLS.
        return bool(settings.temporal_tls) or bool(settings.temporal_api_key)
    return TLSConfig(
        server_root_ca_cert=_read_pem("TEMPORAL_TLS_CA", ca) if ca is not None else None,
        client_cert=_read_pem("TEMPORAL_TLS_CERT", cert) if cert is not None else None,
        client_private_key=_read_pem("TEMPORAL_TLS_KEY", key) if key is not None else None,
        domain=settings.temporal_tls_server_name or None,
    )


def connect_arguments(settings: Settings, target_host: str | None = None) -> ConnectArguments:
    """The one place that decides how q2c connects to Temporal; `target_host` overrides the
    address (the dev stack's own server)."""
    return ConnectArguments(
        target_host=target_host or settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key or None,
        data_converter=data_converter(settings),
    )


async def connect(settings: Settings) -> Client:
    return await connect_arguments(settings).connect()
