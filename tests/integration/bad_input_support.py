"""Helpers of the bad-input tests: the stored-data snapshot, error checks, and fixtures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

import awaken as restate
from awaken.core.ids import InvocationId, new_awakeable_id
from awaken.storage.protocol import Status
from awaken.testing import TestEnvironment
from tests.integration.helpers import eventually

JSON = {"content-type": "application/json"}
COUNTER_KEYS = ("k", "k1", "k2", "fuzz", "a/b", "\ufffd")
UNKNOWN_INV = str(InvocationId.from_random(1_700_000_000_000, bytes(range(16))))
UNKNOWN_SIGN = new_awakeable_id(bytes(range(28)))
UNKNOWN_PROM = "prom_1" + UNKNOWN_SIGN[len("sign_1") :]

# An untyped handler (`Any`): its input is decoded with plain `json.loads`.
loose = restate.Service("loose")


@loose.handler()
async def echo(ctx: restate.Context, value: Any) -> Any:
    return value


# -- helpers ---------------------------------------------------------------------------------


async def snapshot(env: TestEnvironment) -> dict[str, Any]:
    """Everything a bad request must not change. Statuses are left out: a waiting invocation may
    move between running and suspended on its own."""
    store = env.engine.store
    invocations = []
    for rec in await store.list_invocations(limit=100_000):
        journal = [(e.index, e.kind, e.name, e.payload, e.outcome) for e in await store.get_journal(rec.id)]
        invocations.append(
            (rec.id, rec.service, rec.handler, rec.key, rec.input, rec.idempotency_key, rec.outcome, journal)
        )
    awakeables = [(a.id, a.invocation_id, a.status) for a in await store.list_awakeables(limit=100_000)]
    state = {key: await store.get_state("counter", key) for key in COUNTER_KEYS}
    return {
        "invocations": sorted(invocations, key=lambda row: row[0]),
        "awakeables": awakeables,
        "state": state,
    }


def assert_error(r: httpx.Response, status: int, source: str = "ingress") -> dict[str, Any]:
    """Restate's error answer (≥ 1.7.5): JSON body {code, message, source} and the source header."""
    context = f"{r.request.method} {str(r.request.url)[:200]} -> {r.status_code} {r.text[:300]}"
    assert r.status_code == status, context
    assert r.headers.get("x-restate-error-source") == source, context
    assert r.headers.get("content-type", "").startswith("application/json"), context
    body = r.json()
    assert body["code"] == status, context
    assert isinstance(body["message"], str) and body["message"], context
    assert body["source"] == source, context
    assert set(body) - {"code", "message", "source"} <= {"errors"}, context
    return body


async def rejected(env: TestEnvironment, method: str, url: str, status: int, **kwargs: Any) -> dict[str, Any]:
    """Send a bad request; check its error answer and that stored data did not change."""
    before = await snapshot(env)
    r = await asyncio.wait_for(env.client.request(method, url, **kwargs), 10)
    body = assert_error(r, status)
    assert await snapshot(env) == before, f"{method} {url} changed stored data"
    return body


async def attach(env: TestEnvironment, invocation_id: str) -> httpx.Response:
    """The invocation's answer, waited for with a bound (a hang fails the test, not the run)."""
    return await asyncio.wait_for(env.client.get(f"/restate/invocation/{invocation_id}/attach"), 10)


async def send_and_settle(env: TestEnvironment, url: str, payload: Any) -> str:
    """Send to a handler that waits on an awakeable; return once it is suspended (journal stable)."""
    r = await env.client.post(url, json=payload)
    assert r.status_code == 202, r.text
    inv = str(r.json()["invocationId"])

    async def status() -> Status:
        return (await env.engine.get_invocation(inv)).status

    await eventually(status, lambda s: s == Status.SUSPENDED)
    return inv
