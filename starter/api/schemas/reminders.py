"""Payment reminders of an invoice: the plan in force, those sent and those to come."""

from __future__ import annotations

from starter.api.schemas.common import Answer, IsoDate, IsoInstant
from starter.api.schemas.company import OwnScheduleOut, ScheduleOut
from starter.api.schemas.invoices import InvoiceActionOut, InvoiceOut


class ReminderStepOut(Answer):
    step: int
    offset_days: int
    send_at: IsoInstant
    # sent, planned, paused, skipped or stopped
    state: str


class SentReminderOut(Answer):
    step: int
    scheduled_for: IsoInstant
    sent_at: IsoInstant | None


class InvoiceRemindersOut(Answer):
    invoice_id: str
    status: str
    due_date: IsoDate | None
    paused: bool
    paused_at: IsoInstant | None
    time_zone: str
    schedule: ScheduleOut
    own_schedule: OwnScheduleOut | None
    planned_from: IsoInstant | None
    steps: list[ReminderStepOut]
    sent: list[SentReminderOut]


class RemindersActionOut(InvoiceActionOut):
    reminders_paused: bool


class RescheduledOut(InvoiceOut):
    reminders: InvoiceRemindersOut


class ScheduleInForceOut(ScheduleOut):
    time_zone: str
