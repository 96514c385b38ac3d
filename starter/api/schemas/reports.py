"""Reports: receivables aging, cash flow and DSO."""

from __future__ import annotations

from pydantic import Field

from starter.api.schemas.common import Answer, DecimalText, IsoDate


class AgingRowOut(Answer):
    """What a client (or, in `totals`, everyone) owes in one currency, by days late."""

    client_id: str | None
    client_name: str
    currency: str
    current: DecimalText
    # The buckets' names are not identifiers: the fields keep them as aliases.
    days_1_30: DecimalText = Field(alias="1-30")
    days_31_60: DecimalText = Field(alias="31-60")
    days_61_90: DecimalText = Field(alias="61-90")
    days_over_90: DecimalText = Field(alias="90+")
    total: DecimalText


class AgingReportOut(Answer):
    as_of: IsoDate
    buckets: list[str]
    clients: list[AgingRowOut]
    totals: list[AgingRowOut]


class CashflowMonthOut(Answer):
    month: str
    currency: str
    invoiced: DecimalText
    collected: DecimalText


class DsoOut(Answer):
    currency: str
    period_days: int
    receivables: DecimalText
    invoiced: DecimalText
    # Days sales outstanding; null when nothing was invoiced in the period.
    days: DecimalText | None


class CashflowReportOut(Answer):
    from_: IsoDate = Field(alias="from")
    to: IsoDate
    months: list[CashflowMonthOut]
    dso: list[DsoOut]
