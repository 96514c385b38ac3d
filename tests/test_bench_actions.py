"""bench.actions: Temporal Cloud's billing rules over saved histories, counted by hand."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory

from bench.actions import count_events, count_histories, price_usd

HISTORIES = Path(__file__).parent / "histories"


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / name).read_text())


def test_local_activities_count_once_per_workflow_task() -> None:
    # invoice-42: local activity markers after workflow tasks 4 (one), 18 (two), 29 (one)
    # and 39 (two): four actions, not six. Eleven upserts, of which seven set only
    # TemporalChangeVersion (the SDK's, for each new patch; exempt): four. Two signals,
    # one timer; the patch markers and the cancelled timer cost nothing. A child: its
    # start is billed here only when the children's own histories are counted.
    events = history("invoice-42-eaf5d964.json").events
    assert count_events(events, has_children=True) == {
        "workflow started": 1,
        "search attributes": 4,
        "signal": 2,
        "timer": 1,
        "local activities (per workflow task)": 4,
    }
    assert "workflow started" not in count_events(events)


def test_activity_retries_are_billed_per_attempt() -> None:
    # delivery-17: the first activity failed on its 20th attempt, the second succeeded on
    # its first: 21 activity actions.
    assert count_events(history("delivery-17-147133a0.json").events) == {
        "workflow started": 1,
        "activity": 21,
    }


def test_a_child_start_is_counted_once() -> None:
    # proposal-23 starts the invoice as a child: counted from the parent's event when the
    # child's history is not in the set, from the child's own history when it is.
    events = history("proposal-23-384510fb.json").events
    alone = count_events(events)
    # Its two upserts are TemporalChangeVersion's only: free.
    assert alone == {
        "workflow started": 2,
        "timer": 1,
        "signal": 1,
        "local activities (per workflow task)": 3,
    }
    with_child = count_histories([history("proposal-23-384510fb.json")])
    assert with_child["workflow started"] == 1
    assert sum(alone.values()) - sum(with_child.values()) == 1


def test_updates_accepted_are_billed() -> None:
    counted = count_events(history("invoice-44.json").events, has_children=True)
    assert counted["update"] == 1
    assert counted["activity"] == 4


def test_price_at_the_list_rate() -> None:
    # $50 per million: 40 actions an invoice is $2 per 1,000 invoices.
    assert price_usd(40) == 2.0
    assert price_usd(40, invoices=1_000_000) == 2000.0
