from __future__ import annotations

import asyncio
import json

from awaken.testing import TestEnvironment
from tests.integration import apps


async def test_call_returns_output_and_id(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/greet", json="ada")
    assert r.status_code == 200
    assert r.json() == "hello ada"
    assert r.headers["x-restate-id"].startswith("inv_1") and len(r.headers["x-restate-id"]) == 38
    assert apps.EFFECTS["greet:ada"] == 1


async def test_handler_without_input(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/no_input")
    assert r.status_code == 200 and r.json() == {"answer": 42}


async def test_send_then_attach_and_output(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/greet/send", json="bob")
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "Accepted" and body["invocationId"] == r.headers["x-restate-id"]
    inv = body["invocationId"]
    attached = await env.client.get(f"/restate/invocation/{inv}/attach")
    assert attached.status_code == 200 and attached.json() == "hello bob"
    out = await env.client.get(f"/restate/invocation/{inv}/output")
    assert out.status_code == 200 and out.json() == "hello bob"


async def test_idempotency_key_dedupes_calls_and_sends(env: TestEnvironment) -> None:
    headers = {"idempotency-key": "k1"}
    first = await env.client.post("/svc/greet", json="cy", headers=headers)
    second = await env.client.post("/svc/greet", json="cy", headers=headers)
    assert first.json() == second.json() == "hello cy"
    assert first.headers["x-restate-id"] == second.headers["x-restate-id"]
    sent = await env.client.post("/svc/greet/send", json="cy", headers=headers)
    assert sent.json() == {"invocationId": first.headers["x-restate-id"], "status": "PreviouslyAccepted"}
    assert apps.EFFECTS["greet:cy"] == 1


async def test_delayed_send_runs_when_due(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/greet/send?delay=10s", json="later")
    assert r.status_code == 202 and "executionTime" in r.json()
    inv = r.json()["invocationId"]
    out = await env.client.get(f"/restate/invocation/{inv}/output")
    assert out.status_code == 470
    assert apps.EFFECTS["greet:later"] == 0
    env.clock.advance(11)
    attached = await env.client.get(f"/restate/invocation/{inv}/attach")
    assert attached.json() == "hello later"


async def test_terminal_error_maps_to_status(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/terminal")
    assert r.status_code == 418
    assert r.json() == {"code": 418, "message": "teapot", "source": "invocation"}
    assert r.headers["x-restate-error-source"] == "invocation"


async def test_retries_keep_completed_steps(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/flaky", json="f1")
    assert r.status_code == 200 and r.json() == 3
    assert apps.EFFECTS["flaky-step-one:f1"] == 1  # the journaled step never ran again


async def test_run_options_give_up_with_terminal_error(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/step_gives_up")
    assert r.status_code == 200
    assert r.json().startswith("caught: ctx.run 'fails' failed after 3 attempts")
    assert apps.EFFECTS["gives_up"] == 3


async def test_determinism_helpers_are_stable(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/determinism")
    body = r.json()
    assert r.status_code == 200 and 0 <= body["r"] < 1 and len(body["u"]) == 36


async def test_service_call_and_send(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/caller", json="dan")
    assert r.status_code == 200 and r.json() == "called: hello dan"

    async def sent_ran() -> int:
        return apps.EFFECTS["greet:dan-sent"]

    from tests.integration.helpers import eventually

    assert await eventually(sent_ran, lambda n: n == 1) == 1


async def test_non_determinism_is_reported(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/non_deterministic/send", json="nd")
    inv = r.json()["invocationId"]

    async def failure() -> str:
        record = await env.engine.store.get_invocation(inv)
        assert record is not None
        return record.last_failure or ""

    from tests.integration.helpers import eventually

    message = await eventually(failure, lambda m: "NonDeterminismError" in m)
    assert "run('step')" in message and "sleep('')" in message


async def test_health(env: TestEnvironment) -> None:
    r = await env.client.get("/restate/health")
    assert r.status_code == 200 and r.json() == {"services": ["blobs", "counter", "review", "signup", "svc"]}


async def test_concurrent_calls(env: TestEnvironment) -> None:
    results = await asyncio.gather(*(env.client.post("/svc/greet", json=f"p{i}") for i in range(50)))
    assert [json.loads(r.content) for r in results] == [f"hello p{i}" for i in range(50)]


async def test_swallowed_non_determinism_still_fails_the_attempt(env: TestEnvironment) -> None:
    from tests.integration.helpers import eventually

    r = await env.client.post("/svc/swallows_non_determinism/send", json="sw")
    inv = r.json()["invocationId"]

    async def record() -> tuple[str, str]:
        rec = await env.engine.store.get_invocation(inv)
        assert rec is not None
        return rec.status.value, rec.last_failure or ""

    status, _ = await eventually(record, lambda s: "NonDeterminismError" in s[1])
    assert status != "completed"  # "swallowed" was never recorded as the outcome


async def test_attach_invocation_from_a_handler(env: TestEnvironment) -> None:
    from tests.integration.helpers import next_awakeable

    done = await env.client.post("/svc/greet", json="att")
    finished_id = done.headers["x-restate-id"]
    r = await env.client.post("/svc/attacher", json=finished_id)
    assert r.status_code == 200 and r.json() == "hello att"

    waiting = await env.client.post("/svc/approve/send", json="att2")
    waiting_id = waiting.json()["invocationId"]
    awk = await next_awakeable("att2")
    attach = asyncio.create_task(env.client.post("/svc/attacher", json=waiting_id))
    await env.client.post(f"/restate/awakeables/{awk}/resolve", json="later")
    assert (await attach).json() == {"got": "later"}

    failed = await env.client.post("/svc/terminal")
    r = await env.client.post("/svc/attacher", json=failed.headers["x-restate-id"])
    assert r.status_code == 418 and r.json()["message"] == "teapot"
    unknown = await env.client.post("/svc/attacher", json="inv_1" + "0" * 33)
    assert unknown.status_code == 404
    malformed = await env.client.post("/svc/attacher", json="nope")
    assert malformed.status_code == 400
