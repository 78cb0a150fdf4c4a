"""Named signals between handlers: `ctx.signal(name)` resolved or rejected by another handler's
`ctx.resolve_signal` / `ctx.reject_signal`, kept when sent early, delivered in order, waking a
suspended receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from awaken.cli.describe import _details
from awaken.core.ids import new_invocation_id
from awaken.storage.protocol import Status
from awaken.testing import TestEnvironment, harness
from tests.integration import apps, signal_apps
from tests.integration.conftest import FAST_RETRIES
from tests.integration.helpers import eventually, next_awakeable, timer_armed


@pytest.fixture(params=[False, True], ids=["in-memory", "always-replay"])
async def env(request: pytest.FixtureRequest, db_url: str | None) -> AsyncIterator[TestEnvironment]:
    """As the suite's `env` (every backend, in memory and always replaying), serving the signal
    services."""
    apps.reset()
    async with harness(
        signal_apps.app, always_replay=request.param, config=FAST_RETRIES, db=db_url
    ) as environment:
        yield environment


async def _start(env: TestEnvironment, path: str, body: Any = None) -> str:
    sent = await env.client.post(f"{path}/send", json=body)
    assert sent.status_code == 202, sent.text
    return str(sent.json()["invocationId"])


async def _send(env: TestEnvironment, target: str, name: str, value: Any) -> httpx.Response:
    return await env.client.post(
        "/signals/send_signal", json={"target": target, "name": name, "value": value}
    )


async def _attach(env: TestEnvironment, invocation_id: str) -> httpx.Response:
    return await asyncio.wait_for(env.client.get(f"/restate/invocation/{invocation_id}/attach"), 10)


async def _status(env: TestEnvironment, invocation_id: str) -> Status | None:
    record = await env.engine.store.get_invocation(invocation_id)
    return None if record is None else record.status


async def _suspended(env: TestEnvironment, invocation_id: str) -> None:
    await eventually(lambda: _status(env, invocation_id), lambda s: s == Status.SUSPENDED)


async def test_a_signal_resolved_by_another_handler_wakes_the_suspended_receiver(
    env: TestEnvironment,
) -> None:
    receiver = await _start(env, "/signals/wait_signal", "approve")
    await _suspended(env, receiver)  # nothing else to do: it sleeps on the signal
    sent = await _send(env, receiver, "approve", {"approved": True})
    assert sent.status_code == 200 and sent.json() == "sent"
    done = await _attach(env, receiver)
    assert done.status_code == 200 and done.json() == {"approved": True}
    journal = [(e.kind.value, e.name, e.data) for e in await env.engine.store.get_journal(receiver)]
    assert journal == [("signal", "approve", {"ordinal": 1})]


async def test_a_rejected_signal_raises_a_terminal_error_with_its_code(env: TestEnvironment) -> None:
    receiver = await _start(env, "/signals/wait_signal", "approve")
    req = {"target": receiver, "name": "approve", "reject": "not approved", "code": 403}
    assert (await env.client.post("/signals/send_signal", json=req)).status_code == 200
    done = await _attach(env, receiver)
    assert done.status_code == 403 and done.json()["message"] == "not approved"


async def test_signals_of_one_name_arrive_in_order_and_once(env: TestEnvironment) -> None:
    receiver = await _start(env, "/signals/wait_signals", {"name": "n", "count": 3})
    for value in (1, 2, 3):
        assert (await _send(env, receiver, "n", value)).status_code == 200
    assert (await _send(env, receiver, "other", 99)).status_code == 200  # another name: not these
    done = await _attach(env, receiver)
    assert done.status_code == 200 and done.json() == [1, 2, 3]


async def test_a_signal_sent_before_the_await_is_kept(env: TestEnvironment) -> None:
    receiver = await _start(env, "/signals/signal_after_awakeable", "early")
    awakeable = await next_awakeable("early")  # it waits on the awakeable, not on the signal yet
    assert (await _send(env, receiver, "early", "kept")).status_code == 200
    assert (
        await env.client.post(f"/restate/awakeables/{awakeable}/resolve", json="first")
    ).status_code == 202
    done = await _attach(env, receiver)
    assert done.status_code == 200 and done.json() == ["first", "kept"]


async def test_select_between_a_signal_and_a_sleep(env: TestEnvironment) -> None:
    signalled = await _start(env, "/signals/signal_or_timeout")
    await timer_armed(env)
    assert (await _send(env, signalled, "go", "now")).status_code == 200
    assert (await _attach(env, signalled)).json() == ["signal", "now"]

    timed_out = await _start(env, "/signals/signal_or_timeout")
    await eventually(lambda: env.engine.store.get_journal(timed_out), lambda j: len(j) >= 2)
    env.clock.advance(11)
    assert (await _attach(env, timed_out)).json() == ["timeout", None]
    # a late signal to the completed invocation is dropped: the sender sees no error
    assert (await _send(env, timed_out, "go", "late")).status_code == 200


async def test_signals_to_unknown_invocations_are_dropped_and_bad_ids_refused(env: TestEnvironment) -> None:
    unknown = new_invocation_id(1_700_000_000_000, bytes(16))
    sent = await _send(env, unknown, "s", 1)
    assert sent.status_code == 200 and sent.json() == "sent"
    assert await env.engine.store.get_invocation(unknown) is None
    bad = await _send(env, "inv_nope", "s", 1)
    assert bad.status_code == 400 and "bad invocation id" in bad.json()["message"]


async def test_an_invocation_signals_itself(env: TestEnvironment) -> None:
    r = await env.client.post("/signals/signal_self", json="hello me")
    assert r.status_code == 200 and r.json() == "hello me"


async def test_an_exclusive_handler_waiting_on_a_signal_keeps_its_key_locked(env: TestEnvironment) -> None:
    holder = await _start(env, "/signal_box/k/hold")
    await _suspended(env, holder)
    queued = await _start(env, "/signal_box/k/take")
    assert await _status(env, queued) == Status.PENDING  # behind the key lock the holder keeps
    assert (await _send(env, holder, "release", "released")).status_code == 200
    assert (await _attach(env, holder)).json() == "released"
    assert (await _attach(env, queued)).json() == "released"  # ran after the holder, saw its write


async def test_the_admin_journal_shows_signal_entries_readably(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    receiver = await _start(env, "/signals/wait_signal", "approve")
    sent = await env.client.post(
        "/signals/send_signal", json={"target": receiver, "name": "approve", "value": {"ok": 1}}
    )
    assert (await _attach(env, receiver)).status_code == 200
    got = (await admin.get(f"/invocations/{receiver}")).json()["journal"]
    assert [(e["kind"], e["name"], e["data"], e["result"]) for e in got] == [
        ("signal", "approve", {"ordinal": 1}, {"value": {"ok": 1}})
    ]
    send = (await admin.get(f"/invocations/{sent.headers['x-restate-id']}")).json()["journal"][0]
    assert (send["kind"], send["name"], send["data"], send["payload"]) == (
        "send_signal",
        "approve",
        {"invocation_id": receiver},
        {"ok": 1},
    )
    assert _details(got[0]) == "signal #1 of this name"
    assert _details(send) == f'to {receiver}; in: {{"ok": 1}}'
    rejected = {"kind": "send_signal", "data": {"invocation_id": receiver, "code": 403, "message": "no"}}
    assert _details(rejected) == f"to {receiver}; rejected 403: no"
