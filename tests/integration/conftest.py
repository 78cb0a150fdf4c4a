from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import awaken as restate
from awaken.admin.app import AdminApp
from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.testing import TestEnvironment, harness
from tests.integration import apps
from tests.integration.bad_input_support import loose

FAST_RETRIES = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=10, max_interval_ms=50, max_attempts=6)
)


@pytest.fixture(params=[False, True], ids=["in-memory", "always-replay"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[TestEnvironment]:
    """Every integration test runs twice: waiting in memory, and suspending at every await."""
    apps.reset()
    async with harness(apps.app, always_replay=request.param, config=FAST_RETRIES) as environment:
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
