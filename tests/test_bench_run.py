"""bench.run's budgets as ratios, the ratios bench.compare reads and the costs of a life,
from figures given by hand (the sections themselves need the whole stack: `make bench`)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.life import ACTIONS_BUDGET, FIRST_MEASUREMENT
from bench.run import costs_per_life, ratios, verdicts


def results(accepted: int = 1000) -> dict[str, Any]:
    cpu = {"worker": 0.1, "render processes": 0.2, "temporal": 0.08}
    figures: dict[str, Any] = {
        "render": {
            "lines_15": {"ratio_to_plain": 0.6, "warm_median_ms": 80.0},
            "lines_100": {"ratio_to_plain": 0.4},
        },
        "limit": {"invoices_per_s": 10.0},
        "pipeline": {
            "max": {"invoices_per_s": 4.0, "cpu_seconds_per_invoice": cpu},
            "half": {"latency_p95_s": 0.9},
            "payment": {"cpu_seconds_per_payment": {"worker": 0.01, "temporal": 0.02}},
        },
        "scale": {
            "reminders_due": 1000,
            "reminders_accepted": accepted,
            "reminders_per_s": 40.0,
            "worker_total_rss_mib": 330.0,
            "cpu_ms_per_reminder": {"worker": 10.0, "temporal": 16.0},
        },
        "probe": {"reminders_due": 1000, "reminders_accepted": 1000, "reminders_per_s": 100.0},
        "life": {
            "actions": 29,
            "actions_by_kind": {"timer": 7},
            "usd_per_1000_invoices": 1.45,
            "pdfs_rendered_total": 4,
            "emails_sent_total": 8,
        },
    }
    figures["ratios"] = ratios(figures)
    return figures


def test_every_ratio_of_the_run_is_named_for_compare() -> None:
    assert ratios(results()) == {
        "render_lines_15_to_plain": 0.6,
        "render_lines_100_to_plain": 0.4,
        "pipeline_to_render_limit": 0.4,
        "reminders_to_probe": 0.4,
    }


def test_budgets_are_the_ratios_and_the_life_actions() -> None:
    by_budget = {v["figure"]: v["verdict"] for v in verdicts(results(), 1000)}
    assert by_budget == {
        "render.lines_15.ratio_to_plain": "FAIL",
        "render.lines_100.ratio_to_plain": "PASS",
        "ratios.reminders_to_probe": "PASS",
        "scale.cpu_ms_per_reminder.worker": "PASS",
        "pipeline.half.latency_p95_s": "PASS",
        "scale.worker_total_rss_mib": "PASS",
        "life.actions": "FAIL",
    }
    # Issue 16: the budget is 20 % below the first measurement.
    assert ACTIONS_BUDGET == int(FIRST_MEASUREMENT * 0.8)


def test_a_reminder_rate_with_reminders_missing_fails() -> None:
    rows = verdicts(results(accepted=999), 1000)
    assert next(v for v in rows if v["figure"] == "ratios.reminders_to_probe")["verdict"] == "FAIL"


def test_cpu_of_a_life_is_the_pipeline_a_payment_and_five_reminders() -> None:
    costs = costs_per_life(results())
    assert costs is not None
    assert costs["cpu_seconds"] == {
        "render processes": pytest.approx(0.2),
        "temporal": pytest.approx(0.08 + 0.02 + 5 * 0.016),
        "worker": pytest.approx(0.1 + 0.01 + 5 * 0.010),
    }
    assert costs["actions"] == 29 and costs["pdfs_rendered"] == 4 and costs["emails_sent"] == 8
