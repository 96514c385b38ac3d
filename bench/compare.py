"""Two `make bench` results side by side: each ratio's difference, PASS/FAIL at 15 %.

    python -m bench.compare A.json B.json

Issue 16 asks that a second full run give every ratio within 15 % of the first. The ratios
are the figures `bench.run` writes under "ratios" (each measured against a reference taken
in the same run, so they travel between machines better than absolute times). Exit status
1 when any ratio differs by more than the tolerance or is missing from one of the runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

TOLERANCE = 0.15


def compare(
    first: dict[str, Any], second: dict[str, Any], tolerance: float = TOLERANCE
) -> list[dict[str, Any]]:
    """One row per ratio in either run: both values, the relative difference (to the
    first run's value) and PASS/FAIL."""
    a: dict[str, float] = first.get("ratios", {})
    b: dict[str, float] = second.get("ratios", {})
    rows = []
    for name in sorted(a.keys() | b.keys()):
        x, y = a.get(name), b.get(name)
        if x is None or y is None or math.isnan(x) or math.isnan(y) or x == 0:
            difference = math.nan
            verdict = "FAIL"
        else:
            difference = (y - x) / abs(x)
            verdict = "PASS" if abs(difference) <= tolerance else "FAIL"
        rows.append(
            {"ratio": name, "first": x, "second": y, "difference": difference, "verdict": verdict}
        )
    return rows


def _shown(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    rows = compare(
        json.loads(args.first.read_text()), json.loads(args.second.read_text()), args.tolerance
    )
    if not rows:
        print("no ratios in either result")
        return 1
    width = max(len(row["ratio"]) for row in rows)
    for row in rows:
        difference = row["difference"]
        shown = "n/a" if math.isnan(difference) else f"{difference * 100:+.1f} %"
        print(
            f"  {row['ratio']:<{width}}  {_shown(row['first']):>9}  {_shown(row['second']):>9}"
            f"  {shown:>8}  {row['verdict']}"
        )
    return 0 if all(row["verdict"] == "PASS" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
