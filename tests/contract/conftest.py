"""Fixtures of the storage contract tests: a real SQLite file per test, no mocks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from awaken.storage.protocol import PayloadValidator
from awaken.storage.sqlite import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "awaken.db")


@pytest.fixture
async def store(db_path: str) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(db_path)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _json_schema_validator(schema: dict[str, Any], payload: bytes) -> list[str]:
    try:
        value = json.loads(payload or b"null")
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(value)]


@pytest.fixture
def validate() -> PayloadValidator:
    """A PayloadValidator checking payloads against JSON schemas with `jsonschema`."""
    return _json_schema_validator
