"""Settings: read from the environment in one place, with no side effect, and no secret in
their repr."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from settings import WEBHOOK_SOURCES, Settings
from starter.devstack.stack import save_dev_api_key, save_dev_payload_key
from temporal_connection import (
    EncryptionCodec,
    TemporalConfigError,
    connect_arguments,
    data_converter,
)

SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "SMTP_URL",
    "Q2C_PUBLIC_URL",
    "Q2C_API_KEY",
    "Q2C_API_URL",
    "Q2C_MAIL_FROM",
    "Q2C_INVOICE_LINK_DAYS",
    "Q2C_HOME",
    "Q2C_API_HOST",
    "Q2C_API_PORT",
    "Q2C_RENDER_PROCESSES",
    "Q2C_TEMPLATES_DIR",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CERT",
    "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA",
    "TEMPORAL_TLS_SERVER_NAME",
    "Q2C_PAYLOAD_KEYS",
    "Q2C_CODEC_CORS_ORIGINS",
    *(f"Q2C_WEBHOOK_SECRET_{source.upper()}" for source in WEBHOOK_SOURCES),
)
# 32 bytes, base64: a valid AES-256 payload key.
KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
OLD_KEY = bytes(range(32, 64))
OLD_KEY_B64 = base64.b64encode(OLD_KEY).decode()


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No q2c variable set, run from an empty folder (so `.q2c` is tmp_path/.q2c)."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_reading_settings_writes_no_file(bare_env: Path) -> None:
    settings = Settings.from_env()
    assert settings.api_key == ""
    assert list(bare_env.iterdir()) == [], "from_env must not write .q2c/api_key"


def test_the_defaults(bare_env: Path) -> None:
    settings = Settings.from_env()
    assert settings.database_url == ""
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.smtp_url == "smtp://localhost:1025"
    assert settings.public_url == "http://localhost:8000"
    assert settings.api_url == "http://localhost:8000"
    assert settings.mail_from == "q2c <invoices@q2c.localhost>"
    assert settings.task_queue == "q2c"
    assert settings.webhook_secrets == {source: () for source in WEBHOOK_SOURCES}
    assert settings.invoice_link_days == 180
    assert settings.state_dir == bare_env / ".q2c"
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 8000)
    assert settings.render_processes == (os.cpu_count() or 1)
    assert settings.templates_dir is None
    assert not settings.temporal_given and not settings.smtp_given


def test_every_variable_is_read(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "DATABASE_URL": "postgresql://q2c:pw@db:5432/q2c",
        "TEMPORAL_ADDRESS": "temporal:7233",
        "TEMPORAL_NAMESPACE": "billing",
        "SMTP_URL": "smtp://relay:25",
        "Q2C_PUBLIC_URL": "https://q2c.example/",
        "Q2C_API_KEY": "key-from-env",
        "Q2C_API_URL": "https://api.q2c.example/",
        "Q2C_MAIL_FROM": "Billing <billing@q2c.example>",
        "Q2C_INVOICE_LINK_DAYS": "30",
        "Q2C_HOME": str(bare_env / "state"),
        "Q2C_API_HOST": "0.0.0.0",
        "Q2C_API_PORT": "9000",
        "Q2C_RENDER_PROCESSES": " 3 ",
        "Q2C_TEMPLATES_DIR": str(bare_env / "mine"),
        "Q2C_WEBHOOK_SECRET_PAYMENTS": "whsec_new, whsec_old,",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.database_url == values["DATABASE_URL"]
    assert settings.temporal_address == "temporal:7233" and settings.temporal_given
    assert settings.temporal_namespace == "billing"
    assert settings.smtp_url == "smtp://relay:25" and settings.smtp_given
    assert settings.public_url == "https://q2c.example"
    assert settings.api_key == "key-from-env"
    assert settings.api_url == "https://api.q2c.example"
    assert settings.mail_from == values["Q2C_MAIL_FROM"]
    assert settings.invoice_link_days == 30
    assert settings.state_dir == bare_env / "state"
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 9000)
    assert settings.render_processes == 3
    assert settings.templates_dir == bare_env / "mine"
    assert settings.webhook_secrets["payments"] == ("whsec_new", "whsec_old")
    assert settings.webhook_secrets["crm"] == ()
    assert list(bare_env.iterdir()) == []


def test_the_dev_stacks_saved_key_is_read_when_no_key_is_set(bare_env: Path) -> None:
    settings = Settings.from_env()
    key = save_dev_api_key(settings.api_key_file)
    assert key.startswith("q2c_dev_")
    assert settings.api_key_file.stat().st_mode & 0o077 == 0, "the key file is private"
    assert save_dev_api_key(settings.api_key_file) == key, "made once, then kept"
    assert Settings.from_env().api_key == key


def test_the_environments_key_wins_over_the_saved_one(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_dev_api_key(Settings.from_env().api_key_file)
    monkeypatch.setenv("Q2C_API_KEY", "key-from-env")
    assert Settings.from_env().api_key == "key-from-env"


def test_the_repr_hides_secrets(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "Q2C_API_KEY": "secret-api-key",
        "Q2C_WEBHOOK_SECRET_CRM": "secret-crm",
        "Q2C_WEBHOOK_SECRET_ESIGN": "secret-esign",
        "Q2C_WEBHOOK_SECRET_PAYMENTS": "secret-payments",
        "DATABASE_URL": "postgresql://q2c:secret-db-password@db/q2c",
        "SMTP_URL": "smtp://user:secret-smtp-password@relay:587",
        "TEMPORAL_API_KEY": "secret-temporal-cloud-key",
        "Q2C_PAYLOAD_KEYS": f"k1:{KEY_B64}",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    shown = repr(Settings.from_env())
    for name, value in secrets.items():
        assert value.split("@")[0] not in shown, f"{name} shows in repr(Settings)"
    assert "temporal_address='localhost:7233'" in shown, "the rest is still shown"
    assert repr(KEY) not in shown and "k1" not in shown, "payload keys stay out of repr"


def test_temporal_connects_in_clear_without_a_key_by_default(bare_env: Path) -> None:
    arguments = connect_arguments(Settings.from_env())
    assert (arguments.target_host, arguments.namespace) == ("localhost:7233", "default")
    assert arguments.tls is False and arguments.api_key is None
    assert arguments.data_converter.payload_codec is None
    assert list(bare_env.iterdir()) == []


def test_temporal_clouds_api_key_goes_over_tls(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "q2c.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "q2c.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "cloud-key")
    arguments = connect_arguments(Settings.from_env())
    assert arguments.target_host == "q2c.a1b2c.tmprl.cloud:7233"
    assert arguments.namespace == "q2c.a1b2c"
    assert arguments.api_key == "cloud-key" and arguments.tls is True
    assert "cloud-key" not in repr(arguments)
    monkeypatch.setenv("TEMPORAL_TLS", "0")  # a local server taking keys without TLS
    assert connect_arguments(Settings.from_env()).tls is False


def test_plain_tls_on_request(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "1")
    assert connect_arguments(Settings.from_env()).tls is True
    monkeypatch.setenv("TEMPORAL_TLS", "maybe")
    with pytest.raises(ValueError, match="TEMPORAL_TLS"):
        Settings.from_env()


def test_mtls_reads_the_certificate_files(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "TEMPORAL_TLS_CERT": b"CERT PEM",
        "TEMPORAL_TLS_KEY": b"KEY PEM",
        "TEMPORAL_TLS_CA": b"CA",
    }
    for name, content in files.items():
        (bare_env / name).write_bytes(content)
        monkeypatch.setenv(name, str(bare_env / name))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    tls = connect_arguments(Settings.from_env()).tls
    assert not isinstance(tls, bool)
    assert tls.client_cert == b"CERT PEM" and tls.client_private_key == b"KEY PEM"
    assert tls.server_root_ca_cert == b"CA" and tls.domain == "temporal.internal"


def test_a_missing_certificate_file_is_named(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bare_env / "key.pem").write_bytes(b"KEY PEM")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(bare_env / "nowhere.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(bare_env / "key.pem"))
    settings = Settings.from_env()  # reading settings touches no file
    with pytest.raises(TemporalConfigError, match=r"TEMPORAL_TLS_CERT: cannot read .*nowhere"):
        connect_arguments(settings)
    monkeypatch.delenv("TEMPORAL_TLS_KEY")
    with pytest.raises(TemporalConfigError, match="go together"):
        connect_arguments(Settings.from_env())


def test_payload_keys_the_first_encrypts(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q2C_PAYLOAD_KEYS", f" k2:{KEY_B64} , k1:{OLD_KEY_B64} ")
    settings = Settings.from_env()
    assert settings.payload_keys == (("k2", KEY), ("k1", OLD_KEY))
    codec = data_converter(settings).payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert connect_arguments(settings).data_converter.payload_codec is not None


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("k1", "id:base64-key"),
        (f"k 1:{KEY_B64}", "id:base64-key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "5 bytes"),
        (f"k1:{KEY_B64},k1:{OLD_KEY_B64}", "twice"),
        (" , ", "no key"),
    ],
)
def test_malformed_payload_keys_are_refused_at_start(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
) -> None:
    monkeypatch.setenv("Q2C_PAYLOAD_KEYS", value)
    with pytest.raises(ValueError, match=complaint) as refused:
        Settings.from_env()
    assert KEY_B64 not in str(refused.value), "the error never quotes a key"


def test_the_dev_stacks_payload_key_is_read_when_none_is_set(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env()
    assert settings.payload_keys == ()
    saved = save_dev_payload_key(settings.payload_key_file)
    assert settings.payload_key_file.stat().st_mode & 0o077 == 0, "the key file is private"
    assert save_dev_payload_key(settings.payload_key_file) == saved, "made once, then kept"
    [(key_id, key)] = Settings.from_env().payload_keys
    assert saved == f"{key_id}:{base64.b64encode(key).decode()}" and len(key) == 32
    monkeypatch.setenv("Q2C_PAYLOAD_KEYS", f"prod:{KEY_B64}")
    assert Settings.from_env().payload_keys == (("prod", KEY),), "the environment wins"


def test_the_codecs_browser_origins(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().codec_cors_origins == (
        "http://localhost:8233",
        "http://127.0.0.1:8233",
    )
    monkeypatch.setenv("Q2C_CODEC_CORS_ORIGINS", "https://temporal.example/, https://ui.example")
    assert Settings.from_env().codec_cors_origins == (
        "https://temporal.example",
        "https://ui.example",
    )
