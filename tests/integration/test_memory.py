"""A suspended invocation must cost nothing in memory: its coroutine, context and futures are
freed when it suspends, by reference counting alone (`awaken serve` runs the cyclic collector
rarely, so a reference cycle per invocation would pile up)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from awaken.testing import TestEnvironment
from tests.integration.helpers import eventually, next_awakeable


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """Objects that only the cyclic collector could free, created while the test runs."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def awaken_objects(objects: list[object]) -> list[str]:
    names = []
    for obj in objects:
        module = type(obj).__module__ or ""
        if module.startswith("awaken") or type(obj).__name__ in ("frame", "traceback", "coroutine"):
            names.append(f"{module}.{type(obj).__qualname__}")
    return names


async def test_suspending_and_completing_leave_no_reference_cycles(
    env: TestEnvironment, saved_garbage: list[object]
) -> None:
    ids = []
    for i in range(20):
        r = await env.client.post("/svc/approve/send", json=f"mem-{i}")
        assert r.status_code == 202
        ids.append(r.json()["invocationId"])
    awakeables = [await next_awakeable(f"mem-{i}") for i in range(20)]
    await eventually(lambda: env.engine.store.count_invocations(), lambda c: c.get("suspended", 0) == 20)
    for awakeable_id in awakeables:
        r = await env.client.post(f"/restate/awakeables/{awakeable_id}/resolve", json="ok")
        assert r.status_code == 202
    for invocation_id in ids:
        r = await env.client.get(f"/restate/invocation/{invocation_id}/output")
        assert r.status_code == 200 and r.json() == {"got": "ok"}
    gc.collect()
    leaked = awaken_objects(saved_garbage)
    assert leaked == [], f"{len(leaked)} objects in reference cycles, e.g. {sorted(set(leaked))[:10]}"
