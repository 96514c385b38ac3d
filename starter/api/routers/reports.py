"""Receivables reports and accountant exports (CSV and XLSX), under /api/v1."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from db import companies, matters, reports, store
from domain.money import plain_decimal, round_money
from domain.reports import AGING_BUCKETS, OpenItem, aging, cashflow, days_sales_outstanding
from domain.schedule import local_date
from domain.spreadsheet import inert_text, xlsx_text
from domain.status import InvoiceStatus
from domain.vat import VatCategory, compute_document_totals
from starter.api.deps import API_KEY, Q2CState, State
from starter.api.errors import invalid_parameter
from starter.api.schemas import AgingReportOut, CashflowReportOut, file_answer

OPEN_STATUSES = ("sent", "partially_paid", "overdue")
Format = Literal["csv", "xlsx"]
DateFrom = Annotated[date | None, Query(alias="from")]
DateTo = Annotated[date | None, Query(alias="to")]


async def _today(state: Q2CState) -> date:
    async with state.pool.acquire() as conn:
        company = await companies.get(conn, await store.default_company_id(conn))
    return local_date(datetime.now(UTC), company.time_zone)


async def open_items(
    state: Q2CState, client_id: UUID | None = None, matter_id: UUID | None = None
) -> list[OpenItem]:
    async with state.pool.acquire() as conn:
        rows = await reports.open_receivables(conn, OPEN_STATUSES, client_id, matter_id)
    return [
        OpenItem(str(r.client_id), r.client_name, r.currency.strip(), r.due_date, r.due)
        for r in rows
    ]


def _money(value: Decimal, currency: str) -> str:
    return str(round_money(value, currency))


def _period(date_from: date | None, date_to: date | None, today: date) -> tuple[date, date]:
    end = date_to or today
    try:
        start = date_from or (end.replace(day=1) - timedelta(days=334)).replace(day=1)
    except OverflowError:
        raise invalid_parameter("query", "to", "too early to report on") from None
    if start > end:
        raise invalid_parameter("query", "from", "must not be after to")
    return start, end


Rows = list[list[Any]]


async def invoice_rows(
    state: Q2CState,
    date_from: date | None,
    date_to: date | None,
    status: InvoiceStatus | None,
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> tuple[list[str], Rows]:
    """One row per invoice, with net and VAT per rate as the invoice itself computes them."""
    async with state.pool.acquire() as conn:
        invoices = await reports.numbered_invoices(
            conn,
            date_from=date_from,
            date_to=date_to,
            status=status.value if status else None,
            client_id=client_id,
            matter_id=matter_id,
        )
        # Keyed by rate and category: exempt, reverse-charge and zero-rated lines all have
        # 0 % but are separate boxes of a VAT return.
        groups: dict[Any, dict[tuple[Decimal, VatCategory], tuple[Decimal, Decimal]]]
        groups = defaultdict(dict)
        for numbered in invoices:
            invoice = numbered.invoice
            line_rows = await store.lines(conn, "invoice_lines", "invoice_id", invoice.id)
            totals = compute_document_totals(
                store.as_lines(line_rows),
                invoice.currency.strip(),
                prices_include_vat=invoice.prices_include_vat,
                document_discount_percent=invoice.discount_percent,
            )
            for group in totals.groups:
                groups[invoice.id][group.rate, group.category] = (group.base, group.vat)
    rates = sorted(
        {key for per_invoice in groups.values() for key in per_invoice},
        key=lambda key: (-key[0], list(VatCategory).index(key[1])),
    )
    header = [
        "number",
        "issue_date",
        "due_date",
        "client",
        "client_tax_id",
        *[f"{column} {_rate_label(*key)}" for key in rates for column in ("net", "vat")],
        "net_total",
        "vat_total",
        "gross_total",
        "paid",
        "due",
        "currency",
        "status",
        "efactura_status",
        "efactura_upload_index",
        "efactura_download_id",
    ]
    rows: Rows = []
    for numbered in invoices:
        invoice = numbered.invoice
        per_rate = groups[invoice.id]
        due = max(invoice.total - invoice.amount_paid, Decimal(0))
        rows.append(
            [
                invoice.number,
                invoice.issue_date,
                invoice.due_date,
                numbered.client_name,
                numbered.client_tax_id,
                *[
                    per_rate.get(key, (Decimal(0), Decimal(0)))[index]
                    for key in rates
                    for index in (0, 1)
                ],
                invoice.subtotal,
                invoice.vat_total,
                invoice.total,
                invoice.amount_paid,
                due,
                invoice.currency.strip(),
                invoice.status,
                numbered.efactura_status,
                numbered.efactura_upload_index,
                numbered.efactura_download_id,
            ]
        )
    currency = header.index("currency")
    return header, [_rounded(row, row[currency]) for row in rows]


def _rate_label(rate: Decimal, category: VatCategory) -> str:
    """ "21%" for a rate that charges VAT or a zero rate; "0% exempt" for the others."""
    label = f"{plain_decimal(rate)}%"
    if category in (
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.NOT_SUBJECT,
        VatCategory.INTRA_COMMUNITY,
    ):
        label += f" {category.value}"
    return label


async def payment_rows(
    state: Q2CState,
    date_from: date | None,
    date_to: date | None,
    status: InvoiceStatus | None,
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> tuple[list[str], Rows]:
    # Refunds are rows of their own with a negative amount, so the column sums to net cash.
    async with state.pool.acquire() as conn:
        records = await reports.money_movements(
            conn,
            date_from=date_from,
            date_to=date_to,
            status=status.value if status else None,
            client_id=client_id,
            matter_id=matter_id,
        )
    header = [
        "paid_at",
        "invoice_number",
        "client",
        "client_tax_id",
        "amount",
        "currency",
        "reference",
        "kind",
    ]
    rows: Rows = [
        [
            r.paid_at,
            r.invoice_number,
            r.client_name,
            r.client_tax_id,
            r.amount,
            r.currency.strip(),
            r.reference,
            r.kind,
        ]
        for r in records
    ]
    return header, [_rounded(row, row[5]) for row in rows]


async def client_rows(
    state: Q2CState,
    date_from: date | None,
    date_to: date | None,
    status: InvoiceStatus | None,
    client_id: UUID | None,
    matter_id: UUID | None = None,
) -> tuple[list[str], Rows]:
    async with state.pool.acquire() as conn:
        if matter_id is None:
            records = await reports.clients_by_name(conn, client_id)
        else:  # the matter's client (none when client_id names another)
            matter_client = (await matters.get(conn, matter_id)).client_id
            same = client_id in (None, matter_client)
            records = await reports.clients_by_name(conn, matter_client) if same else []
    header = [
        "id",
        "name",
        "email",
        "country",
        "tax_id",
        "registration_number",
        "address",
        "locale",
    ]
    rows: Rows = [
        [
            str(r.id),
            r.name,
            r.email,
            r.country,
            r.tax_id,
            r.registration_number,
            r.address,
            r.locale,
        ]
        for r in records
    ]
    return header, rows


def _rounded(row: list[Any], currency: str) -> list[Any]:
    return [round_money(v, currency) if isinstance(v, Decimal) else v for v in row]


def tabular_response(filename: str, header: Sequence[str], rows: Rows) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if filename.endswith(".csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows([[_csv_cell(value) for value in row] for row in rows])
        return Response(
            buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition
        )
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = filename.split(".")[0]
    sheet.append(list(header))
    for row in rows:
        # openpyxl writes a Decimal's exact digits into the sheet's XML.
        sheet.append([xlsx_text(v) if isinstance(v, str) else v for v in row])
    output = io.BytesIO()
    workbook.save(output)
    return Response(
        output.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=disposition,
    )


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return inert_text(value)
    return str(value)


router = APIRouter()


@router.get(
    "/api/v1/reports/aging", response_model=AgingReportOut, dependencies=API_KEY, tags=["reports"]
)
async def aging_report(
    state: State,
    as_of: date | None = None,
    client_id: UUID | None = None,
    matter_id: UUID | None = None,
) -> dict[str, Any]:
    day = as_of or await _today(state)
    clients, totals = aging(await open_items(state, client_id, matter_id), day)

    def row_json(row: Any) -> dict[str, Any]:
        return {
            "client_id": row.client_id or None,
            "client_name": row.client_name,
            "currency": row.currency,
            **{bucket: _money(row.buckets[bucket], row.currency) for bucket in AGING_BUCKETS},
            "total": _money(row.total, row.currency),
        }

    return {
        "as_of": day.isoformat(),
        "buckets": list(AGING_BUCKETS),
        "clients": [row_json(row) for row in clients],
        "totals": [row_json(row) for row in totals],
    }


@router.get(
    "/api/v1/reports/cashflow",
    response_model=CashflowReportOut,
    dependencies=API_KEY,
    tags=["reports"],
)
async def cashflow_report(
    state: State,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    dso_days: Annotated[int, Query(ge=1, le=3660)] = 90,
    matter_id: UUID | None = None,
) -> dict[str, Any]:
    today = await _today(state)
    start, end = _period(date_from, date_to, today)
    try:
        dso_start = end - timedelta(days=dso_days - 1)
    except OverflowError:
        raise invalid_parameter("query", "dso_days", "reaches before the year 1") from None
    async with state.pool.acquire() as conn:
        # One matter's invoices and their cash when given.
        invoiced = await reports.invoiced_between(conn, start, end, matter_id)
        collected = await reports.collected_between(conn, start, end, matter_id)
        dso_rows = await reports.sales_outstanding(conn, end, dso_start, OPEN_STATUSES, matter_id)
    months = cashflow(
        ((r.day, r.currency.strip(), r.amount) for r in invoiced),
        ((r.day, r.currency.strip(), r.amount) for r in collected),
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "months": [
            {
                "month": m.month,
                "currency": m.currency,
                "invoiced": _money(m.invoiced, m.currency),
                "collected": _money(m.collected, m.currency),
            }
            for m in months
        ],
        "dso": [
            {
                "currency": r.currency.strip(),
                "period_days": dso_days,
                "receivables": _money(r.receivable or Decimal(0), r.currency.strip()),
                "invoiced": _money(r.invoiced or Decimal(0), r.currency.strip()),
                "days": str(d)
                if (
                    d := days_sales_outstanding(
                        r.receivable or Decimal(0), r.invoiced or Decimal(0), dso_days
                    )
                )
                is not None
                else None,
            }
            for r in dso_rows
        ],
    }


@router.get(
    "/api/v1/exports/{kind}.{fmt}",
    **file_answer(
        "The rows as a spreadsheet or CSV file.",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
    ),
    dependencies=API_KEY,
    tags=["exports"],
)
async def export(
    kind: Literal["invoices", "payments", "clients"],
    fmt: Format,
    state: State,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    status: InvoiceStatus | None = None,
    client_id: UUID | None = None,
    matter_id: UUID | None = None,
) -> Response:
    if date_from and date_to and date_from > date_to:
        raise invalid_parameter("query", "from", "must not be after to")
    builder = {"invoices": invoice_rows, "payments": payment_rows, "clients": client_rows}
    header, rows = await builder[kind](state, date_from, date_to, status, client_id, matter_id)
    return tabular_response(f"{kind}.{fmt}", header, rows)
