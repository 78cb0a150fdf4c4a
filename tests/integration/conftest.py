from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.testing import TestEnvironment, harness
from tests.integration import apps

FAST_RETRIES = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=10, max_interval_ms=50, max_attempts=6)
)


@pytest.fixture(params=[False, True], ids=["in-memory", "always-replay"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[TestEnvironment]:
    """Every integration test runs twice: waiting in memory, and suspending at every await."""
    apps.reset()
    async with harness(apps.app, always_replay=request.param, config=FAST_RETRIES) as environment:
        yield environment
