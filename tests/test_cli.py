"""The `q2c` command line without a server: argument parsing, what it sends, how it reports."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from starter.cli.demo import mail_to, sign_link
from starter.cli.main import main
from starter.cli.output import format_detail

API_URL = "http://q2c-cli.test"
API_KEY = "cli-test-key"
INVOICE_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A key in the environment, so nothing reads or writes a real `.q2c/`."""
    monkeypatch.setenv("Q2C_API_KEY", API_KEY)
    monkeypatch.setenv("Q2C_API_URL", API_URL)
    monkeypatch.setenv("Q2C_HOME", str(tmp_path / "state"))


class Recorder:
    """A fake API: answers every request with `answer` and keeps what it was sent."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def reply(status: int, body: Any) -> Handler:
    return lambda _: httpx.Response(status, json=body)


def invoice(**overrides: Any) -> dict[str, Any]:
    return {
        "id": INVOICE_ID,
        "number": "INV-2026-00042",
        "status": "partially_paid",
        "overdue": False,
        "currency": "RON",
        "total": "4477.00",
        "amount_paid": "1250.10",
        "amount_due": "3226.90",
        "due_date": "2026-12-07",
    } | overrides


# --- parsing ------------------------------------------------------------------------------


def test_pay_without_reference_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["invoices", "pay", INVOICE_ID, "1.5"])
    assert exited.value.code == 2
    assert "the following arguments are required: --reference" in capsys.readouterr().err


@pytest.mark.parametrize("amount", ["1,5", "abc", "0", "-3", "NaN", "Infinity"])
def test_pay_refuses_what_is_not_a_positive_decimal(
    amount: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["invoices", "pay", INVOICE_ID, amount, "--reference", "R1"])
    assert exited.value.code == 2
    assert "argument AMOUNT" in capsys.readouterr().err


def test_ids_are_checked_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["invoices", "approve", "not-an-id"])
    assert "not an ID" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["operators", "add", "alice"],
        ["operators", "add", "alice", "--role", "root"],
        ["operators", "revoke", "not-an-id"],
    ],
)
def test_operators_need_a_known_role_and_an_id(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "--role" in capsys.readouterr().err or argv[1] == "revoke"


# --- what goes over the wire --------------------------------------------------------------


def test_pay_sends_the_amount_as_the_string_given() -> None:
    api = Recorder(reply(201, invoice() | {"payment_recorded": True}))
    code = main(
        ["invoices", "pay", INVOICE_ID, "1250.10", "--reference", "BANK-1", "--date", "2026-11-20"],
        transport=api.transport,
    )
    assert code == 0
    [request] = api.requests
    assert request.method == "POST"
    assert request.url == f"{API_URL}/api/v1/invoices/{INVOICE_ID}/payments"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    # A float would arrive as 1250.1: the exact text proves no float was on the way.
    assert b'"amount":"1250.10"' in request.content.replace(b" ", b"")
    assert json.loads(request.content) == {
        "amount": "1250.10",
        "paid_at": "2026-11-20",
        "reference": "BANK-1",
    }


def test_create_sends_the_file_as_written(tmp_path: Path) -> None:
    # Odd spacing and a string amount: what reaches the API must be these very bytes.
    body = '{"client_id":  "' + INVOICE_ID + '", "lines": [{"unit_price": "250.00"}]}\n'
    path = tmp_path / "proposal.json"
    path.write_text(body)
    api = Recorder(reply(201, {"id": INVOICE_ID, "status": "sent"}))
    assert main(["proposals", "create", str(path)], transport=api.transport) == 0
    [request] = api.requests
    assert request.url.path == "/api/v1/proposals"
    assert request.content == body.encode()


def test_a_file_that_is_not_json_is_refused_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": ')
    api = Recorder(reply(201, {}))
    assert main(["clients", "create", str(path)], transport=api.transport) == 1
    assert api.requests == []
    assert f"error: {path} is not valid JSON" in capsys.readouterr().err


# --- reporting ----------------------------------------------------------------------------


def test_format_detail_names_each_field() -> None:
    detail = [
        {"type": "greater_than", "loc": ["body", "lines", 0, "quantity"], "msg": "too small"},
        {"type": "missing", "loc": ["body", "email"], "msg": "Field required"},
        {"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"},
        {"type": "uuid_parsing", "loc": ["query", "client_id"], "msg": "not a UUID"},
    ]
    assert format_detail(detail) == [
        "field lines.0.quantity: too small",
        "field email: Field required",
        "field body: JSON decode error",
        "field client_id: not a UUID",
    ]
    assert format_detail("invoice not found") == ["invoice not found"]


def test_a_refusal_prints_status_and_detail(capsys: pytest.CaptureFixture[str]) -> None:
    reason = "only an invoice awaiting review can be approved; this one is paid"
    api = Recorder(reply(409, {"detail": reason}))
    assert main(["invoices", "approve", INVOICE_ID], transport=api.transport) == 1
    assert capsys.readouterr().err == f"error: 409: {reason}\n"


def test_a_validation_error_names_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    detail = [
        {"loc": ["body", "lines", 1, "unit_price"], "msg": "Input should be a valid decimal"},
        {"loc": ["body", "currency"], "msg": "String should match pattern '^[A-Z]{3}$'"},
    ]
    api = Recorder(reply(422, {"detail": detail}))
    assert main(["proposals", "show", INVOICE_ID], transport=api.transport) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: 422: field lines.1.unit_price: Input should be a valid decimal",
        "error: 422: field currency: String should match pattern '^[A-Z]{3}$'",
    ]


def test_an_unreachable_api_exits_2_and_says_where(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("Q2C_API_URL", url)
    assert main(["invoices", "list"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the q2c API at {url}" in err
    assert "make run" in err


# --- output -------------------------------------------------------------------------------


def test_invoice_list_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    api = Recorder(reply(200, {"items": [invoice(), invoice(number=None, status="draft")]}))
    assert main(["invoices", "list", "--status", "sent"], transport=api.transport) == 0
    assert api.requests[0].url.params["status"] == "sent"
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == "ID NUMBER STATUS TOTAL AMOUNT DUE CURRENCY DUE DATE".split()
    assert first.split() == [
        INVOICE_ID,
        "INV-2026-00042",
        "partially_paid",
        "4477.00",
        "3226.90",
        "RON",
        "2026-12-07",
    ]
    assert second.split()[1:3] == ["-", "draft"]


@pytest.mark.parametrize(
    "argv",
    [["--json", "invoices", "list"], ["invoices", "list", "--json"]],
)
def test_json_prints_the_api_answer(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    body = {"items": [invoice()]}
    api = Recorder(reply(200, body))
    assert main(argv, transport=api.transport) == 0
    assert json.loads(capsys.readouterr().out) == body


# --- the demo's mailbox -------------------------------------------------------------------


def test_the_signing_link_is_found_in_the_clients_eml(tmp_path: Path) -> None:
    link = "http://localhost:8000/sign/AbC_12-xyz"
    for number, to in enumerate(["altcineva@exemplu.ro", "demo-1@exemplu.ro"]):
        message = EmailMessage()
        message["To"] = to
        message["Subject"] = "Ofertă"
        # Diacritics make the body quoted-printable or base64: the raw file has no plain link.
        message.set_content(f"Bună ziua, o puteți semna până la 31 decembrie:\n\n{link}{number}\n")
        (tmp_path / f"2026-{number}.eml").write_bytes(message.as_bytes())

    found = mail_to(tmp_path, "Demo-1@exemplu.ro")
    assert [path.name for path, _ in found] == ["2026-1.eml"]
    assert sign_link(found[0][1]) == f"{link}1"


def test_without_a_key_it_says_where_to_get_one_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No Q2C_API_KEY and no stack ever started under Q2C_HOME: reading settings makes no key.
    monkeypatch.delenv("Q2C_API_KEY")
    api = Recorder(reply(200, {"items": []}))
    assert main(["invoices", "list"], transport=api.transport) == 1
    assert api.requests == []
    assert "Q2C_API_KEY" in capsys.readouterr().err


def test_client_and_company_updates_patch_the_file_as_written(tmp_path: Path) -> None:
    body = '{"street": "Bd. Unirii 15",  "city": "Sector 3", "county": "RO-B"}\n'
    path = tmp_path / "address.json"
    path.write_text(body)
    api = Recorder(reply(200, {"id": INVOICE_ID, "city": "SECTOR3"}))
    assert main(["clients", "update", INVOICE_ID, str(path)], transport=api.transport) == 0
    assert main(["company", "update", str(path)], transport=api.transport) == 0
    assert main(["company", "show"], transport=api.transport) == 0
    patched_client, patched_company, shown = api.requests
    assert (patched_client.method, patched_client.url.path) == (
        "PATCH",
        f"/api/v1/clients/{INVOICE_ID}",
    )
    assert (patched_company.method, patched_company.url.path) == ("PATCH", "/api/v1/company")
    assert patched_client.content == body.encode() == patched_company.content
    assert (shown.method, shown.url.path) == ("GET", "/api/v1/company")
