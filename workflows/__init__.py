"""Deterministic orchestration: ids, statuses, dates and the next step. No I/O here."""
