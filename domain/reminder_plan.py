"""An invoice's reminder plan as PostgreSQL keeps it (shared by the activities, the API and
db/): pure planning over rows; the query for the steps already sent is
db.outbox.sent_reminder_steps.

The schedule in force is the company's, changed by the client's and then the invoice's own
settings (domain.schedule.resolve_schedule). It is frozen into `invoices.reminder_plan` when
the invoice is sent and at every re-plan, so a later change to the client or the company
never renumbers the steps of a running plan; changing them re-plans explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.schedule import (
    PlannedReminder,
    ReminderSchedule,
    ScheduleOverride,
    plan_schedule,
    resolve_schedule,
)

# How many of the next reminders a snapshot carries: the workflow needs only the first,
# and a long repeat (hundreds of steps) must not weigh on every activity result.
REMINDER_WINDOW = 10
STEP_KEY_PREFIX = "reminder:"


# The columns planning reads (db.rows' CompanyRow, ClientRow, InvoiceRow have them; domain
# does not import db). Read-only properties, so frozen dataclasses match.
class ReminderOverrideColumns(Protocol):
    @property
    def reminder_offsets_days(self) -> list[int] | None: ...
    @property
    def reminder_hour(self) -> int | None: ...
    @property
    def reminder_repeat_days(self) -> int | None: ...
    @property
    def reminder_repeat_max(self) -> int | None: ...


class CompanyColumns(Protocol):
    @property
    def reminder_offsets_days(self) -> list[int]: ...
    @property
    def reminder_hour(self) -> int: ...
    @property
    def reminder_repeat_days(self) -> int: ...
    @property
    def reminder_repeat_max(self) -> int: ...
    @property
    def time_zone(self) -> str: ...


class ClientColumns(ReminderOverrideColumns, Protocol):
    @property
    def time_zone(self) -> str | None: ...


class InvoiceColumns(ReminderOverrideColumns, Protocol):
    @property
    def reminder_plan(self) -> Any | None: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def reminders_resumed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class FrozenPlan:
    schedule: ReminderSchedule
    time_zone: str
    step_base: int
    planned_from: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "offsets_days": list(self.schedule.offsets_days),
                "hour": self.schedule.hour,
                "repeat_every_days": self.schedule.repeat_every_days,
                "repeat_max": self.schedule.repeat_max,
                "time_zone": self.time_zone,
                "step_base": self.step_base,
                "planned_from": self.planned_from.isoformat(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FrozenPlan:
        data = json.loads(text)
        return cls(
            schedule=ReminderSchedule(
                offsets_days=tuple(data["offsets_days"]),
                hour=data["hour"],
                repeat_every_days=data["repeat_every_days"],
                repeat_max=data["repeat_max"],
            ),
            time_zone=data["time_zone"],
            step_base=data["step_base"],
            planned_from=datetime.fromisoformat(data["planned_from"]),
        )

    def steps(self, due: Any) -> list[PlannedReminder]:
        return plan_schedule(due, self.schedule, self.time_zone, self.step_base)

    @property
    def next_step_base(self) -> int:
        """Where the plan that replaces this one starts numbering."""
        return self.step_base + self.schedule.size


def company_schedule(company: CompanyColumns) -> ReminderSchedule:
    return ReminderSchedule(
        offsets_days=tuple(company.reminder_offsets_days),
        hour=company.reminder_hour,
        repeat_every_days=company.reminder_repeat_days,
        repeat_max=company.reminder_repeat_max,
    )


def override_of(row: ReminderOverrideColumns) -> ScheduleOverride:
    """A client's or an invoice's own settings (NULL columns inherit)."""
    offsets = row.reminder_offsets_days
    return ScheduleOverride(
        offsets_days=tuple(offsets) if offsets is not None else None,
        hour=row.reminder_hour,
        repeat_every_days=row.reminder_repeat_days,
        repeat_max=row.reminder_repeat_max,
    )


def schedule_in_force(
    company: CompanyColumns, client: ClientColumns, invoice: InvoiceColumns | None = None
) -> ReminderSchedule:
    overrides = [override_of(client)]
    if invoice is not None:
        overrides.append(override_of(invoice))
    return resolve_schedule(company_schedule(company), *overrides)


def reminder_time_zone(company: CompanyColumns, client: ClientColumns) -> str:
    """Reminders go out at the hour where the client is; the company's zone otherwise."""
    return str(client.time_zone or company.time_zone)


def new_plan(
    company: CompanyColumns,
    client: ClientColumns,
    invoice: InvoiceColumns,
    planned_from: datetime,
    replacing: FrozenPlan | None = None,
) -> FrozenPlan:
    return FrozenPlan(
        schedule=schedule_in_force(company, client, invoice),
        time_zone=reminder_time_zone(company, client),
        step_base=replacing.next_step_base if replacing is not None else 0,
        planned_from=planned_from,
    )


def plan_in_force(invoice: InvoiceColumns, company: CompanyColumns) -> FrozenPlan | None:
    """The invoice's frozen plan; for one sent before plans were frozen, the schedule it has
    always had (the company's, in the company's zone, from when it was sent, steps from 1).
    None before the invoice is sent."""
    if invoice.reminder_plan is not None:
        return FrozenPlan.from_json(invoice.reminder_plan)
    if invoice.sent_at is None:
        return None
    return FrozenPlan(
        schedule=ReminderSchedule(
            offsets_days=tuple(company.reminder_offsets_days), hour=company.reminder_hour
        ),
        time_zone=company.time_zone,
        step_base=0,
        planned_from=invoice.sent_at,
    )


def not_before(invoice: InvoiceColumns, plan: FrozenPlan) -> datetime:
    """Reminders planned up to this instant are not sent (late): the plan's start, or the
    last time reminders resumed (after a pause, or a refund that re-opened a paid invoice)."""
    resumed: datetime | None = invoice.reminders_resumed_at
    if resumed is not None and resumed > plan.planned_from:
        return resumed
    return plan.planned_from


def step_key(invoice_id: Any, step: int) -> str:
    return f"invoice:{invoice_id}:{STEP_KEY_PREFIX}{step}"


def step_of_key(key: str) -> int | None:
    _, _, tail = key.rpartition(STEP_KEY_PREFIX)
    return int(tail) if tail.isdigit() else None
