"""Fixtures of the storage contract tests: one suite, run on every backend (a real SQLite file per
test; a real PostgreSQL database per session, emptied between tests), no mocks."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.postgres import PostgresStore
from awaken.storage.protocol import PayloadValidator
from awaken.storage.sqlite import SqliteStore
from tests import pg

StoreFactory = Callable[..., Awaitable[LifecycleStore]]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "awaken.db")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this test session on the test PostgreSQL server."""
    name = f"awaken_contract_{os.getpid()}"
    yield pg.fresh_database(name)
    pg.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_store(
    backend: str, request: pytest.FixtureRequest, db_path: str
) -> AsyncIterator[StoreFactory]:
    """Opens stores on this test's database (another one is another node, or a restart); they are
    closed at the end of the test."""
    opened: list[LifecycleStore] = []
    url = ""
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        await pg.empty(url)

    async def factory(**options: Any) -> LifecycleStore:
        store: LifecycleStore = (
            SqliteStore(db_path, **options) if backend == "sqlite" else PostgresStore(url, **options)
        )
        await store.open()
        opened.append(store)
        return store

    try:
        yield factory
    finally:
        for store in opened:
            await store.close()  # type: ignore[attr-defined]


@pytest.fixture
async def store(open_store: StoreFactory) -> LifecycleStore:
    return await open_store()


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
