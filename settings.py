"""Settings, read once from the environment.

Every embedded part of the development stack is replaced by a real one by setting the
matching variable; unset variables fall back to the embedded defaults under `.q2c/`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

TASK_QUEUE = "q2c"
WEBHOOK_SOURCES = ("crm", "esign", "payments")


def state_dir() -> Path:
    return Path(os.environ.get("Q2C_HOME", ".q2c")).resolve()


def dev_api_key() -> str:
    """The API key of the embedded stack: made once, kept under `.q2c/` so the CLI finds it."""
    path = state_dir() / "api_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "q2c_dev_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    temporal_address: str
    temporal_namespace: str
    smtp_url: str
    public_url: str
    api_key: str
    api_url: str
    mail_from: str
    task_queue: str = TASK_QUEUE
    # Per webhook source ("crm", "esign", "payments"): the accepted secrets, newest first;
    # two at once while a secret is rotated.
    webhook_secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    invoice_link_days: int = 180

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        api_key = env.get("Q2C_API_KEY") or dev_api_key()
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            temporal_address=env.get("TEMPORAL_ADDRESS", "localhost:7233"),
            temporal_namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            smtp_url=env.get("SMTP_URL", "smtp://localhost:1025"),
            public_url=env.get("Q2C_PUBLIC_URL", "http://localhost:8000").rstrip("/"),
            api_key=api_key,
            api_url=env.get("Q2C_API_URL", "http://localhost:8000").rstrip("/"),
            mail_from=env.get("Q2C_MAIL_FROM", "q2c <invoices@q2c.localhost>"),
            webhook_secrets={
                source: tuple(
                    secret.strip()
                    for secret in env.get(f"Q2C_WEBHOOK_SECRET_{source.upper()}", "").split(",")
                    if secret.strip()
                )
                for source in WEBHOOK_SOURCES
            },
            invoice_link_days=int(env.get("Q2C_INVOICE_LINK_DAYS", "180")),
        )

    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the embedded pgserver's socket URL that `q2c dev` wrote down."""
        if self.database_url:
            return self.database_url
        marker = state_dir() / "database_url"
        if marker.exists():
            return marker.read_text().strip()
        raise RuntimeError(
            "DATABASE_URL is not set and no embedded PostgreSQL is running"
            " (start one with `make run`)"
        )
