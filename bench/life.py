"""The `life` section: one invoice's whole life (proposal sent, signed, the draft reviewed,
approved, emailed, five reminders, paid) on Temporal's time-skipping test server, so its
weeks of reminders take seconds. `tests/test_bench_life.py` drives it and writes its
figures; this runs that test in a process of its own and reads them back.

Temporal Cloud actions are counted from every history the life produced (bench.actions);
PDFs rendered and emails sent from the worker's own counters (activities.metrics)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIFE_TEST = "tests/test_bench_life.py"

# Temporal Cloud actions per invoice life. The first measurement (README "Performance")
# and issue 16's budget, 20 % below it; the ceiling is what the life costs now, held by
# tests/test_bench_life.py so that no change adds actions unnoticed.
FIRST_MEASUREMENT = 29
ACTIONS_BUDGET = 23
ACTIONS_CEILING = 29


def life_section() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="q2c-life-") as folder:
        out = Path(folder) / "life.json"
        env = os.environ | {"Q2C_LIFE_OUT": str(out), "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--basetemp", str(Path(folder) / "pytest"), LIFE_TEST],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if not out.exists():
            raise RuntimeError(f"the life test wrote no figures:\n{run.stdout[-3000:]}")
        figures: dict[str, Any] = json.loads(out.read_text())
    if run.returncode != 0:
        # Figures written but an assertion failed (e.g. above the ceiling): say so.
        figures["test_failed"] = run.stdout[-2000:]
    figures["first_measurement"] = FIRST_MEASUREMENT
    return figures
