"""Operator views of a proposal's evidence: the audit trail and the signed PDF."""

from __future__ import annotations

from fastapi import FastAPI


def add_audit_routes(app: FastAPI) -> None:
    """Registers /api/v1/proposals/{id}/audit and /api/v1/proposals/{id}/signed.pdf."""
