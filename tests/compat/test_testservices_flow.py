"""restate-sdk's test services, driven as the sdk-test-suite drives them: awakeables,
cancellation and kill (AwakeableHolder, CancelTestRunner, KillTestRunner), the command
interpreters, and non-determinism."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import awaken as restate
from awaken.testing import TestEnvironment
from tests.compat import testservices_app
from tests.compat.conftest import call, eventually
from tests.compat.testservices import interpreter as it


async def _holder_has_awakeable(env: TestEnvironment, key: str) -> None:
    await eventually(lambda: call(env, f"/AwakeableHolder/{key}/hasAwakeable"), lambda r: r.json() is True)


@pytest.mark.parametrize("op", ["CALL", "SLEEP", "AWAKEABLE"])
async def test_cancel_a_blocked_call_tree(env: TestEnvironment, admin: httpx.AsyncClient, op: str) -> None:
    key = f"cancel-{op}"
    started = await env.client.post(f"/CancelTestRunner/{key}/startTest/send", json=op)
    runner = started.json()["invocationId"]
    await _holder_has_awakeable(env, key)
    assert (await call(env, f"/AwakeableHolder/{key}/unlock", "go")).status_code == 200
    cancel = await admin.patch(f"/invocations/{runner}/cancel")
    assert cancel.status_code in (200, 202), cancel.text
    done = await asyncio.wait_for(env.client.get(f"/restate/invocation/{runner}/attach"), 10)
    assert done.status_code == 200, done.text
    assert (await call(env, f"/CancelTestRunner/{key}/verifyTest")).json() is True
    # the blocking service's key is free again
    assert (await call(env, f"/CancelTestBlockingService/{key}/isUnlocked")).status_code == 200


async def test_kill_a_call_tree(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    started = await env.client.post("/KillTestRunner/kill/startCallTree/send")
    runner = started.json()["invocationId"]
    await _holder_has_awakeable(env, "kill")
    assert (await admin.patch(f"/invocations/{runner}/kill")).status_code == 200
    done = await asyncio.wait_for(env.client.get(f"/restate/invocation/{runner}/attach"), 10)
    assert done.status_code == 409 and done.json()["message"] == "killed"
    # the kill reached the recursive child: the singleton's key is unlocked
    assert (await call(env, "/KillTestSingleton/kill/isUnlocked")).status_code == 200


def _interpret(*commands: dict[str, object]) -> dict[str, object]:
    return {"commands": list(commands)}


async def test_command_interpreter_awakeables(env: TestEnvironment) -> None:
    key = "ci-awk"
    program = _interpret({"type": "awaitOne", "command": {"type": "createAwakeable", "awakeableKey": "a1"}})
    sent = await env.client.post(
        f"/VirtualObjectCommandInterpreter/{key}/interpretCommands/send", json=program
    )
    inv = sent.json()["invocationId"]
    await eventually(
        lambda: call(env, f"/VirtualObjectCommandInterpreter/{key}/hasAwakeable", "a1"),
        lambda r: r.json() is True,
    )
    resolve = {"type": "resolveAwakeable", "awakeableKey": "a1", "value": "resolved!"}
    assert (
        await call(env, f"/VirtualObjectCommandInterpreter/{key}/resolveAwakeable", resolve)
    ).status_code == 200
    done = await asyncio.wait_for(env.client.get(f"/restate/invocation/{inv}/attach"), 10)
    assert done.json() == "resolved!"
    assert (await call(env, f"/VirtualObjectCommandInterpreter/{key}/getResults")).json() == ["resolved!"]
    # rejected: the await raises a TerminalError with the reason
    key = "ci-rej"
    program = _interpret({"type": "awaitOne", "command": {"type": "createAwakeable", "awakeableKey": "a2"}})
    sent = await env.client.post(
        f"/VirtualObjectCommandInterpreter/{key}/interpretCommands/send", json=program
    )
    await eventually(
        lambda: call(env, f"/VirtualObjectCommandInterpreter/{key}/hasAwakeable", "a2"),
        lambda r: r.json() is True,
    )
    reject = {"type": "rejectAwakeable", "awakeableKey": "a2", "reason": "nope"}
    await call(env, f"/VirtualObjectCommandInterpreter/{key}/rejectAwakeable", reject)
    done = await asyncio.wait_for(
        env.client.get(f"/restate/invocation/{sent.json()['invocationId']}/attach"), 10
    )
    assert done.status_code == 500 and done.json()["message"] == "nope"


async def test_command_interpreter_combinators(env: TestEnvironment) -> None:
    path = "/VirtualObjectCommandInterpreter/ci-comb/interpretCommands"
    run_a = {"type": "runReturns", "value": "a"}
    run_b = {"type": "runReturns", "value": "b"}
    boom = {"type": "runThrowTerminalException", "reason": "boom"}
    long_sleep = {"type": "sleep", "timeoutMillis": 86_400_000}
    cases: list[tuple[dict[str, object], int, object]] = [
        ({"type": "awaitOne", "command": {"type": "sleep", "timeoutMillis": 1}}, 200, "sleep"),
        ({"type": "awaitOne", "command": run_a}, 200, "a"),
        ({"type": "awaitAny", "commands": [long_sleep, run_b]}, 200, "b"),
        ({"type": "awaitFirstCompleted", "commands": [long_sleep, run_a]}, 200, "a"),
        ({"type": "awaitAllSucceededOrFirstFailed", "commands": [run_a, run_b]}, 200, "a|b"),
        ({"type": "awaitAllCompleted", "commands": [run_a, boom]}, 200, "ok:a|err:boom"),
        ({"type": "awaitAnySuccessful", "commands": [boom, run_b]}, 200, "b"),
        ({"type": "awaitFirstSucceededOrAllFailed", "commands": [boom, boom]}, 500, "boom"),
        ({"type": "awaitOne", "command": boom}, 500, "boom"),
        ({"type": "awaitAwakeableOrTimeout", "awakeableKey": "t", "timeoutMillis": 5}, 500, "await-timeout"),
        ({"type": "getEnvVariable", "envName": "AWAKEN_COMPAT_NOT_SET"}, 200, ""),
    ]
    for command, status, expected in cases:
        r = await call(env, path, _interpret(command))
        assert r.status_code == status, (command, r.text)
        assert (r.json() if status == 200 else r.json()["message"]) == expected, command
    results = (await call(env, "/VirtualObjectCommandInterpreter/ci-comb/getResults")).json()
    assert results == ["sleep", "a", "b", "a", "a|b", "ok:a|err:boom", "b", ""]


async def test_named_signals_resolved_and_rejected_through_test_utils(env: TestEnvironment) -> None:
    # the sdk-test-suite's signal flow: the interpreter awaits a signal of its own invocation, and
    # TestUtilsService resolves (or rejects) it by invocation id and name
    program = _interpret({"type": "awaitOne", "command": {"type": "createSignal", "signalName": "s"}})
    path = "/VirtualObjectCommandInterpreter/{}/interpretCommands/send"
    sent = await env.client.post(path.format("ci-sig"), json=program)
    inv = sent.json()["invocationId"]
    req = {"invocationId": inv, "signalName": "s", "value": "signalled!"}
    assert (await call(env, "/TestUtilsService/resolveSignal", req)).status_code == 200
    done = await asyncio.wait_for(env.client.get(f"/restate/invocation/{inv}/attach"), 10)
    assert done.status_code == 200 and done.json() == "signalled!"

    rejected = await env.client.post(path.format("ci-sig-rej"), json=program)
    inv = rejected.json()["invocationId"]
    req = {"invocationId": inv, "signalName": "s", "reason": "no signal for you"}
    assert (await call(env, "/TestUtilsService/rejectSignal", req)).status_code == 200
    done = await asyncio.wait_for(env.client.get(f"/restate/invocation/{inv}/attach"), 10)
    assert done.status_code == 500 and done.json()["message"] == "no signal for you"


async def test_interpreter_program_across_three_layers(env: TestEnvironment) -> None:
    program = {
        "commands": [
            {"kind": it.SET_STATE, "key": 1},
            {"kind": it.GET_STATE, "key": 1},
            {"kind": it.CLEAR_STATE, "key": 1},
            {"kind": it.INCREMENT_STATE_COUNTER},
            {"kind": it.SLEEP, "duration": 5},
            {"kind": it.CALL_SERVICE},
            {"kind": it.CALL_SLOW_SERVICE, "sleep": 5},
            {"kind": it.SIDE_EFFECT},
            {"kind": it.RECOVER_TERMINAL_CALL},
            {"kind": it.RESOLVE_AWAKEABLE},
            {"kind": it.REJECT_AWAKEABLE},
            {"kind": it.INCREMENT_STATE_COUNTER_INDIRECTLY},
            {"kind": it.INCREMENT_VIA_DELAYED_CALL, "duration": 5},
            {"kind": it.INCREMENT_STATE_COUNTER_VIA_AWAKEABLE},
            {"kind": it.AWAIT_PROMISE, "index": 0},
            {
                "kind": it.CALL_NEXT_LAYER_OBJECT,
                "key": 7,
                "program": {
                    "commands": [
                        {"kind": it.INCREMENT_STATE_COUNTER},
                        {
                            "kind": it.CALL_NEXT_LAYER_OBJECT,
                            "key": 8,
                            "program": {"commands": [{"kind": it.INCREMENT_STATE_COUNTER}]},
                        },
                    ]
                },
            },
        ]
    }
    r = await call(env, "/ObjectInterpreterL0/p/interpret", program)
    assert r.status_code == 200, r.text
    # 1 direct + 1 indirect + 1 delayed + 1 through the awakeable dance
    await eventually(lambda: call(env, "/ObjectInterpreterL0/p/counter"), lambda r: r.json() == 4)
    assert (await call(env, "/ObjectInterpreterL1/7/counter")).json() == 1
    assert (await call(env, "/ObjectInterpreterL2/8/counter")).json() == 1


@pytest.mark.parametrize(
    "handler",
    ["setDifferentKey", "backgroundInvokeWithDifferentTargets", "callDifferentMethod", "eitherSleepOrCall"],
)
async def test_non_determinism_is_caught_and_fails_the_invocation(handler: str) -> None:
    # restate-sdk's harness in always-replay mode: the second attempt takes the other branch, the
    # replay notices, and the invocation fails (570) instead of completing on a later attempt
    from tests.compat.testservices import non_determinism

    non_determinism.invoke_counts.clear()
    async with (
        restate.create_test_harness(testservices_app.app, always_replay=True) as h,
        httpx.AsyncClient(base_url=h.ingress_url, timeout=20) as http,
    ):
        r = await http.post(f"/NonDeterministic/{handler}/{handler}")
        assert r.status_code == 570, r.text
        assert "non-deterministic" in r.json()["message"]
        # the invocation ended there: its increment (after the sleep) never happens
        assert (await http.get(f"/restate/invocation/{r.headers['x-restate-id']}/output")).status_code == 570
        assert (await http.post(f"/Counter/{handler}/get")).json() == 0
