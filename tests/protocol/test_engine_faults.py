"""Bad deployments (SPEC §8, issue point 7): refused connections, 5xx, garbage, a wrong content
type, protocol violations, timeouts, an endpoint that hangs after the headers. Each attempt fails
with a clear error in the admin API, is retried under the policy, never blocks the engine or other
invocations, and the invocation completes once the endpoint is fixed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.protocol import Timeouts
from tests.protocol.local_app import services
from tests.protocol.rig import ENDPOINTS, Endpoint, start_endpoint, stop_endpoint
from tests.protocol.server import Awaken, serve
from tests.protocol.test_engine_commands import call

CONFIG = EngineConfig(
    retry_policy=RetryPolicy(initial_interval_ms=50, max_interval_ms=300, max_attempts=1000),
    remote_inactivity=0.3,
    remote_timeouts=Timeouts(connect=2.0, response=1.0, read=1.0, write=1.0),
)

# behaviour of the misbehaving endpoint -> what the failure says (either text, per HTTP version)
EXPECTED = {
    "status500": ("deployment answered HTTP 500: internal error (on purpose)",),
    "status404": ("deployment answered HTTP 404",),
    "garbage": ("unknown message type 0x1337",),
    "wrong_content_type": (
        "expected content-type 'application/vnd.restate.invocation.v6', got 'application/json'",
    ),
    "unknown_type": ("unknown message type 0x0BAD",),
    "violation": ("[571] protocol violation: unexpected StartMessage",),
    "no_such_time": ("[571] protocol violation: a sleep's wake-up time is 18446744073709551615 ms",),
    "no_terminator": ("[571] the deployment ended the stream without End, Suspension or Error",),
    "error_message": ("[500] boom (on purpose)",),
    "truncated": ("stream ended after 18 of 108 bytes of a message",),
    "oversize": ("message of 4294967295 bytes exceeds the limit",),
    # hypercorn answers 500 for a stream whose application never answered, once others failed
    "hang_before_headers": (
        "no response headers within 1 s",
        "the deployment did not answer within the timeout",
        "deployment answered HTTP 500",
    ),
    "hang_after_headers": ("no response data within", "no response data within the read timeout"),
    "drop": ("reading the response failed", "no response data within", "closed the connection"),
}


@pytest.fixture(params=["bad-h1", "bad-h2"])
async def bad(request: pytest.FixtureRequest, endpoint: Callable[[str], Endpoint]) -> AsyncIterator[Awaken]:
    healthy = endpoint("ts-h2" if request.param == "bad-h2" else "ts-h1")
    ep = start_endpoint(ENDPOINTS[request.param])  # its own: the switchable behaviour is global
    try:
        async with serve(services, config=CONFIG) as awaken:
            await awaken.register(ep.url)
            await awaken.register(healthy.url)
            yield awaken
    finally:
        stop_endpoint(ep)


async def _failure_of(awaken: Awaken, invocation_id: str, texts: tuple[str, ...]) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        body = (await awaken.admin.get(f"/invocations/{invocation_id}")).json()
        failure = body["last_failure"] or ""
        if body["attempts"] >= 2 and any(t in failure for t in texts):
            return dict(body)
        assert body["status"] != "completed", body
        assert loop.time() < deadline, (texts, body)
        await asyncio.sleep(0.05)


async def test_every_fault_fails_its_attempt_clearly_and_is_retried(bad: Awaken) -> None:
    sent = {b: await bad.ingress.post(f"/Bad/{b}/send", json="x") for b in [*EXPECTED, "switchable"]}
    ids = {b: r.json()["invocationId"] for b, r in sent.items()}
    # meanwhile the engine serves everything else: a local handler, a healthy deployment, and
    # the same bad deployment's well-behaved handlers
    assert await call(bad, "/Local/hello", "x") == "local hello x"
    assert await call(bad, "/Greeter/greet", "y") == "Hello y!"
    assert await call(bad, "/Bad/ok", "fine") == "fine"
    assert await call(bad, "/Bad/slow", None) == "slow"
    failures = await asyncio.gather(*(_failure_of(bad, ids[b], texts) for b, texts in EXPECTED.items()))
    assert all(f["status"] in ("running", "backing-off") for f in failures)
    error = next(f for f in failures if f["id"] == ids["error_message"])
    # the SDK's next_retry_delay (1234 ms) is respected, not the policy's 50 ms
    assert int(error["run_at"]) - int(error["modified_at"]) >= 1200 or error["status"] == "running"
    # fixed: the switchable handler answers now, and its invocation completes
    await _failure_of(bad, ids["switchable"], EXPECTED["status500"])
    endpoint_url = (await bad.admin.get("/deployments")).json()["deployments"][0]["uri"]
    async with __import__("httpx").AsyncClient() as raw:
        assert (await raw.post(f"{endpoint_url}/control", content=b"ok")).status_code == 200
    r = await bad.ingress.get(f"/restate/invocation/{ids['switchable']}/attach")
    assert r.status_code == 200 and r.json() == "x", r.text


async def test_a_refused_connection_is_retried_until_the_endpoint_is_back() -> None:
    ep = start_endpoint(ENDPOINTS["bad-h1"])
    port = ep.url.rsplit(":", 1)[1]
    try:
        async with serve(services, config=CONFIG) as awaken:
            await awaken.register(ep.url)
            stop_endpoint(ep)
            invocation_id = (await awaken.ingress.post("/Bad/ok/send", json="back")).json()["invocationId"]
            failure = await _failure_of(awaken, invocation_id, ("cannot connect",))
            assert failure["status"] in ("running", "backing-off")
            assert await call(awaken, "/Local/hello", "z") == "local hello z"  # the engine is fine
            ep = start_endpoint(ENDPOINTS["bad-h1"], env={"ENDPOINT_PORT": port})
            r = await awaken.ingress.get(f"/restate/invocation/{invocation_id}/attach")
            assert r.status_code == 200 and r.json() == "back", r.text
    finally:
        stop_endpoint(ep)
