"""restate-sdk's test services, driven as the sdk-test-suite drives them: state, proxies, utils,
workflows and failures (Counter, ListObject, MapObject, Proxy, TestUtilsService,
BlockAndWaitWorkflow, Failing)."""

from __future__ import annotations

import asyncio
import json

import httpx

from awaken.testing import TestEnvironment
from tests.compat import testservices_app
from tests.compat.conftest import call, eventually


def test_the_whole_test_services_app_loads() -> None:
    # on Python 3.11: TypedDicts inside Iterable/Optional/Union, Literal aliases, unannotated inputs
    assert len(testservices_app.app.services) == 18


async def test_counter_add_get_reset(env: TestEnvironment) -> None:
    assert (await call(env, "/Counter/c1/add", 3)).json() == {"oldValue": 0, "newValue": 3}
    assert (await call(env, "/Counter/c1/add", 4)).json() == {"oldValue": 3, "newValue": 7}
    assert (await call(env, "/Counter/c1/get")).json() == 7
    assert (await call(env, "/Counter/c2/get")).json() == 0
    assert (await call(env, "/Counter/c1/reset")).status_code == 200
    assert (await call(env, "/Counter/c1/get")).json() == 0


async def test_counter_add_then_fail_keeps_the_state(env: TestEnvironment) -> None:
    r = await call(env, "/Counter/fail-key/addThenFail", 1)
    assert r.status_code == 500 and r.json()["message"] == "fail-key"
    assert (await call(env, "/Counter/fail-key/get")).json() == 1


async def test_list_object(env: TestEnvironment) -> None:
    for value in ("a", "b", "c"):
        assert (await call(env, "/ListObject/l/append", value)).status_code == 200
    assert (await call(env, "/ListObject/l/get")).json() == ["a", "b", "c"]
    assert (await call(env, "/ListObject/l/clear")).json() == ["a", "b", "c"]
    assert (await call(env, "/ListObject/l/get")).json() == []


async def test_map_object(env: TestEnvironment) -> None:
    await call(env, "/MapObject/m/set", {"key": "k1", "value": "v1"})
    await call(env, "/MapObject/m/set", {"key": "k2", "value": "v2"})
    assert (await call(env, "/MapObject/m/get", "k1")).json() == "v1"
    assert (await call(env, "/MapObject/m/get", "nope")).json() == ""
    entries = (await call(env, "/MapObject/m/clearAll")).json()
    assert sorted(entries, key=lambda e: e["key"]) == [
        {"key": "k1", "value": "v1"},
        {"key": "k2", "value": "v2"},
    ]
    assert (await call(env, "/MapObject/m/get", "k1")).json() == ""


def _proxy_request(service: str, handler: str, message: object, **extra: object) -> dict[str, object]:
    raw = list(json.dumps(message).encode())
    return {"serviceName": service, "handlerName": handler, "message": raw, **extra}


async def test_proxy_call_one_way_call_and_idempotency(env: TestEnvironment) -> None:
    r = await call(env, "/Proxy/call", _proxy_request("TestUtilsService", "uppercaseEcho", "hi"))
    assert bytes(r.json()) == b'"HI"'
    # a keyed target through the proxy
    r = await call(env, "/Proxy/call", _proxy_request("Counter", "add", 2, virtualObjectKey="px"))
    assert json.loads(bytes(r.json())) == {"oldValue": 0, "newValue": 2}
    # one-way call: the invocation id, then its effect
    req = _proxy_request("Counter", "add", 5, virtualObjectKey="px1", idempotencyKey="once")
    first = (await call(env, "/Proxy/oneWayCall", req)).json()
    second = (await call(env, "/Proxy/oneWayCall", req)).json()
    assert first.startswith("inv_1") and first == second  # the same idempotency key, the same invocation
    await eventually(lambda: call(env, "/Counter/px1/get"), lambda r: r.json() == 5)


async def test_proxy_many_calls(env: TestEnvironment) -> None:
    add = _proxy_request("Counter", "add", 1, virtualObjectKey="many")
    requests = [
        {"proxyRequest": add, "oneWayCall": True, "awaitAtTheEnd": False},
        {"proxyRequest": add, "oneWayCall": False, "awaitAtTheEnd": True},
        {"proxyRequest": add, "oneWayCall": False, "awaitAtTheEnd": False},
        {"proxyRequest": {**add, "delayMillis": 10}, "oneWayCall": True, "awaitAtTheEnd": False},
    ]
    assert (await call(env, "/Proxy/manyCalls", requests)).status_code == 200
    await eventually(lambda: call(env, "/Counter/many/get"), lambda r: r.json() == 4)


async def test_test_utils_echo_headers_raw_and_side_effects(env: TestEnvironment) -> None:
    assert (await call(env, "/TestUtilsService/echo", "x")).json() == "x"
    assert (await call(env, "/TestUtilsService/uppercaseEcho", "abc")).json() == "ABC"
    headers = (await call(env, "/TestUtilsService/echoHeaders", headers={"x-test": "1"})).json()
    assert headers["x-test"] == "1"
    raw = bytes(range(256))
    r = await env.client.post(
        "/TestUtilsService/rawEcho", content=raw, headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 200 and r.content == raw
    assert (await call(env, "/TestUtilsService/countExecutedSideEffects", 3)).json() == 3


async def test_cancel_invocation_from_a_handler(env: TestEnvironment) -> None:
    r = await env.client.post("/CancelTestBlockingService/cx/block/send", json="SLEEP")
    target = r.json()["invocationId"]
    await eventually(lambda: call(env, "/AwakeableHolder/cx/hasAwakeable"), lambda r: r.json() is True)
    assert (await call(env, "/TestUtilsService/cancelInvocation", target)).status_code == 200
    out = await asyncio.wait_for(env.client.get(f"/restate/invocation/{target}/attach"), 10)
    assert out.status_code == 409


async def test_block_and_wait_workflow(env: TestEnvironment) -> None:
    r = await env.client.post("/BlockAndWaitWorkflow/w1/run/send", json="the state")
    assert r.status_code == 202
    output = await env.client.get("/restate/workflow/BlockAndWaitWorkflow/w1/output")
    assert output.status_code == 470  # not ready
    await eventually(
        lambda: call(env, "/BlockAndWaitWorkflow/w1/getState", "x"), lambda r: r.json() == "the state"
    )
    assert (await call(env, "/BlockAndWaitWorkflow/w1/unblock", "the answer")).status_code == 200
    attached = await asyncio.wait_for(env.client.get("/restate/workflow/BlockAndWaitWorkflow/w1/attach"), 10)
    assert attached.json() == "the answer"
    again = await call(env, "/BlockAndWaitWorkflow/w1/run", "other")
    assert again.status_code == 409
    # unblocking twice: the promise is already completed
    assert (await call(env, "/BlockAndWaitWorkflow/w1/unblock", "late")).status_code == 409


async def test_failing_terminal_errors_propagate(env: TestEnvironment) -> None:
    failure = {"errorMessage": "boom", "metadata": {"a": "b"}}
    r = await call(env, "/Failing/f1/terminallyFailingCall", failure)
    assert r.status_code == 500 and r.json()["message"] == "boom"
    r = await call(env, "/Failing/f1/callTerminallyFailingCall", {"errorMessage": "deep", "metadata": None})
    assert r.status_code == 500 and r.json()["message"] == "deep"
    r = await call(env, "/Failing/f1/terminallyFailingSideEffect", {"errorMessage": "in a run"})
    assert r.status_code == 500 and r.json()["message"] == "in a run"


async def test_failing_retries(env: TestEnvironment) -> None:
    assert (await call(env, "/Failing/f2/failingCallWithEventualSuccess")).json() == 4
    assert (await call(env, "/Failing/f2/sideEffectSucceedsAfterGivenAttempts", 3)).json() == 3
    assert (await call(env, "/Failing/f2/sideEffectFailsAfterGivenAttempts", 2)).json() == 2


async def test_ingress_answers_as_restate(env: TestEnvironment) -> None:
    r = await call(env, "/Nope/x")
    assert r.status_code == 404 and r.headers["x-restate-error-source"] == "ingress"
    health = (await env.client.get("/restate/health")).json()["services"]
    assert "VirtualObjectCommandInterpreter" in health
    assert isinstance(r, httpx.Response)
