"""Fixtures of the compatibility suite: Restate's published services, served by awaken in-process
(httpx over ASGI), in both of Restate's conformance modes: waiting in memory, and suspending at
every await (replaying on resume, what the sdk-test-suite calls always-suspending)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from awaken.admin.app import AdminApp
from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.testing import TestEnvironment, harness
from tests.compat import testservices_app
from tests.compat.testservices import failing, non_determinism

T = TypeVar("T")

# Restate's retry policy, made fast: tests of retries wait milliseconds, not seconds
FAST_RETRIES = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=5, max_interval_ms=20, max_attempts=8)
)


def _reset_services() -> None:
    """The test services count attempts in module globals (as Restate's do): start each test at 0."""
    failing.failures = 0
    failing.eventual_success_side_effects = 0
    failing.eventual_failure_side_effects = 0
    non_determinism.invoke_counts.clear()


@pytest.fixture(params=[False, True], ids=["in-memory", "always-suspending"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[TestEnvironment]:
    _reset_services()
    async with harness(testservices_app.app, always_replay=request.param, config=FAST_RETRIES) as environment:
        yield environment


@pytest.fixture
async def admin(env: TestEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=AdminApp(env.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Poll `probe` until `ok(result)`; fails the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.01)


async def call(env: TestEnvironment, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST a JSON body (as Restate's clients do), bounded in time: a hang fails the test."""
    if body is not None:
        kwargs["json"] = body
    return await asyncio.wait_for(env.client.post(path, **kwargs), 20)
