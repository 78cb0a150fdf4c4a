from __future__ import annotations

import asyncio

from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.helpers import eventually, next_awakeable


async def test_state_survives_and_is_per_key(env: TestEnvironment) -> None:
    assert (await env.client.post("/counter/a/add", json=2)).json() == 2
    assert (await env.client.post("/counter/a/add", json=3)).json() == 5
    assert (await env.client.post("/counter/b/add", json=1)).json() == 1
    assert (await env.client.post("/counter/a/get")).json() == 5


async def test_key_is_url_decoded(env: TestEnvironment) -> None:
    assert (await env.client.post("/counter/a%2Fb%20c/add", json=7)).json() == 7
    assert (await env.client.post("/counter/a%2Fb%20c/get")).json() == 7


async def test_state_keys_and_clear(env: TestEnvironment) -> None:
    await env.client.post("/counter/k/add", json=1)
    assert sorted((await env.client.post("/counter/k/reset_state")).json()) == ["other", "value"]
    assert (await env.client.post("/counter/k/get")).json() == 0


async def test_awakeable_keeps_key_locked(env: TestEnvironment) -> None:
    hold = asyncio.create_task(env.client.post("/counter/x/hold"))
    awk = await next_awakeable("hold:x")
    queued = asyncio.create_task(env.client.post("/counter/x/add", json=1))

    async def pending() -> list[str]:
        return [r.status.value for r in await env.engine.store.list_invocations(service="counter")]

    await eventually(pending, lambda s: "pending" in s)
    # other keys and shared handlers are not blocked
    assert (await env.client.post("/counter/y/add", json=5)).json() == 5
    assert (await env.client.post("/counter/x/get")).json() == 0
    assert not queued.done() and apps.EFFECTS["add:x"] == 0
    await env.client.post(f"/restate/awakeables/{awk}/resolve", json=10)
    assert (await hold).json() == 10
    assert (await queued).json() == 11  # ran after, in order


async def test_exclusive_calls_queue_in_order(env: TestEnvironment) -> None:
    hold = asyncio.create_task(env.client.post("/counter/q/hold"))
    awk = await next_awakeable("hold:q")
    calls = []
    for i in range(5):
        calls.append(asyncio.create_task(env.client.post("/counter/q/add", json=10**i)))

        async def queued(n: int = i + 1) -> int:
            rows = await env.engine.store.list_invocations(service="counter")
            return sum(r.status.value == "pending" for r in rows)

        await eventually(queued, lambda n, want=i + 1: n == want)
    await env.client.post(f"/restate/awakeables/{awk}/resolve", json=0)
    await hold
    results = [(await c).json() for c in calls]
    assert results == [1, 11, 111, 1111, 11111]
