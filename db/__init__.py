"""The data-access layer: every SQL statement q2c runs, and the schema's migrations.

One module per aggregate (clients, proposals, invoices, payments, tasks, documents,
audit, outbox, events, ...), each a set of named async functions with typed parameters
and typed results: callers never see raw asyncpg records. `migrations/` holds the dbmate
SQL files, shipped as package data.

Imported by activities/ and starter/ (and worker.py); imports only domain/, messages/
and settings, never a layer above it.
"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
