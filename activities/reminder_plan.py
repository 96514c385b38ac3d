"""The reminder plan, re-exported for starter/ while it still imports it from here: the
planning lives in domain.reminder_plan, the query in db.outbox."""

from db.outbox import sent_reminder_steps
from domain.reminder_plan import (
    REMINDER_WINDOW,
    STEP_KEY_PREFIX,
    FrozenPlan,
    company_schedule,
    new_plan,
    not_before,
    override_of,
    plan_in_force,
    reminder_time_zone,
    schedule_in_force,
    step_key,
    step_of_key,
)

__all__ = [
    "REMINDER_WINDOW",
    "STEP_KEY_PREFIX",
    "FrozenPlan",
    "company_schedule",
    "new_plan",
    "not_before",
    "override_of",
    "plan_in_force",
    "reminder_time_zone",
    "schedule_in_force",
    "sent_reminder_steps",
    "step_key",
    "step_of_key",
]
