from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from awaken.testing import TestEnvironment
from tests.integration import apps

T = TypeVar("T")


async def next_awakeable(channel: str, timeout: float = 5.0) -> str:
    """The next awakeable id a handler handed out on `channel`."""
    return await asyncio.wait_for(apps.OUTBOX[channel].get(), timeout)


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 5.0) -> T:
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


async def timer_armed(env: TestEnvironment) -> None:
    """Wait until some durable timer is stored (a handler reached its sleep or deadline)."""
    await eventually(env.engine.store.next_timer_ms, lambda t: t is not None)
