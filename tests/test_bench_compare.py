"""bench.compare: two bench results' ratios, PASS within 15 %, FAIL beyond or missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.compare import compare, main


def result(**ratios: float) -> dict[str, object]:
    return {"ratios": ratios}


def test_each_ratio_within_15_percent_passes_and_beyond_fails() -> None:
    rows = compare(result(render=0.40, reminders=0.50), result(render=0.45, reminders=0.30))
    by_name = {row["ratio"]: row for row in rows}
    assert by_name["render"]["verdict"] == "PASS"
    assert by_name["render"]["difference"] == pytest.approx(0.125)
    assert by_name["reminders"]["verdict"] == "FAIL"
    assert by_name["reminders"]["difference"] == pytest.approx(-0.4)


def test_a_ratio_missing_from_one_run_fails() -> None:
    rows = compare(result(render=0.4, life=1.0), result(render=0.4))
    assert [(row["ratio"], row["verdict"]) for row in rows] == [
        ("life", "FAIL"),
        ("render", "PASS"),
    ]


def test_the_command_prints_each_ratio_and_exits_1_on_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(result(render=0.40, reminders=0.50)))
    b.write_text(json.dumps(result(render=0.42, reminders=0.50)))
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "render" in out and "+5.0 %" in out and "PASS" in out and "FAIL" not in out
    b.write_text(json.dumps(result(render=0.20, reminders=0.50)))
    assert main([str(a), str(b)]) == 1
    assert "-50.0 %  FAIL" in capsys.readouterr().out
