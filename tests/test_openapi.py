"""The API's contract: every JSON answer under /api and /webhooks is described by a response
model, and the OpenAPI document matches the snapshot checked in as tests/openapi.json, so an
accidental contract change fails here.

After an intended change, rewrite the snapshot and review its diff:

    Q2C_UPDATE_OPENAPI_SNAPSHOT=1 python -m pytest tests/test_openapi.py

Building the app for its document needs no database and no Temporal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from settings import Settings
from starter.api.app import create_app

SNAPSHOT = Path(__file__).with_name("openapi.json")
JSON_PREFIXES = ("/api/", "/webhooks/")


def openapi_document() -> dict[str, Any]:
    settings = Settings(
        database_url="",
        temporal_address="",
        temporal_namespace="",
        smtp_url="",
        public_url="",
        api_key="unused",
        api_url="",
        mail_from="",
    )
    return create_app(settings).openapi()


def described(schema: dict[str, Any]) -> bool:
    """A model, or a list of models; a bare object is what an untyped dict gives."""
    return "$ref" in schema or "$ref" in schema.get("items", {})


def untyped_json_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of the routes under /api and /webhooks whose success answer is JSON
    with no model behind it (FastAPI then documents a bare object)."""
    untyped = set()
    for path, operations in document["paths"].items():
        if not path.startswith(JSON_PREFIXES):
            continue
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                json_answer = answer.get("content", {}).get("application/json")
                if status.startswith("2") and json_answer is not None:
                    if not described(json_answer.get("schema", {})):
                        untyped.add((method, path))
    return untyped


def test_every_json_route_declares_its_response_model() -> None:
    assert untyped_json_routes(openapi_document()) == set(), "JSON routes without a model"


def test_openapi_document_matches_the_snapshot() -> None:
    written = json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("Q2C_UPDATE_OPENAPI_SNAPSHOT") == "1":
        SNAPSHOT.write_text(written, encoding="utf-8")
    assert written == SNAPSHOT.read_text(encoding="utf-8"), (
        "the OpenAPI document changed; if on purpose, rerun with Q2C_UPDATE_OPENAPI_SNAPSHOT=1"
    )
