"""`q2c dev | worker | api | migrate`: run one of the stack's parts in this process.

These are not API calls: each imports what it runs lazily (the dev stack, the worker,
uvicorn with the API app, the migrations), so the operator commands never load them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from starter.cli.inputs import Subcommands
from starter.cli.output import EXIT_REFUSED, print_error


def register(commands: Subcommands) -> None:
    commands.add_parser("dev", help="the embedded development stack (`make run`)")
    commands.add_parser("worker", help="a Temporal worker for both workflows")
    commands.add_parser("api", help="the HTTP API (Q2C_API_HOST, Q2C_API_PORT)")
    commands.add_parser("migrate", help="apply the database migrations")


def api_bind_address() -> tuple[str, int]:
    """Where `q2c api` listens: Q2C_API_HOST and Q2C_API_PORT (default 127.0.0.1:8000)."""
    from settings import Settings

    settings = Settings.from_env()
    return settings.api_host, settings.api_port


def cmd_dev(args: argparse.Namespace) -> int:
    from starter.devstack import stack as devstack
    from worker import run_event_loop

    try:
        run_event_loop(devstack.run_dev_stack())
    except RuntimeError as error:
        print_error(str(error))
        if error.__cause__ is not None:
            print(f"  caused by: {error.__cause__!r}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import worker

    worker.main()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    host, port = api_bind_address()
    uvicorn.run("starter.api.app:app_factory", factory=True, host=host, port=port)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    import logging

    from settings import Settings
    from starter.devstack.migrate import migrate_for

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        migrate_for(Settings.from_env())
    except RuntimeError as error:
        print_error(str(error))
        return EXIT_REFUSED
    print("migrations applied")
    return 0


STACK_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "dev": cmd_dev,
    "worker": cmd_worker,
    "api": cmd_api,
    "migrate": cmd_migrate,
}
