"""Deterministic orchestration: ids, statuses, dates and the next step. No I/O here.

One module per workflow (proposal, invoice, event delivery) plus `steps` (how a workflow
runs an activity). Imports only domain/ and messages/ (through
`workflow.unsafe.imports_passed_through()`); activities are called by name. Imported by
worker.py, activities/ (to start a workflow) and starter/.
"""
