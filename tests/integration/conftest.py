from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

import awaken as restate
from awaken.admin.app import AdminApp
from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.testing import TestEnvironment, harness
from tests import pg
from tests.integration import apps
from tests.integration.bad_input_support import loose

FAST_RETRIES = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=10, max_interval_ms=50, max_attempts=6)
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this test session on the test PostgreSQL server."""
    name = f"awaken_integration_{os.getpid()}"
    yield pg.fresh_database(name)
    pg.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The `--db` of the test's engine: None for a fresh SQLite file, or the emptied PostgreSQL
    database of the session."""
    if backend == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    await pg.empty(url)
    return url


@pytest.fixture(params=[False, True], ids=["in-memory", "always-replay"])
async def env(request: pytest.FixtureRequest, db_url: str | None) -> AsyncIterator[TestEnvironment]:
    """Every integration test runs on every backend, twice: waiting in memory, and suspending at
    every await."""
    apps.reset()
    async with harness(apps.app, always_replay=request.param, config=FAST_RETRIES, db=db_url) as environment:
        yield environment


@pytest.fixture
async def small_env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestEnvironment]:
    """The test services with a 64-byte body limit (set as `awaken serve` would: AWAKEN_MAX_BODY)."""
    apps.reset()
    monkeypatch.setenv("AWAKEN_MAX_BODY", "64")
    async with harness(apps.app, config=FAST_RETRIES) as environment:
        yield environment


@pytest.fixture
async def loose_env() -> AsyncIterator[TestEnvironment]:
    """An app serving the untyped `loose` service."""
    async with harness(restate.app(services=[loose]), config=FAST_RETRIES) as environment:
        yield environment


@pytest.fixture
async def admin(env: TestEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API of `env`'s app, in-process."""
    transport = httpx.ASGITransport(app=AdminApp(env.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client
