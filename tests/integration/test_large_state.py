"""Large state values (over LARGE_VALUE): loaded only by the handlers that read them, journaled by
reference, and replayed as what they read, in memory and in always-replay mode."""

from __future__ import annotations

import asyncio

from awaken.core.journal import LARGE_VALUE, EntryKind
from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.helpers import next_awakeable


async def grow(env: TestEnvironment, key: str, tag: str, suffix: str) -> dict[str, int]:
    call = asyncio.create_task(env.client.post(f"/blobs/{key}/grow", json=tag))
    awakeable = await next_awakeable(f"grow:{tag}")
    assert (await env.client.post(f"/restate/awakeables/{awakeable}/resolve", json=suffix)).status_code == 202
    response = await call
    assert response.status_code == 200, response.text
    result: dict[str, int] = response.json()
    return result


async def test_a_large_value_replays_as_what_was_read(env: TestEnvironment) -> None:
    assert apps.BIG > LARGE_VALUE
    first = await grow(env, "k", "one", "ab")
    assert first == {"before": 0, "after": apps.BIG + 2, "keys": 1}
    second = await grow(env, "k", "two", "cde")
    assert second == {"before": apps.BIG + 2, "after": apps.BIG + 5, "keys": 1}
    assert (await env.client.post("/blobs/k/size")).json() == apps.BIG + 5
    assert (await env.engine.store.get_state("blobs", "k"))["blob"].endswith(b'abcde"')


async def test_the_journal_holds_no_copy_of_a_large_value(env: TestEnvironment) -> None:
    await grow(env, "j", "one", "x")
    await grow(env, "j", "two", "y")
    [record] = [r for r in await env.engine.store.list_invocations(service="blobs") if r.input == b'"two"']
    journal = await env.engine.store.get_journal(record.id)
    for entry in journal:
        stored = len(entry.payload or b"") + len((entry.outcome.value if entry.outcome else None) or b"")
        if entry.kind is EntryKind.SET_STATE:
            assert entry.payload is None and entry.data["size"] > LARGE_VALUE
        elif entry.kind is EntryKind.GET_STATE:
            # The first read was overwritten before the invocation ended: it was copied then only if
            # the write did not end it (here a sleep follows the write, so it was).
            assert stored == 0 or entry.data == {}
        assert stored <= LARGE_VALUE or entry.kind is EntryKind.GET_STATE


async def test_a_small_call_does_not_load_the_large_value(env: TestEnvironment) -> None:
    await grow(env, "s", "one", "z")
    claimed = []
    start_attempt = env.engine.start_attempt

    def spy(claim):  # type: ignore[no-untyped-def]
        claimed.append(claim)
        start_attempt(claim)

    env.engine.start_attempt = spy  # type: ignore[method-assign]
    assert (await env.client.post("/blobs/s/small")).json() == 1
    assert claimed and all("blob" not in c.state and "blob" in c.lazy_state for c in claimed)
