"""Settings: read from the environment in one place, with no side effect, and no secret in
their repr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from settings import WEBHOOK_SOURCES, Settings
from starter.devstack.stack import save_dev_api_key

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
    *(f"Q2C_WEBHOOK_SECRET_{source.upper()}" for source in WEBHOOK_SOURCES),
)


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
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    shown = repr(Settings.from_env())
    for name, value in secrets.items():
        assert value.split("@")[0] not in shown, f"{name} shows in repr(Settings)"
    assert "temporal_address='localhost:7233'" in shown, "the rest is still shown"
