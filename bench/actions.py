"""Temporal Cloud actions counted from recorded workflow histories, the way Temporal Cloud
bills them, and their price at the list rate.

Source: "Temporal Cloud Actions", https://docs.temporal.io/cloud/actions (read 2026-12-03)
and https://temporal.io/pricing. The rules that apply to what q2c's histories hold:

- workflow started: one per run, whether a client started it, continue-as-new started it
  or a parent started it as a child (counted once: in the child's own history when we have
  it, else from the parent's ChildWorkflowExecutionStarted event — never both);
- signal: one per signal received (WorkflowExecutionSignaled; a signal-with-start is a
  start plus a signal, which its two events already give);
- update: one per accepted update (WorkflowExecutionUpdateAccepted; a rejected update is
  billed too but leaves no event, so it cannot be counted from a history);
- timer: one per timer started (TimerStarted);
- activity: one per attempt started, retries included: ActivityTaskStarted records the
  last attempt's number, so an activity costs `attempt` actions; scheduled but never
  started (cancelled first) costs none;
- local activities: every local activity completed in one workflow task counts as one
  action together (their markers follow the same WorkflowTaskCompleted event); a workflow
  task heartbeat while local activities run is one more, but such heartbeats leave only
  ordinary workflow task events behind, so they are not told apart here;
- search attribute upsert: one per UpsertWorkflowSearchAttributes event (several
  attributes in one upsert are one action; those given at the start are free), except
  an upsert of TemporalChangeVersion alone, which the SDK makes for each new
  `workflow.patched(...)` and Temporal Cloud exempts; one per WorkflowPropertiesModified
  (the memo's equivalent).

Not in histories, so not counted here: queries (every query received by a worker is an
action; q2c's API reads state from PostgreSQL and queries nothing on an invoice's life),
activity heartbeats that reached the server, rejected updates, schedules, exports.
Not billed: workflow tasks themselves, completions, version (patch) markers, timers fired
or cancelled.

The list price: Temporal Cloud's Essentials plan, $50 per million actions for the first
tier (https://temporal.io/pricing, as listed in 2026; later tiers are cheaper).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

USD_PER_MILLION_ACTIONS = 50.0
PRICE_SOURCE = "Temporal Cloud Essentials list rate, first tier: $50 per 1M actions (2026)"

LOCAL_ACTIVITY_MARKER = "core_local_activity"
# Upserted by the SDK for each new patch id; exempt from billing.
VERSION_SEARCH_ATTRIBUTE = "TemporalChangeVersion"

# Events that are one action each, by the kind they are reported under.
_ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer",
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: "search attributes",
}


def count_events(events: Iterable[HistoryEvent], has_children: bool = False) -> Counter[str]:
    """Billable actions of one run's events, by kind. `has_children`: the children's own
    histories are counted too, so their starts are counted there, not from the parent."""
    actions: Counter[str] = Counter()
    # The WorkflowTaskCompleted event id that local activity markers follow: markers after
    # the same one were recorded by one workflow task and are billed as one action.
    last_task_completed = 0
    local_tasks: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            last_task_completed = event.event_id
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = event.workflow_execution_started_event_attributes
            is_child = started.HasField("parent_workflow_execution")
            if not is_child or has_children:
                actions["workflow started"] += 1
        elif kind == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED and not has_children:
            actions["workflow started"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions["activity"] += max(1, event.activity_task_started_event_attributes.attempt)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            if event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER:
                local_tasks.add(last_task_completed)
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if set(fields.indexed_fields) - {VERSION_SEARCH_ATTRIBUTE}:
                actions["search attributes"] += 1
        elif kind in _ONE_EACH:
            actions[_ONE_EACH[kind]] += 1
    if local_tasks:
        actions["local activities (per workflow task)"] += len(local_tasks)
    return actions


def count_histories(histories: Iterable[WorkflowHistory]) -> Counter[str]:
    """Billable actions of a set of runs that includes every child's own history."""
    total: Counter[str] = Counter()
    for history in histories:
        total += count_events(history.events, has_children=True)
    return total


def price_usd(actions: int, invoices: int = 1000) -> float:
    """What `actions` per invoice cost for `invoices` invoices at the list rate."""
    return actions * invoices * USD_PER_MILLION_ACTIONS / 1_000_000
