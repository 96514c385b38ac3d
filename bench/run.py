"""`make bench`: render, render limit, pipeline, ratio and scale figures with PASS/FAIL
against the budgets of issue 6, printed as a table and written as JSON to bench/results/.

    python -m bench.run [--proposals 300] [--scale 10000] [--only render,pipeline,...]

It starts its own stack (PostgreSQL, Temporal dev server, SMTP peer, worker, API) in a
temporary folder on free ports and removes it at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.pipeline import Pipeline, api_client
from bench.render import pipeline_documents, render_limit, render_section
from bench.scale import scale_section
from bench.stack import Stack

SECTIONS = ("render", "limit", "pipeline", "scale")
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 6
TASK_QUEUE = "q2c"

# Issue 6's budgets on a 2-core machine: (section, figure, comparison, limit, label).
BUDGETS = (
    ("render", "lines_15.warm_median_ms", "<=", 60.0, "warm render, 1-page invoice (ms)"),
    ("ratio", "ratio", ">=", 0.7, "pipeline ÷ render limit"),
    ("pipeline", "half.latency_p95_s", "<=", 2.0, "signature→email p95 at half rate (s)"),
    ("scale", "worker_total_rss_mib", "<=", 400.0, "worker RSS, 10,000 open (MiB)"),
    ("scale", "reminders_seconds", "<=", 120.0, "10,000 due reminders sent (s)"),
)


def _lookup(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def verdicts(results: dict[str, Any], scale: int) -> list[dict[str, Any]]:
    rows = []
    for section, path, comparison, limit, label in BUDGETS:
        value = _lookup(results.get(section, {}), path)
        if section == "scale" and scale != 10_000:
            label = label.replace("10,000", f"{scale:,}")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            verdict = "n/a"
        elif (
            section == "scale"
            and path == "reminders_seconds"
            and (
                results["scale"].get("reminders_accepted") != results["scale"].get("reminders_due")
            )
        ):
            verdict = "FAIL"
        else:
            ok = value <= limit if comparison == "<=" else value >= limit
            verdict = "PASS" if ok else "FAIL"
        rows.append(
            {
                "budget": label,
                "figure": f"{section}.{path}",
                "value": value,
                "limit": f"{comparison} {limit:g}",
                "verdict": verdict,
            }
        )
    return rows


def print_table(results: dict[str, Any]) -> None:
    lines = []
    render = results.get("render")
    if render:
        for key in ("lines_15", "lines_100"):
            r = render[key]
            lines.append(
                f"render {r['lines']:>3} lines ({r['pages']} p)  cold {r['cold_ms']:8.1f} ms"
                f"   warm median {r['warm_median_ms']:7.1f} ms   p95 {r['warm_p95_ms']:7.1f} ms"
                f"   (n={r['warm_runs']})"
            )
        profile = render["profile_15_lines"]["stages_percent"]
        lines.append(
            "render profile (pyinstrument, 15 lines): "
            + ", ".join(f"{stage} {percent:g} %" for stage, percent in list(profile.items())[:5])
        )
    limit = results.get("limit")
    if limit:
        lines.append(
            f"render limit  {limit['invoices_per_s']:.2f} invoices/s "
            f"({len(limit['documents_per_invoice'])} PDFs each, {limit['pdfs_per_s']:.2f} PDFs/s "
            f"on {limit['cores']} processes)"
        )
    pipeline = results.get("pipeline")
    if pipeline:
        for key in ("max", "half"):
            if key in pipeline:
                p = pipeline[key]
                lines.append(
                    f"pipeline {key:<4} {p['emailed']}/{p['proposals']} emailed, "
                    f"{p['invoices_per_s']:.2f} invoices/s   signature→email p50 "
                    f"{p['latency_p50_s']:.2f} s  p95 {p['latency_p95_s']:.2f} s  "
                    f"p99 {p['latency_p99_s']:.2f} s   errors {p['errors']}"
                    + (f"   (arrivals {p['arrival_rate_per_s']:.2f}/s)" if key == "half" else "")
                )
    ratio = results.get("ratio")
    if ratio:
        lines.append(f"ratio         {ratio['ratio']:.2f}")
    scale = results.get("scale")
    if scale:
        lines.append(
            f"scale {scale['open_invoices']} open: worker {scale['worker_rss_mib']} MiB"
            f" + render processes {scale['render_processes_rss_mib']} MiB"
            f" = {scale['worker_total_rss_mib']} MiB; Temporal {scale['temporal_rss_mib']} MiB;"
            f" PostgreSQL {scale['postgres_disk_mib']} MiB on disk"
        )
        lines.append(
            f"scale reminders: {scale['reminders_accepted']}/{scale['reminders_due']} accepted "
            f"{scale['reminders_seconds']} s after falling due (schedule compressed: "
            f"all due at one instant; starts {scale['workflow_starts_per_s']}/s)"
        )
    print("\n".join(lines))
    print()
    width = max(len(v["budget"]) for v in results["budgets"])
    for v in results["budgets"]:
        value = v["value"]
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"  {v['budget']:<{width}}  {shown:>9}  {v['limit']:<8}  {v['verdict']}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": {"proposals": args.proposals, "scale": args.scale, "only": sorted(only)},
        "seed": SEED,
    }
    started = time.time()
    if "render" in only:
        print(f"render: {args.warm} warm renders of 15 and of 100 lines…", flush=True)
        results["render"] = await asyncio.to_thread(render_section, args.warm)
    if only & {"limit", "pipeline", "scale"}:
        stack = Stack()
        print(f"starting the stack in {stack.dir}…", flush=True)
        try:
            await stack.start()
            async with (
                asyncpg.create_pool(stack.database_url, min_size=1, max_size=4) as db,
                api_client(stack) as http,
            ):
                await _stack_sections(stack, db, http, only, args, results)
        finally:
            await stack.stop()
            if not args.keep:
                stack.remove()
    results["budgets"] = verdicts(results, args.scale)
    results["seconds"] = round(time.time() - started, 1)
    return results


async def _stack_sections(
    stack: Stack,
    db: asyncpg.Pool,
    http: Any,
    only: set[str],
    args: argparse.Namespace,
    results: dict[str, Any],
) -> None:
    pipeline = Pipeline(stack, db, http)
    await pipeline.setup()
    if "pipeline" in only:
        # A few first, unmeasured: the worker's caches and the database's plans warm up.
        await pipeline.run("warmup", 5, None, SEED)
        print(f"pipeline: {args.proposals} proposals at the maximum rate…", flush=True)
        full = await pipeline.run("max", args.proposals, None, SEED)
        half_rate = full.throughput / 2
        print(f"pipeline: {args.proposals} proposals at {half_rate:.2f}/s…", flush=True)
        half = await pipeline.run("half", args.proposals, half_rate, SEED)
        results["pipeline"] = {
            "max": full.figures(),
            "half": half.figures() | {"arrival_rate_per_s": round(half_rate, 3)},
            "latency_from": "e-sign webhook request sent",
            "latency_to": "invoice email accepted by the SMTP peer",
        }
    if "limit" in only:
        if "pipeline" not in only:
            await pipeline.run("example", 1, None, SEED)
        print("render limit: the pipeline's PDFs for one invoice on every core…", flush=True)
        documents = await pipeline_documents(db)
        results["limit"] = await asyncio.to_thread(render_limit, documents, args.limit_seconds)
    if "pipeline" in results and "limit" in results:
        results["ratio"] = {
            "ratio": round(
                results["pipeline"]["max"]["invoices_per_s"] / results["limit"]["invoices_per_s"],
                3,
            )
        }
    if "scale" in only:
        print(f"scale: {args.scale} open invoices, then their reminders due at once…", flush=True)
        results["scale"] = await scale_section(stack, db, http, args.scale, TASK_QUEUE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--proposals", type=int, default=300, help="pipeline proposals per run")
    parser.add_argument("--scale", type=int, default=10_000, help="open invoices for scale")
    parser.add_argument("--warm", type=int, default=50, help="warm renders per size")
    parser.add_argument("--limit-seconds", type=float, default=20.0, help="render limit run")
    parser.add_argument("--only", default="", help=f"comma-separated, of {','.join(SECTIONS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stack folder")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: results/)")
    args = parser.parse_args()
    unknown = set(filter(None, args.only.split(","))) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    results = asyncio.run(run(args))
    print()
    print_table(results)
    out = args.out or RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nfigures written to {out}")
    sys.stdout.flush()
    # The Temporal SDK's native threads can abort the interpreter at exit
    # (temporalio/sdk-python#300); the results are written by now.
    os._exit(0)


if __name__ == "__main__":
    main()
