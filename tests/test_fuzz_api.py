"""Every operation of the OpenAPI document fuzzed with schemathesis (issue 13, point 6):
inputs made from the document, valid ones and broken ones, sent with the operator's key to
the API on a real database and a real Temporal test server; webhooks are signed with their
source's secret so the fuzz reaches past the signature check. No answer may be a 5xx, and
every answer must have a status the document declares for the operation or a generic
refusal (below), with a body its schema describes.

The run is bounded (FUZZ_EXAMPLES per operation and mode) and derandomized, so it takes a
few minutes and fails the same way on every machine; Q2C_FUZZ_EXAMPLES raises it locally.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openpyxl import load_workbook
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import Stack
from tests.helpers import CLIENT, create_client
from tests.test_webhooks import signed

AnyCase = Case[Any]
AnyOperation = APIOperation[Any, Any, Any, Any]
# Examples per operation and mode: up to 40 requests for each of the API's ~65 operations,
# within CI's budget (50 took four minutes on 2 cores); Q2C_FUZZ_EXAMPLES=200 for a deep run.
FUZZ_EXAMPLES = int(os.environ.get("Q2C_FUZZ_EXAMPLES", "20"))
WEBHOOK_SOURCES = {
    "/webhooks/crm/proposals": "crm",
    "/webhooks/esign": "esign",
    "/webhooks/payments": "payments",
}
# Answers the document does not list per operation, each a refusal with a `detail` string:
# unknown ids, a move the state machine refuses, a bad webhook signature, a body too large.
GENERIC_REFUSALS = {400, 401, 404, 409, 413, 429}


@dataclass(frozen=True)
class Finding:
    operation: str
    mode: str
    status: int
    problem: str
    request: str


def _as_httpx(case: AnyCase) -> dict[str, Any]:
    """The request schemathesis made, as keyword arguments of httpx's `request`."""
    sent = case.as_transport_kwargs(base_url="http://q2c.test")
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": {name: str(value) for name, value in (sent.get("headers") or {}).items()},
        "params": sent.get("params"),
    }
    if "json" in sent:
        request["content"] = json.dumps(sent["json"]).encode()
        request["headers"].setdefault("Content-Type", "application/json")
    elif sent.get("data") is not None:
        data = sent["data"]
        request["content"] = data if isinstance(data, bytes) else str(data).encode()
    source = WEBHOOK_SOURCES.get(case.operation.path)
    if source is not None:
        body = request.get("content", b"")
        request["headers"] |= signed(source, body)
        if "Content-Type" in (sent.get("headers") or {}):
            request["headers"]["Content-Type"] = sent["headers"]["Content-Type"]
    return request


def _problem(case: AnyCase, response: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    if response.status_code >= 500:
        return f"server error: {response.text[:300]}"
    declared = set(case.operation.definition.raw.get("responses", {}))
    if str(response.status_code) not in declared:
        if response.status_code not in GENERIC_REFUSALS:
            return f"status {response.status_code} is not declared: {response.text[:300]}"
        body = response.json() if response.content else None
        if not (isinstance(body, dict) and isinstance(body.get("detail"), str)):
            return f"a {response.status_code} without a detail string: {response.text[:300]}"
        return None
    try:
        case.validate_response(
            response, checks=[content_type_conformance, response_schema_conformance]
        )
    except FailureGroup as failed:
        return "; ".join(f"{one.title}: {one.message}" for one in failed.exceptions)[:600]
    except Failure as failed:
        return f"{failed.title}: {failed.message}"[:600]
    return None


def fuzz(
    schema: schemathesis.BaseSchema,
    send: Callable[[dict[str, Any]], httpx.Response],
    examples: int,
) -> list[Finding]:
    """Run every operation's examples (in this thread; `send` reaches the app's loop)."""
    findings: list[Finding] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read: {result}"
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _examples_of(operation, mode, send, examples, findings)
            except Unsatisfiable:
                # Nothing to break: an operation without parameters or body has no invalid input.
                assert mode is GenerationMode.NEGATIVE, operation.label
    return findings


def _examples_of(
    operation: AnyOperation,
    mode: GenerationMode,
    send: Callable[[dict[str, Any]], httpx.Response],
    examples: int,
    findings: list[Finding],
) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: AnyCase) -> None:
        request = _as_httpx(case)
        problem: str | None
        try:
            response = send(request)
        except Exception as crashed:  # the in-process transport raises the app's 500s
            status, problem = 500, f"server error: {crashed!r}"[:600]
        else:
            status, problem = response.status_code, _problem(case, response)
        if problem is not None:
            findings.append(
                Finding(
                    operation.label,
                    mode.value,
                    status,
                    problem,
                    f"{request['method']} {request['url']} {request.get('params')} "
                    f"{request.get('content', b'')[:300]!r}",
                )
            )

    run()


# Its own bound: the run grows with the API (every new route and field adds cases).
@pytest.mark.timeout(900)
async def test_every_operation_answers_within_its_schema(stack: Stack) -> None:
    schema = schemathesis.openapi.from_dict(stack.app.openapi())
    loop = asyncio.get_running_loop()

    def send(request: dict[str, Any]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(stack.api.request(**request), loop).result(60)

    findings = await asyncio.to_thread(fuzz, schema, send, FUZZ_EXAMPLES)
    # One line per operation and problem, so a failure reads as a list of defects.
    distinct = {(f.operation, f.status, f.problem.splitlines()[0]): f for f in findings}
    assert not distinct, "\n".join(
        f"{f.operation} [{f.mode}] {f.status}: {f.problem}\n    {f.request}"
        for f in distinct.values()
    )


# --- what the first fuzz runs found, each pinned by a plain request ----------------------


def _refused_at(response: httpx.Response) -> list[list[str | int]]:
    """The `loc` of each error of a 422, which must have FastAPI's list shape."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list), f"detail must be a list as the OpenAPI says: {detail!r}"
    return [error["loc"] for error in detail]


async def test_names_with_control_characters_are_refused_and_exports_survive_old_ones(
    stack: Stack,
) -> None:
    refused = await stack.api.post("/api/v1/clients", json=CLIENT | {"name": "Exemplu\x11 SRL"})
    assert _refused_at(refused) == [["body", "name"]]
    assert "control characters" in refused.text
    company = await stack.api.patch("/api/v1/company", json={"director_name": "Ana\x07 Pop"})
    assert _refused_at(company) == [["body", "director_name"]]

    # A name stored before the check (or by hand) must not take the export down.
    client_id = await create_client(stack)
    await stack.db.execute(
        "UPDATE clients SET name = $2 WHERE id = $1", UUID(client_id), "Exemplu\x11 SRL"
    )
    export = await stack.api.get("/api/v1/exports/clients.xlsx")
    assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["Exemplu SRL"]


async def test_refused_query_and_path_parameters_answer_in_the_declared_422_shape(
    stack: Stack,
) -> None:
    backwards = "from=2026-02-01&to=2026-01-01"
    assert _refused_at(await stack.api.get(f"/api/v1/reports/cashflow?{backwards}")) == [
        ["query", "from"]
    ]
    assert _refused_at(await stack.api.get(f"/api/v1/exports/invoices.csv?{backwards}")) == [
        ["query", "from"]
    ]
    assert _refused_at(await stack.api.get("/api/v1/events?type=no.such.event")) == [
        ["query", "type"]
    ]
    series = await stack.api.put(
        "/api/v1/number-series/invoice/INV-2026", json={"pattern": "{series}-{seq:05d}"}
    )
    assert _refused_at(series) == [["path", "series"]]
    # A business rule's refusal is a 422 of the same shape, naming its field.
    client_id = await create_client(stack)
    past = await stack.api.post(
        "/api/v1/proposals",
        json={
            "client_id": client_id,
            "currency": "RON",
            "valid_until": "2020-01-01",
            "lines": [
                {"description": "Audit", "quantity": "1", "unit_price": "100.00", "vat_rate": "19"}
            ],
        },
    )
    assert _refused_at(past) == [["body", "valid_until"]]


async def test_cashflow_refuses_dates_out_of_range_instead_of_failing(stack: Stack) -> None:
    # The default period starts 11 months before `to`: before the year 1 here.
    early = await stack.api.get("/api/v1/reports/cashflow?to=0001-03-01")
    assert _refused_at(early) == [["query", "to"]]
    # Sales outstanding looks back dso_days from `to`: before the year 1 here.
    dso = await stack.api.get(
        "/api/v1/reports/cashflow?from=0001-01-01&to=0002-01-01&dso_days=3660"
    )
    assert _refused_at(dso) == [["query", "dso_days"]]
    huge = await stack.api.get("/api/v1/reports/cashflow?dso_days=-917891034")
    assert _refused_at(huge) == [["query", "dso_days"]]
