"""Every command family of the official SDKs, run by awaken's engine (SPEC §8), on each SDK in
each mode: the TypeScript SDK on HTTP/2 (bidirectional) and HTTP/1.1 (request/response), the
Python SDK under hypercorn (HTTP/2) and uvicorn (HTTP/1.1).

Calls go through awaken's ingress, as a user's would; the state of invocations is read from the
admin API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import ENDPOINTS, Endpoint, client_ports
from tests.protocol.server import Awaken, serve

# bidirectional streams are asked to suspend after 0.3 s of silence (Restate: 1 min), so that
# the tests see suspensions and resumptions in both modes
CONFIG = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=20, max_interval_ms=200, max_attempts=20),
    remote_inactivity=0.3,
)


@pytest.fixture(params=SDK_ENDPOINTS)
async def remote(
    request: pytest.FixtureRequest, endpoint: Callable[[str], Endpoint]
) -> AsyncIterator[Awaken]:
    ep = endpoint(request.param)
    async with serve(config=CONFIG) as awaken:
        await awaken.register(ep.url)
        yield awaken


async def call(awaken: Awaken, path: str, body: Any = None, **kw: Any) -> Any:
    r = await awaken.ingress.post(path, json=body, **kw)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def test_input_and_output(remote: Awaken) -> None:
    assert await call(remote, "/Greeter/greet", "Ada") == "Hello Ada!"


@pytest.mark.parametrize("kind", [k for k in SDK_ENDPOINTS if ENDPOINTS[k].bidi])
async def test_bidirectional_invocations_one_after_another_share_a_connection(
    kind: str, endpoint: Callable[[str], Endpoint]
) -> None:
    # Once the SDK has sent End, awaken ends its side and the SDK ends the stream: the HTTP/2
    # connection goes on to the next invocation (a stream reset early would retire it).
    ep = endpoint(kind)
    port = int(ep.url.rsplit(":", 1)[1])
    async with serve(config=CONFIG) as awaken:
        await awaken.register(ep.url)
        assert await call(awaken, "/Greeter/greet", "first") == "Hello first!"
        before = client_ports(port)
        for i in range(10):
            assert await call(awaken, "/Greeter/greet", f"n{i}") == f"Hello n{i}!"
            assert client_ports(port) <= before, "an invocation opened a new connection"


async def test_eager_state_of_a_virtual_object(remote: Awaken) -> None:
    assert await call(remote, "/Counter/c1/add", 2) == 2
    assert await call(remote, "/Counter/c1/add", 3) == 5
    assert await call(remote, "/Counter/c2/add", 7) == 7
    assert await call(remote, "/Counter/c1/get") == 5
    assert await call(remote, "/Counter/c1/keys") == ["count"]
    state = (await remote.admin.get("/services/Counter/state/c1")).json()["state"]
    assert state == {"count": 5}
    await call(remote, "/Counter/c1/reset")
    assert await call(remote, "/Counter/c1/get") == 0
    assert await call(remote, "/Counter/c2/get") == 7


async def test_lazy_state(remote: Awaken) -> None:
    assert await call(remote, "/LazyCounter/k/add", 4) == 4
    assert await call(remote, "/LazyCounter/k/add", 1) == 5


async def test_a_durable_sleep_suspends_and_resumes(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Sleeper/sleep/send", json=1500)
    invocation_id = sent.json()["invocationId"]
    waiting = await remote.wait_status(invocation_id, "suspended")
    assert [e["type"] for e in waiting["journal"]][:2] == ["Input", "Sleep"]
    output = await remote.ingress.get(f"/restate/invocation/{invocation_id}/output")
    assert output.status_code == 470  # not completed yet (Restate's code)
    attached = await remote.ingress.get(f"/restate/invocation/{invocation_id}/attach")
    assert attached.json() == "slept"


async def test_run_with_a_proposed_completion(remote: Awaken) -> None:
    assert await call(remote, "/Runner/run", 21) == 42


async def test_a_one_step_handler_costs_three_writes(remote: Awaken) -> None:
    # The invocation's creation, the run's result (bidirectional: stored before it is
    # acknowledged; request/response: stored with the suspension that waits for it, which
    # resumes at once) and the completion. The RunCommand goes with the run's result: writing it
    # alone would cost every step a commit (an fsync in durable mode) that protects nothing.
    assert await call(remote, "/Runner/run", 1) == 2  # (the deployment's connection is made)
    before = remote.engine.store.stats()["batches_committed"]
    assert await call(remote, "/Runner/run", 21) == 42
    assert remote.engine.store.stats()["batches_committed"] - before == 3


async def test_a_step_that_runs_for_a_while_is_in_the_journal_meanwhile(
    remote: Awaken, tmp_path: Path
) -> None:
    # A RunCommand waits for the next write (its result, usually), but not for long: a step
    # still running after PENDING_WRITE_S is written, and seen in the admin API.
    gate = tmp_path / "gate"
    sent = await remote.ingress.post("/Runner/hold/send", json=str(gate))
    invocation_id = sent.json()["invocationId"]
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        journal = (await remote.admin.get(f"/invocations/{invocation_id}")).json()["journal"]
        if [e["type"] for e in journal] == ["Input", "Run"]:
            break
        assert asyncio.get_running_loop().time() < deadline, journal
        await asyncio.sleep(0.02)
    gate.touch()
    attached = await remote.ingress.get(f"/restate/invocation/{invocation_id}/attach")
    assert attached.json() == "released"


async def test_a_call_and_its_invocation_id(remote: Awaken) -> None:
    assert await call(remote, "/Caller/call", "Bo") == "Hello Bo!"
    # the callee ran once, under the idempotency key the handler gave it
    page = (await remote.admin.get("/invocations", params={"service": "Greeter"})).json()
    assert [(i["idempotency_key"], i["status"]) for i in page["invocations"]] == [("call-Bo", "completed")]


async def test_a_delayed_one_way_call_with_an_idempotency_key(remote: Awaken) -> None:
    child_id = await call(remote, "/Caller/send", "Cy")
    assert child_id.startswith("inv_1")
    child = (await remote.admin.get(f"/invocations/{child_id}")).json()
    assert child["status"] == "scheduled" and child["idempotency_key"] == "send-Cy"
    assert child["run_at"] - child["created_at"] >= 4900  # the SDK's 5 s delay
    # the same send again: the same child (its idempotency key), not a second one
    assert await call(remote, "/Caller/send", "Cy") == child_id


async def test_attach_and_cancel_from_a_handler(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Sleeper/sleep/send", json=60_000)
    sleeper_id = sent.json()["invocationId"]
    await remote.wait_status(sleeper_id, "suspended")
    attach = asyncio.ensure_future(remote.ingress.post("/Caller/attach", json=sleeper_id))
    assert await call(remote, "/Caller/cancel", sleeper_id) == "cancelled"
    cancelled = await remote.wait_status(sleeper_id, "completed")
    assert cancelled["completion_failure"]["code"] == 409
    r = await attach
    assert r.status_code == 409, r.text  # the attached handler fails with the callee's failure


async def test_workflow_promises(remote: Awaken) -> None:
    started = await remote.ingress.post("/Signup/w1/run/send", json="ada@example.com")
    assert started.status_code == 202, started.text
    assert await call(remote, "/Signup/w1/peek") is None
    await call(remote, "/Signup/w1/confirm", "1234")
    assert await call(remote, "/Signup/w1/peek") == "1234"
    r = await remote.ingress.get("/restate/workflow/Signup/w1/attach")
    assert r.json() == "ada@example.com confirmed with 1234"


async def test_awakeables_completed_from_a_handler(remote: Awaken) -> None:
    for verb, body, expected in (("resolve", "yes", 200), ("reject", "no", 500)):
        sent = await remote.ingress.post("/Reviews/review/send", json=f"item-{verb}")
        invocation_id = sent.json()["invocationId"]
        awakeable_id = await awakeable_of(remote, invocation_id)
        key = "value" if verb == "resolve" else "reason"
        await call(remote, f"/Reviews/{verb}", {"id": awakeable_id, key: body})
        r = await remote.ingress.get(f"/restate/invocation/{invocation_id}/attach")
        assert r.status_code == expected, r.text
        if verb == "resolve":
            assert r.json() == "item-resolve: yes"
        else:
            assert "no" in r.json()["message"]


async def test_a_terminal_error_reaches_the_caller(remote: Awaken) -> None:
    r = await remote.ingress.post("/Flaky/terminal", json=None)
    assert r.status_code == 404, r.text
    assert r.json()["message"] == "no such order"


async def test_errors_are_retried_under_the_deployments_policy(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Flaky/fail/send", json=None)
    invocation_id = sent.json()["invocationId"]
    # the deployment's policy: 3 attempts, then the server's default on-max-attempts (pause)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        body = (await remote.admin.get(f"/invocations/{invocation_id}")).json()
        if body["status"] == "paused":
            break
        assert loop.time() < deadline, body
        await asyncio.sleep(0.02)
    assert body["attempts"] == 3
    assert "flaky failure" in (body["last_failure"] or "")


async def test_a_retry_delay_asked_by_the_handler_is_respected(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Flaky/failRun/send", json=None)
    invocation_id = sent.json()["invocationId"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        body = (await remote.admin.get(f"/invocations/{invocation_id}")).json()
        if body["status"] == "backing-off":
            break
        assert loop.time() < deadline, body
        await asyncio.sleep(0.02)
    assert body["run_at"] - body["modified_at"] >= 1400  # the handler's 1.5 s, not the policy's 100 ms
    assert "not yet" in body["last_failure"]


async def awakeable_of(awaken: Awaken, invocation_id: str) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        journal = (await awaken.admin.get(f"/invocations/{invocation_id}")).json()["journal"]
        for entry in journal:
            if entry["type"] == "Run" and entry["kind"] == "notification" and entry["result"]:
                return str(entry["result"]["value"]["awakeableId"])
        assert loop.time() < deadline, journal
        await asyncio.sleep(0.02)


async def test_a_journal_mismatch_is_reported_with_the_sdks_code(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Nondeterministic/run/send", json=None)
    invocation_id = sent.json()["invocationId"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        body = (await remote.admin.get(f"/invocations/{invocation_id}")).json()
        if (body["last_failure"] or "").startswith("[570]"):
            break
        assert loop.time() < deadline, body
        await asyncio.sleep(0.02)
    assert body["status"] in ("backing-off", "running")  # retried, as any failure


async def test_cancelled_over_the_admin_api_while_it_waits(remote: Awaken) -> None:
    sent = await remote.ingress.post("/Reviews/review/send", json="never")
    invocation_id = sent.json()["invocationId"]
    await awakeable_of(remote, invocation_id)
    await remote.wait_status(invocation_id, "suspended")
    await cancel_ends_with_409(remote, invocation_id)


async def cancel_ends_with_409(awaken: Awaken, invocation_id: str) -> None:
    """Cancel through `awaken`'s admin API: the SDK sees the cancellation signal and ends the
    handler with Restate's failure, which becomes the invocation's output."""
    r = await awaken.admin.patch(f"/invocations/{invocation_id}/cancel")
    assert r.status_code in (200, 202), r.text
    done = await awaken.wait_status(invocation_id, "completed")
    assert done["completion_failure"]["code"] == 409, done
    out = await awaken.ingress.get(f"/restate/invocation/{invocation_id}/output")
    assert out.status_code == 409, out.text
