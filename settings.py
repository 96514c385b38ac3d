"""Settings, read once from the environment, by `Settings.from_env()` and nowhere else.

Every embedded part of the development stack is replaced by a real one by setting the
matching variable; unset variables fall back to the embedded defaults under `.q2c/`.
Reading the settings has no side effect: the dev stack's API key is written by `q2c dev`
(starter/devstack/stack.py), never by whoever reads it.

Imported by the worker, the API, the CLI and the dev stack, and by activities; it imports
nothing of q2c's own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TASK_QUEUE = "q2c"
WEBHOOK_SOURCES = ("crm", "esign", "payments")
DEFAULT_STATE_DIR = ".q2c"
# The file under the state folder where `q2c dev` keeps its API key for the CLI to find.
API_KEY_FILE = "api_key"
# The file under the state folder where `q2c dev` writes its embedded PostgreSQL's URL.
DATABASE_URL_FILE = "database_url"


def _default_render_processes() -> int:
    return os.cpu_count() or 1


def _default_state_dir() -> Path:
    return Path(DEFAULT_STATE_DIR).resolve()


@dataclass(frozen=True)
class Settings:
    # repr=False on everything that holds a secret (URLs may carry a password), so a
    # logged or printed Settings never shows one.
    database_url: str = field(repr=False)
    temporal_address: str
    temporal_namespace: str
    smtp_url: str = field(repr=False)
    public_url: str
    api_key: str = field(repr=False)
    api_url: str
    mail_from: str
    task_queue: str = TASK_QUEUE
    # Per webhook source ("crm", "esign", "payments"): the accepted secrets, newest first;
    # two at once while a secret is rotated.
    webhook_secrets: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    invoice_link_days: int = 180
    # Days a signing link still shows its proposal after it was signed, declined or expired.
    sign_link_days_after_close: int = 30
    # Where the embedded stack keeps its state (Q2C_HOME), resolved against the working
    # directory when read, as the CLI run from elsewhere must not find another one.
    state_dir: Path = field(default_factory=_default_state_dir)
    # Where `q2c api` and `q2c dev` listen.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # The worker's PDF render processes; 0 renders on threads in the worker's own process.
    render_processes: int = field(default_factory=_default_render_processes)
    # The user's template folder (Q2C_TEMPLATES_DIR), searched before the built-in one.
    templates_dir: Path | None = None
    # Whether the environment names a Temporal server and an SMTP server: `q2c dev` starts
    # an embedded one for each it does not (the addresses above are then the defaults).
    temporal_given: bool = False
    smtp_given: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        state_dir = Path(env.get("Q2C_HOME", DEFAULT_STATE_DIR)).resolve()
        render_processes = env.get("Q2C_RENDER_PROCESSES", "").strip()
        templates_dir = env.get("Q2C_TEMPLATES_DIR")
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            temporal_address=env.get("TEMPORAL_ADDRESS") or "localhost:7233",
            temporal_namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            smtp_url=env.get("SMTP_URL") or "smtp://localhost:1025",
            public_url=env.get("Q2C_PUBLIC_URL", "http://localhost:8000").rstrip("/"),
            api_key=env.get("Q2C_API_KEY") or _saved_api_key(state_dir),
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
            sign_link_days_after_close=int(env.get("Q2C_SIGN_LINK_DAYS_AFTER_CLOSE", "30")),
            state_dir=state_dir,
            api_host=env.get("Q2C_API_HOST", "127.0.0.1"),
            api_port=int(env.get("Q2C_API_PORT", "8000")),
            render_processes=int(render_processes)
            if render_processes
            else _default_render_processes(),
            templates_dir=Path(templates_dir) if templates_dir else None,
            temporal_given=bool(env.get("TEMPORAL_ADDRESS")),
            smtp_given=bool(env.get("SMTP_URL")),
        )

    @property
    def api_key_file(self) -> Path:
        """Where `q2c dev` keeps the embedded stack's API key (read when Q2C_API_KEY is unset)."""
        return self.state_dir / API_KEY_FILE

    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the embedded pgserver's socket URL that `q2c dev` wrote down."""
        if self.database_url:
            return self.database_url
        marker = self.state_dir / DATABASE_URL_FILE
        if marker.exists():
            return marker.read_text().strip()
        raise RuntimeError(
            "DATABASE_URL is not set and no embedded PostgreSQL is running"
            " (start one with `make run`)"
        )


def _saved_api_key(state_dir: Path) -> str:
    """The key `q2c dev` saved under the state folder, or "" when it has made none."""
    path = state_dir / API_KEY_FILE
    return path.read_text().strip() if path.is_file() else ""
