"""Run inside a render process by tests/test_render_processes.py: imports nothing itself."""

from __future__ import annotations

import sys


def imported(names: list[str]) -> list[str]:
    return [name for name in names if name in sys.modules]
