"""Settings, read once from the environment, by `Settings.from_env()` and nowhere else.

Every embedded part of the development stack is replaced by a real one by setting the
matching variable; unset variables fall back to the embedded defaults under `.q2c/`.
Reading the settings has no side effect: the dev stack's API key and payload key are written
by `q2c dev` (starter/devstack/stack.py), never by whoever reads them.

Imported by the worker, the API, the CLI and the dev stack, and by activities; of q2c's
own it imports only domain rules, to refuse a malformed list of networks at start.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from domain.client_ip import trusted_networks
from domain.webhook_targets import allow_list

TASK_QUEUE = "q2c"
WEBHOOK_SOURCES = ("crm", "esign", "payments")
DEFAULT_STATE_DIR = ".q2c"
# The file under the state folder where `q2c dev` keeps its API key for the CLI to find.
API_KEY_FILE = "api_key"
# The file under the state folder where `q2c dev` writes its embedded PostgreSQL's URL.
DATABASE_URL_FILE = "database_url"
# The file under the state folder where `q2c dev` keeps its payload key ("id:base64").
PAYLOAD_KEY_FILE = "payload_key"
# AES-256-GCM: every payload key is 32 bytes.
PAYLOAD_KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Where the embedded dev server's Temporal UI runs: the codec endpoint answers its
# cross-origin requests.
DEFAULT_TEMPORAL_UI_ORIGIN = "http://localhost:8233"
DEFAULT_CODEC_CORS_ORIGINS = f"{DEFAULT_TEMPORAL_UI_ORIGIN},http://127.0.0.1:8233"
# ANAF's e-Factura REST API (production and test) and its OAuth2 server.
ANAF_PRODUCTION_URL = "https://api.anaf.ro/prod/FCTEL/rest"
ANAF_TEST_URL = "https://api.anaf.ro/test/FCTEL/rest"
ANAF_OAUTH_URL = "https://logincert.anaf.ro/anaf-oauth2/v1"
EFACTURA_CALLBACK_PATH = "/api/v1/efactura/oauth/callback"


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
    # Temporal Cloud's API key (TEMPORAL_API_KEY); sent over TLS.
    temporal_api_key: str = field(default="", repr=False)
    # TEMPORAL_TLS: "1" TLS with the system's roots, "0" never (even with an API key); None
    # when unset, TLS then follows from an API key or a certificate being given.
    temporal_tls: bool | None = None
    # mTLS: PEM files, read when connecting (a missing one is named then).
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_tls_server_name: str = ""
    # (key id, 32-byte AES key), the first encrypts, all decrypt (Q2C_PAYLOAD_KEYS, else the
    # one `q2c dev` saved): empty sends payloads to Temporal in clear.
    payload_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # The browser origins (the Temporal UI) allowed to call /codec/encode and /codec/decode.
    codec_cors_origins: tuple[str, ...] = tuple(DEFAULT_CODEC_CORS_ORIGINS.split(","))
    # The schema owner's URL for `q2c migrate` (MIGRATION_DATABASE_URL); "" migrates as
    # DATABASE_URL. The API and the worker never use it.
    migration_database_url: str = field(default="", repr=False)
    # Outbound webhooks go only to public addresses; these hosts, addresses or CIDR
    # networks (Q2C_WEBHOOK_ALLOW_HOSTS, comma-separated) are allowed too.
    webhook_allow_hosts: tuple[str, ...] = ()
    # The reverse proxies (Q2C_TRUSTED_PROXIES, CIDRs) whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()
    # Per client IP, in `limits` notation ("60/minute"; "" for none): the client's pages
    # (/sign, /i) and the inbound webhooks.
    rate_limit_pages: str = "60/minute"
    rate_limit_webhooks: str = "600/minute"
    # e-Factura (issue 14): the SPV REST base (Q2C_EFACTURA_URL: ANAF production when unset,
    # ANAF_TEST_URL, or a stand-in's; None when set to "off": nothing is submitted) and the
    # OAuth2 server that issues its tokens. None here: Settings built in code (tests, tools)
    # submit nowhere unless told; from_env() gives production.
    efactura_url: str | None = None
    efactura_oauth_url: str = ANAF_OAUTH_URL
    # The company's application registered at ANAF (its OAuth2 client) and where ANAF sends
    # the browser back with the code ("" derives it from public_url: oauth_redirect_url()).
    anaf_client_id: str = ""
    anaf_client_secret: str = field(default="", repr=False)
    anaf_redirect_url: str = ""
    # Whether Q2C_EFACTURA_URL was given: `q2c dev` starts its SPV stand-in when it was not.
    efactura_given: bool = False
    # The dev stack's SPV stand-in: how many status polls answer "in prelucrare" before the
    # outcome (Q2C_SPV_PROCESSING_POLLS).
    spv_processing_polls: int = 0
    # Where the worker and the API serve their Prometheus metrics (Q2C_METRICS_PORT, on
    # Q2C_API_HOST's interface); None: not served. `q2c dev` makes it 9464.
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        # A typo in a list of networks fails at start, not at a request or a delivery.
        allow_list(self.webhook_allow_hosts)
        trusted_networks(self.trusted_proxies)

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
            temporal_api_key=env.get("TEMPORAL_API_KEY", "").strip(),
            temporal_tls=_flag("TEMPORAL_TLS", env.get("TEMPORAL_TLS", "")),
            temporal_tls_cert=_path(env.get("TEMPORAL_TLS_CERT", "")),
            temporal_tls_key=_path(env.get("TEMPORAL_TLS_KEY", "")),
            temporal_tls_ca=_path(env.get("TEMPORAL_TLS_CA", "")),
            temporal_tls_server_name=env.get("TEMPORAL_TLS_SERVER_NAME", "").strip(),
            payload_keys=parse_payload_keys(env["Q2C_PAYLOAD_KEYS"])
            if env.get("Q2C_PAYLOAD_KEYS", "").strip()
            else _saved_payload_keys(state_dir),
            codec_cors_origins=_origins(
                env.get("Q2C_CODEC_CORS_ORIGINS", DEFAULT_CODEC_CORS_ORIGINS)
            ),
            migration_database_url=env.get("MIGRATION_DATABASE_URL", ""),
            webhook_allow_hosts=_listed(env.get("Q2C_WEBHOOK_ALLOW_HOSTS", "")),
            trusted_proxies=_listed(env.get("Q2C_TRUSTED_PROXIES", "")),
            rate_limit_pages=env.get("Q2C_RATE_LIMIT_PAGES", "60/minute").strip(),
            rate_limit_webhooks=env.get("Q2C_RATE_LIMIT_WEBHOOKS", "600/minute").strip(),
            efactura_url=_efactura_url(env.get("Q2C_EFACTURA_URL", "")),
            efactura_oauth_url=(
                env.get("Q2C_EFACTURA_OAUTH_URL", "").strip() or ANAF_OAUTH_URL
            ).rstrip("/"),
            anaf_client_id=env.get("Q2C_ANAF_CLIENT_ID", "").strip(),
            anaf_client_secret=env.get("Q2C_ANAF_CLIENT_SECRET", "").strip(),
            anaf_redirect_url=env.get("Q2C_ANAF_REDIRECT_URL", "").strip(),
            efactura_given=bool(env.get("Q2C_EFACTURA_URL", "").strip()),
            spv_processing_polls=int(env.get("Q2C_SPV_PROCESSING_POLLS", "0")),
            metrics_port=int(env["Q2C_METRICS_PORT"])
            if env.get("Q2C_METRICS_PORT", "").strip()
            else None,
        )

    def oauth_redirect_url(self) -> str:
        """Where ANAF's authorize step sends the browser back (registered with the app at
        ANAF): Q2C_ANAF_REDIRECT_URL, else the API's own callback under Q2C_PUBLIC_URL."""
        return self.anaf_redirect_url or f"{self.public_url}{EFACTURA_CALLBACK_PATH}"

    @property
    def api_key_file(self) -> Path:
        """Where `q2c dev` keeps the embedded stack's API key (read when Q2C_API_KEY is unset)."""
        return self.state_dir / API_KEY_FILE

    @property
    def payload_key_file(self) -> Path:
        """Where `q2c dev` keeps the embedded stack's payload key (read when Q2C_PAYLOAD_KEYS
        is unset)."""
        return self.state_dir / PAYLOAD_KEY_FILE

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


def _efactura_url(value: str) -> str | None:
    """Q2C_EFACTURA_URL: unset is ANAF production, "off" is None (no submission), "test"
    and "production" name ANAF's two environments, anything else is a base URL."""
    value = value.strip()
    named = {"": ANAF_PRODUCTION_URL, "production": ANAF_PRODUCTION_URL, "test": ANAF_TEST_URL}
    if value.lower() == "off":
        return None
    if value.lower() in named:
        return named[value.lower()]
    if not value.startswith(("https://", "http://")):
        raise ValueError("Q2C_EFACTURA_URL: expected off, test, production or an http(s) URL")
    return value.rstrip("/")


def _listed(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _saved_api_key(state_dir: Path) -> str:
    """The key `q2c dev` saved under the state folder, or "" when it has made none."""
    path = state_dir / API_KEY_FILE
    return path.read_text().strip() if path.is_file() else ""


def _saved_payload_keys(state_dir: Path) -> tuple[tuple[str, bytes], ...]:
    """The payload key `q2c dev` saved under the state folder, or none."""
    path = state_dir / PAYLOAD_KEY_FILE
    if not path.is_file():
        return ()
    return parse_payload_keys(path.read_text(), source=str(path))


def parse_payload_keys(
    text: str, source: str = "Q2C_PAYLOAD_KEYS"
) -> tuple[tuple[str, bytes], ...]:
    """`"k2:<base64 of 32 bytes>,k1:<base64>"` as ((id, key), ...), newest first. Anything
    malformed is refused here, when a process starts, not at its first payload."""
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"{source}: entry {number} is not `id:base64-key` with an id of letters, "
                "digits, '.', '_' or '-'"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{source}: key {key_id!r} is not valid base64") from None
        if len(key) != PAYLOAD_KEY_BYTES:
            raise ValueError(
                f"{source}: key {key_id!r} is {len(key)} bytes; AES-256 needs "
                f"{PAYLOAD_KEY_BYTES} (e.g. `openssl rand -base64 32`)"
            )
        if any(key_id == known for known, _ in keys):
            raise ValueError(f"{source}: key id {key_id!r} is given twice")
        keys.append((key_id, key))
    if not keys:
        raise ValueError(f"{source}: no key in it")
    return tuple(keys)


def _flag(name: str, value: str) -> bool | None:
    value = value.strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: expected 1 or 0, got {value!r}")


def _origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


def _path(value: str) -> Path | None:
    return Path(value.strip()).expanduser() if value.strip() else None
