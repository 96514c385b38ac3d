"""Receivables reports and exports, checked against sums worked out from the same fixture."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from openpyxl import load_workbook

from db import store
from domain.money import Line, compute_totals
from domain.vat import VatCategory, VatLine
from starter.cli.main import main
from tests.conftest import Stack
from tests.helpers import create_client, get_json

AS_OF = date(2026, 11, 30)
D = Decimal


@dataclass
class Fixture:
    client: str
    currency: str
    status: str
    days_late: int
    lines: list[tuple[str, str, str]]  # quantity, unit price, VAT rate
    paid: str = "0"


FIXTURE = [
    Fixture("A", "RON", "sent", -5, [("1", "1000.00", "21")]),
    Fixture(
        "A", "RON", "partially_paid", 10, [("2", "500.00", "21"), ("1", "200.00", "11")], "300.00"
    ),
    Fixture("A", "RON", "overdue", 45, [("1", "99.99", "21")]),
    Fixture("B", "RON", "overdue", 75, [("3", "333.33", "21")], "100.00"),
    Fixture("B", "RON", "overdue", 120, [("1", "50.00", "0")]),
    Fixture("B", "EUR", "overdue", 31, [("1", "400.00", "21")]),
    Fixture("B", "RON", "paid", 20, [("1", "10.00", "21")], "12.10"),
    Fixture("A", "RON", "void", 60, [("1", "777.00", "21")]),
]


async def _load(stack: Stack) -> dict[str, str]:
    clients = {
        "A": await create_client(stack, name="Alfa SRL", tax_id="RO12345674"),
        "B": await create_client(stack, name="Beta SRL", email="b@beta.ro", tax_id="RO76543210"),
    }
    async with stack.db.acquire() as conn:
        company_id = await store.default_company_id(conn)
        for index, item in enumerate(FIXTURE, start=1):
            items = [Line("work", D(q), D(p), D(r)) for q, p, r in item.lines]
            totals = compute_totals(items, item.currency)
            due = AS_OF - timedelta(days=item.days_late)
            issue = due - timedelta(days=14)
            invoice_id = await conn.fetchval(
                """INSERT INTO invoices (company_id, client_id, series, number, status, currency,
                       payment_terms_days, issue_date, due_date, subtotal, vat_total, total,
                       amount_paid, sent_at)
                   VALUES ($1, $2, 'INV', $3, $4, $5, 14, $6, $7, $8, $9, $10, $11, now())
                   RETURNING id""",
                company_id, clients[item.client], f"INV-2026-{index:05}", item.status,
                item.currency, issue, due, totals.subtotal, totals.vat_total, totals.total,
                D(item.paid),
            )  # fmt: skip
            await store.replace_lines(
                conn, "invoice_lines", "invoice_id", invoice_id, items, item.currency
            )
            if D(item.paid) > 0:
                await conn.execute(
                    """INSERT INTO payments (invoice_id, amount, currency, paid_at, reference)
                       VALUES ($1, $2, $3, $4, $5)""",
                    invoice_id, D(item.paid), item.currency, due, f"PAY-{index}",
                )  # fmt: skip
    return clients


def _total(item: Fixture) -> Decimal:
    return compute_totals(
        [Line("work", D(q), D(p), D(r)) for q, p, r in item.lines], item.currency
    ).total


def _expected_aging() -> dict[tuple[str, str], dict[str, Decimal]]:
    """Bucket by hand: current when not late, then 1-30, 31-60, 61-90, over 90."""
    expected: dict[tuple[str, str], dict[str, Decimal]] = {}
    for item in FIXTURE:
        if item.status not in ("sent", "partially_paid", "overdue"):
            continue
        late = item.days_late
        bucket = (
            "current" if late <= 0 else "1-30" if late < 31 else "31-60" if late < 61
            else "61-90" if late < 91 else "90+"
        )  # fmt: skip
        row = expected.setdefault((item.client, item.currency), {})
        row[bucket] = row.get(bucket, D(0)) + _total(item) - D(item.paid)
    return expected


async def test_aging_per_client_and_total_per_currency(stack: Stack) -> None:
    clients = await _load(stack)
    names = {clients["A"]: "A", clients["B"]: "B"}
    report = await get_json(stack, f"/api/v1/reports/aging?as_of={AS_OF}")
    expected = _expected_aging()
    got = {
        (names[row["client_id"]], row["currency"]): {
            bucket: D(row[bucket]) for bucket in report["buckets"] if D(row[bucket]) != 0
        }
        for row in report["clients"]
    }
    assert got == expected
    ron_total = next(row for row in report["totals"] if row["currency"] == "RON")
    assert D(ron_total["total"]) == sum(
        (sum(b.values(), D(0)) for (_, cur), b in expected.items() if cur == "RON"), D(0)
    )
    # Written out: 1210.00 current; 1432.00 - 300 = 1132.00 late 10 days; 120.99 late 45;
    # 1209.99 - 100 = 1109.99 late 75; 50.00 late 120.
    assert [ron_total[b] for b in report["buckets"]] == [
        "1210.00", "1132.00", "120.99", "1109.99", "50.00"
    ]  # fmt: skip
    eur = next(row for row in report["totals"] if row["currency"] == "EUR")
    assert eur["31-60"] == "484.00" and eur["total"] == "484.00"


async def test_cashflow_and_dso(stack: Stack) -> None:
    await _load(stack)
    report = await get_json(
        stack, f"/api/v1/reports/cashflow?from=2026-01-01&to={AS_OF}&dso_days=90"
    )
    invoiced: dict[tuple[str, str], Decimal] = {}
    collected: dict[tuple[str, str], Decimal] = {}
    for item in FIXTURE:
        due = AS_OF - timedelta(days=item.days_late)
        issue = due - timedelta(days=14)
        if item.status != "void" and issue <= AS_OF:
            key = (issue.strftime("%Y-%m"), item.currency)
            invoiced[key] = invoiced.get(key, D(0)) + _total(item)
        if D(item.paid) > 0 and due <= AS_OF:
            key = (due.strftime("%Y-%m"), item.currency)
            collected[key] = collected.get(key, D(0)) + D(item.paid)
    got_invoiced = {(m["month"], m["currency"]): D(m["invoiced"]) for m in report["months"]}
    got_collected = {(m["month"], m["currency"]): D(m["collected"]) for m in report["months"]}
    assert {k: v for k, v in got_invoiced.items() if v} == invoiced
    assert {k: v for k, v in got_collected.items() if v} == collected

    ron = next(row for row in report["dso"] if row["currency"] == "RON")
    window_start = AS_OF - timedelta(days=89)
    invoiced_window = sum(
        (_total(i) for i in FIXTURE if i.currency == "RON" and i.status != "void"
         and window_start <= AS_OF - timedelta(days=i.days_late + 14) <= AS_OF),
        D(0),
    )  # fmt: skip
    receivable = sum(
        (_total(i) - D(i.paid) for i in FIXTURE if i.currency == "RON"
         and i.status in ("sent", "partially_paid", "overdue")),
        D(0),
    )  # fmt: skip
    assert D(ron["invoiced"]) == invoiced_window and D(ron["receivables"]) == receivable
    assert D(ron["days"]) == (receivable / invoiced_window * 90).quantize(D("0.1"))


async def test_exports_have_the_columns_an_accountant_expects(stack: Stack) -> None:
    clients = await _load(stack)
    response = await stack.api.get(
        f"/api/v1/exports/invoices.csv?from=2026-01-01&to={AS_OF}&status=partially_paid"
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["number"] == "INV-2026-00002" and row["client"] == "Alfa SRL"
    assert row["client_tax_id"] == "RO12345674"
    assert (row["net 21%"], row["vat 21%"], row["net 11%"], row["vat 11%"]) == (
        "1000.00", "210.00", "200.00", "22.00"
    )  # fmt: skip
    assert (row["gross_total"], row["paid"], row["due"], row["currency"]) == (
        "1432.00", "300.00", "1132.00", "RON"
    )  # fmt: skip

    xlsx = await stack.api.get(f"/api/v1/exports/invoices.xlsx?client_id={clients['B']}")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header, body = table[0], table[1:]
    assert len(body) == 4 and {r[header.index("client")] for r in body} == {"Beta SRL"}
    gross = [D(str(r[header.index("gross_total")])) for r in body]
    assert sorted(gross) == sorted(_total(i) for i in FIXTURE if i.client == "B")

    payments = await stack.api.get("/api/v1/exports/payments.csv")
    paid_rows = list(csv.DictReader(io.StringIO(payments.text)))
    assert sorted(D(r["amount"]) for r in paid_rows) == [D("12.10"), D("100.00"), D("300.00")]
    client_export = await stack.api.get("/api/v1/exports/clients.xlsx")
    assert client_export.status_code == 200
    bad = await stack.api.get("/api/v1/exports/invoices.csv?from=2026-12-01&to=2026-01-01")
    assert bad.status_code == 422


async def test_cli_prints_the_aging_table(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _load(stack)
    report = (await stack.api.get(f"/api/v1/reports/aging?as_of={AS_OF}")).json()

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/reports/aging"
        assert request.url.params["as_of"] == AS_OF.isoformat()
        return httpx.Response(200, json=report)

    monkeypatch.setenv("Q2C_API_KEY", "k")
    code = await asyncio.to_thread(
        main,
        ["report", "aging", "--as-of", AS_OF.isoformat()],
        transport=httpx.MockTransport(answer),
    )
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split() == [
        "CLIENT",
        "CUR",
        "CURRENT",
        "1-30",
        "31-60",
        "61-90",
        "90+",
        "TOTAL",
    ]
    total_ron = next(line.split() for line in printed if line.startswith("TOTAL") and "RON" in line)
    assert total_ron == [
        "TOTAL",
        "RON",
        "1210.00",
        "1132.00",
        "120.99",
        "1109.99",
        "50.00",
        "3622.98",
    ]


async def test_refunds_count_as_cash_going_back(stack: Stack) -> None:
    await _load(stack)
    payment = await stack.db.fetchrow("SELECT * FROM payments WHERE reference = 'PAY-2'")
    assert payment is not None
    refund_day = AS_OF - timedelta(days=2)
    await stack.db.execute(
        """INSERT INTO refunds (invoice_id, payment_id, amount, from_invoice, from_credit,
               currency, refunded_at, reference)
           VALUES ($1, $2, 50, 50, 0, 'RON', $3, 'RF-1')""",
        payment["invoice_id"],
        payment["id"],
        refund_day,
    )
    before_refund = {
        (m["month"], m["currency"]): D(m["collected"])
        for m in (
            await get_json(
                stack, f"/api/v1/reports/cashflow?from=2026-01-01&to={AS_OF - timedelta(days=3)}"
            )
        )["months"]
    }
    report = await get_json(stack, f"/api/v1/reports/cashflow?from=2026-01-01&to={AS_OF}")
    month = refund_day.strftime("%Y-%m")
    collected = {(m["month"], m["currency"]): D(m["collected"]) for m in report["months"]}
    assert collected[(month, "RON")] == before_refund.get((month, "RON"), D(0)) - D("50.00")

    export = await stack.api.get("/api/v1/exports/payments.csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    refund = next(row for row in rows if row["reference"] == "RF-1")
    assert (refund["kind"], refund["amount"], refund["invoice_number"]) == (
        "refund",
        "-50.00",
        "INV-2026-00002",
    )
    assert sum(D(row["amount"]) for row in rows) == D("12.10") + D("100.00") + D("300.00") - 50


async def test_the_vat_export_keeps_zero_rate_categories_apart_and_uses_gross_prices(
    stack: Stack,
) -> None:
    client_id = await create_client(stack, name="Gamma SRL", tax_id="RO12345674")
    items = [
        VatLine("audit", D("1"), D("121.00"), D("21")),
        VatLine("export advice", D("1"), D("300.00"), D("0"), category=VatCategory.REVERSE_CHARGE),
        VatLine("training", D("1"), D("50.00"), D("0"), category=VatCategory.EXEMPT),
    ]
    async with stack.db.acquire() as conn:
        company_id = await store.default_company_id(conn)
        invoice_id = await conn.fetchval(
            """INSERT INTO invoices (company_id, client_id, series, number, status, currency,
                   payment_terms_days, issue_date, due_date, subtotal, vat_total, total,
                   prices_include_vat, discount_percent, sent_at)
               VALUES ($1, $2, 'INV', 'INV-2026-00100', 'sent', 'RON', 14, $3, $3,
                   0, 0, 0, true, 10, now())
               RETURNING id""",
            company_id, client_id, AS_OF,
        )  # fmt: skip
        await store.replace_lines(
            conn, "invoice_lines", "invoice_id", invoice_id, items, "RON",
            prices_include_vat=True, discount_percent=D("10"),
        )  # fmt: skip
    response = await stack.api.get(f"/api/v1/exports/invoices.csv?client_id={client_id}")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    row = rows[0]
    # Gross 121.00 less 10 % = 108.90, of which VAT 108.90 × 21/121 = 18.90, base 90.00;
    # the 0 % groups are their entered prices less 10 %, each in its own column.
    assert (row["net 21%"], row["vat 21%"]) == ("90.00", "18.90")
    assert (row["net 0% reverse_charge"], row["vat 0% reverse_charge"]) == ("270.00", "0.00")
    assert (row["net 0% exempt"], row["vat 0% exempt"]) == ("45.00", "0.00")
