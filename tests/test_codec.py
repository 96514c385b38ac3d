"""The payload codec: what Temporal stores is ciphertext when a key is configured, q2c's own
processes (and the Temporal UI, through /codec) read it back, keys rotate, and the saved
unencrypted histories still replay."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from messages.models import invoice_workflow_id, proposal_workflow_id
from settings import DEFAULT_TEMPORAL_UI_ORIGIN, Settings
from starter.api.app import create_app
from starter.devstack.mailsink import MailSink
from starter.devstack.stack import DevPorts, _TemporalDevServer
from temporal_connection import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    connect_arguments,
    data_converter,
)
from tests.conftest import (
    API_KEY,
    PUBLIC_URL,
    TEST_WORKFLOW_RUNNER,
    WEBHOOK_SECRETS,
    Stack,
    build_test_worker,
)
from tests.helpers import create_client, create_proposal, proposal_email, sign_and_get_invoice
from worker import WORKFLOWS, services_for

HISTORIES = Path(__file__).parent / "histories"
K1 = ("k1", os.urandom(32))
K2 = ("k2", os.urandom(32))
# Distinctive enough that finding them in a history's bytes can only mean a leak.
CLIENT_NAME = "Zamfirescu Cifrat SRL"
CLIENT_EMAIL = "zamfir.cifrat@exemplu.ro"
SIGNER = "Ioana Zamfirescu"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_the_payload() -> None:
    codec = EncryptionCodec([K1])
    original = plain(CLIENT_EMAIL)
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCRYPTED_ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert CLIENT_EMAIL.encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString(), "the inner metadata is sealed too"
    assert await codec.decode([sealed]) == [original]
    [again] = await codec.encode([original])
    assert again.data != sealed.data, "a fresh nonce each time"


async def test_a_payload_under_the_old_key_decodes_after_a_new_first_key() -> None:
    [old] = await EncryptionCodec([K1]).encode([plain("before the rotation")])
    rotated = EncryptionCodec([K2, K1])
    assert await rotated.decode([old]) == [plain("before the rotation")]
    [new] = await rotated.encode([plain("after")])
    assert new.metadata[KEY_ID_METADATA] == b"k2", "the first key encrypts"
    with pytest.raises(PayloadDecryptionError, match=r"'k1'.*Q2C_PAYLOAD_KEYS"):
        await EncryptionCodec([K2]).decode([old])


async def test_altered_ciphertext_or_key_id_is_refused() -> None:
    codec = EncryptionCodec([K1, ("k1b", K1[1])])
    [sealed] = await codec.encode([plain("amount 1200.00")])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))
    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([tampered])
    # The same key under another id: the id is authenticated, so this fails too.
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID_METADATA: b"k1b"}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError, match="altered"):
        await codec.decode([relabelled])


async def test_unencrypted_payloads_pass_through() -> None:
    assert await EncryptionCodec([K1]).decode([plain("old")]) == [plain("old")]


async def test_failure_messages_are_encrypted_too() -> None:
    """An activity's error may quote a client (an SMTP server refusing their address)."""
    converter = data_converter(_settings("unused", "unused", payload_keys=(K1,)))
    failure = Failure()
    refused = ApplicationError(f"550 mailbox {CLIENT_EMAIL} unavailable", type="SmtpRefused")
    await converter.encode_failure(refused, failure)
    assert CLIENT_EMAIL.encode() not in failure.SerializeToString()
    back = await converter.decode_failure(failure)
    assert isinstance(back, ApplicationError) and CLIENT_EMAIL in back.message


async def test_saved_unencrypted_histories_replay_with_the_codec() -> None:
    converter = data_converter(_settings("unused", "unused", payload_keys=(K1,)))
    replayer = Replayer(
        workflows=WORKFLOWS, workflow_runner=TEST_WORKFLOW_RUNNER, data_converter=converter
    )
    files = sorted(HISTORIES.glob("*.json"))
    assert files
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_the_dev_server_points_its_ui_at_the_codec(tmp_path: Path) -> None:
    settings = _settings("unused", "unused")
    command = _TemporalDevServer(
        tmp_path, settings, "http://localhost:8000/codec", DevPorts()
    ).command()
    at = command.index("--ui-codec-endpoint")
    assert command[at + 1] == "http://localhost:8000/codec"


def _settings(
    database_url: str, smtp_url: str, payload_keys: tuple[tuple[str, bytes], ...] = ()
) -> Settings:
    return Settings(
        database_url=database_url,
        temporal_address="unused",
        temporal_namespace="default",
        smtp_url=smtp_url,
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        task_queue=f"q2c-test-{uuid.uuid4()}",
        webhook_secrets=dict(WEBHOOK_SECRETS),
        payload_keys=payload_keys,
    )


@pytest.fixture
async def codec_stack(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> AsyncIterator[Stack]:
    """Worker and API whose Temporal client carries the codec, built from the settings as in
    production; `env.client` stays without it, as anyone reading Temporal directly."""
    settings = dataclasses.replace(
        _settings(database_url, f"smtp://127.0.0.1:{mail.port}", payload_keys=(K2, K1)),
        temporal_namespace=env.client.namespace,
    )
    arguments = connect_arguments(settings)
    client = Client(
        env.client.service_client,
        namespace=arguments.namespace,
        data_converter=arguments.data_converter,
    )
    async with services_for(settings) as services:
        async with build_test_worker(client, services, settings.task_queue):
            app = create_app(settings, pool=db, temporal=client)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url=PUBLIC_URL,
                    headers={"Authorization": f"Bearer {API_KEY}"},
                ) as api:
                    yield Stack(env, api, mail, db, settings, services, app)


# Not q2c's payloads: the SDK's own bookkeeping in markers (a patch's id; a local activity's
# id, attempt and times; its result is q2c's and is encrypted), and the search attributes,
# which the server indexes and so sees in clear (they carry no personal data).
SDK_MARKER_DETAILS = {"patch-data", "data"}


def _payloads(message: Message) -> Iterator[Payload]:
    """Every payload of q2c's inside a history event (inputs, results, signals, failures)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":
            continue
        if field.message_type.GetOptions().map_entry:
            marker = message.DESCRIPTOR.name == "MarkerRecordedEventAttributes"
            items = [v for k, v in value.items() if not (marker and k in SDK_MARKER_DETAILS)]
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


def _history_payloads(history: WorkflowHistory) -> list[Payload]:
    return [payload for event in history.events for payload in _payloads(event)]


async def test_temporal_stores_ciphertext_and_q2c_reads_it(codec_stack: Stack) -> None:
    stack = codec_stack
    client_id = await create_client(stack, name=CLIENT_NAME, email=CLIENT_EMAIL)
    proposal = await create_proposal(stack, client_id)
    _, sign_path = await proposal_email(stack, to=CLIENT_EMAIL)
    invoice_id = await sign_and_get_invoice(stack, sign_path, signer=SIGNER)

    # Read straight from Temporal, without the codec: only ciphertext.
    raw = stack.env.client
    for workflow_id in (proposal_workflow_id(proposal["id"]), invoice_workflow_id(invoice_id)):
        history = await raw.get_workflow_handle(workflow_id).fetch_history()
        payloads = _history_payloads(history)
        assert payloads, f"{workflow_id} has payloads"
        assert all(p.metadata["encoding"] == ENCRYPTED_ENCODING for p in payloads)
        for event in history.events:
            stored = event.SerializeToString()
            for secret in (SIGNER, CLIENT_NAME, CLIENT_EMAIL, "Consultan"):
                assert secret.encode() not in stored, f"{secret!r} in {workflow_id} in clear"

    # The signature went through the encrypted signal: the API (the codec's client) reads it.
    proposal_now = (await stack.api.get(f"/api/v1/proposals/{proposal['id']}")).json()
    assert proposal_now["status"] == "signed" and proposal_now["invoice_id"] == invoice_id

    # The Temporal UI's way: the codec endpoint decrypts for an operator.
    history = await raw.get_workflow_handle(proposal_workflow_id(proposal["id"])).fetch_history()
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in _history_payloads(history)
        ]
    }
    ui = {"Origin": DEFAULT_TEMPORAL_UI_ORIGIN, "X-Namespace": stack.settings.temporal_namespace}
    decoded = await stack.api.post("/codec/decode", json=body, headers=ui)
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == DEFAULT_TEMPORAL_UI_ORIGIN
    texts = [base64.b64decode(p["data"]) for p in decoded.json()["payloads"]]
    assert any(SIGNER.encode() in text for text in texts), "the sign signal, decrypted"
    encodings = {base64.b64decode(p["metadata"]["encoding"]) for p in decoded.json()["payloads"]}
    assert ENCRYPTED_ENCODING not in encodings

    # Encoding (what the UI does with an operator's signal input) round-trips.
    typed = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "InZvaWQi"}]}
    encoded = await stack.api.post("/codec/encode", json=typed, headers=ui)
    assert encoded.status_code == 200, encoded.text
    assert encoded.json()["payloads"][0]["data"] != "InZvaWQi"
    back = await stack.api.post("/codec/decode", json=encoded.json(), headers=ui)
    assert back.json() == typed

    # Without an operator's key: 401, readable by the UI (CORS headers on the refusal).
    anonymous = await stack.api.post(
        "/codec/decode", json=body, headers={**ui, "Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["access-control-allow-origin"] == DEFAULT_TEMPORAL_UI_ORIGIN
    wrong = await stack.api.post(
        "/codec/decode", json=body, headers={**ui, "Authorization": "Bearer not-the-key"}
    )
    assert wrong.status_code == 401
    # Another namespace is not this codec's.
    other = await stack.api.post("/codec/decode", json=body, headers={**ui, "X-Namespace": "x"})
    assert other.status_code == 400


async def test_the_browsers_preflight_is_answered_for_the_ui_origin_only(
    codec_stack: Stack,
) -> None:
    stack = codec_stack
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        "Authorization": "",
    }
    for path in ("/codec/decode", "/codec/encode"):
        ok = await stack.api.options(path, headers={**asked, "Origin": DEFAULT_TEMPORAL_UI_ORIGIN})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == DEFAULT_TEMPORAL_UI_ORIGIN
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        assert ok.headers["access-control-allow-credentials"] == "true"
        elsewhere = await stack.api.options(
            path, headers={**asked, "Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
        assert "access-control-allow-origin" not in elsewhere.headers


def test_every_process_connects_through_temporal_connection() -> None:
    """Worker, API, CLI and dev stack share one way in, so none of them forgets the TLS
    settings or the codec (a client without the codec would write payloads in clear)."""
    root = Path(__file__).resolve().parent.parent
    sources = [root / "worker.py", root / "settings.py"]
    for folder in ("domain", "messages", "db", "workflows", "activities", "starter"):
        sources.extend((root / folder).rglob("*.py"))
    direct = [
        str(path.relative_to(root))
        for path in sources
        if "Client.connect(" in path.read_text(encoding="utf-8")
    ]
    assert direct == []
