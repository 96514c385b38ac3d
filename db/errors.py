"""The data access layer's own exceptions (db.store re-exports them for older callers)."""

from __future__ import annotations


class NotFound(LookupError):
    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier} not found")
        self.kind = kind
