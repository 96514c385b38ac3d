"""`q2c tasks list [--done] [--limit N] [--cursor C | --all] | create TITLE | done ID`: the
operators' to-do list."""

from __future__ import annotations

import argparse
from typing import Any

from starter.cli import paging
from starter.cli.client import Api
from starter.cli.inputs import Subcommands, iso_day, query_of, uuid_text
from starter.cli.output import Output

TASK_COLUMNS = [
    ("id", "ID"),
    ("due_date", "DUE"),
    ("kind", "KIND"),
    ("title", "TITLE"),
    ("assignee", "ASSIGNEE"),
    ("done", "DONE"),
]


def register(commands: Subcommands, json_too: argparse.ArgumentParser) -> None:
    tasks = commands.add_parser("tasks", help="the operators' to-do list")
    task_actions = tasks.add_subparsers(dest="action", required=True, metavar="ACTION")
    task_list = task_actions.add_parser("list", parents=[json_too], help="open tasks")
    # `--all` is every page, as in every list command; done tasks are `--done`.
    task_list.add_argument("--done", action="store_true", help="done ones instead of open ones")
    task_list.add_argument("--invoice", type=uuid_text, metavar="ID")
    task_list.add_argument("--client", type=uuid_text, metavar="ID")
    task_list.add_argument("--matter", type=uuid_text, metavar="ID", help="only this matter's")
    paging.add_paging(task_list)
    task_new = task_actions.add_parser("create", parents=[json_too], help="a task by hand")
    task_new.add_argument("title")
    task_new.add_argument("--assignee", default="")
    task_new.add_argument("--due", type=iso_day, metavar="YYYY-MM-DD")
    task_new.add_argument("--invoice", type=uuid_text, metavar="ID")
    task_new.add_argument("--client", type=uuid_text, metavar="ID")
    task_new.add_argument("--matter", type=uuid_text, metavar="ID", help="filed under it")
    task_done = task_actions.add_parser("done", parents=[json_too], help="mark a task done")
    task_done.add_argument("id", type=uuid_text, metavar="ID")


def run(args: argparse.Namespace, api: Api, out: Output) -> int:
    if args.action == "list":
        params = {"invoice_id": args.invoice, "client_id": args.client, "matter_id": args.matter}
        query = query_of(params)
        query["done"] = "true" if args.done else "false"
        body = paging.fetch(api, "/api/v1/tasks", query, args)
        paging.show(out, body, TASK_COLUMNS, "no done tasks" if args.done else "no open tasks")
        return 0
    if args.action == "create":
        task = {
            "title": args.title,
            "assignee": args.assignee,
            "due_date": args.due.isoformat() if args.due else None,
            "invoice_id": args.invoice,
            "client_id": args.client,
            "matter_id": args.matter,
        }
        body = api.json("POST", "/api/v1/tasks", json=task)
    else:
        body = api.json("POST", f"/api/v1/tasks/{args.id}/done")
    out.answer(body, _task_line)
    return 0


def _task_line(task: dict[str, Any]) -> str:
    return f"task {task['id']}: {task['title']} ({'done' if task['done'] else 'open'})"
