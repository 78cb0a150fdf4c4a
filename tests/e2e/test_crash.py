"""SPEC §4.7 by counting: `kill -9` of the real `awaken serve` at awkward moments loses nothing that
was acknowledged. Accepted invocations run to completion after a restart on the same database,
stored completions are delivered, timers fire, queued calls keep their order, and no step runs more
often than §4.2 allows (a step whose result was recorded never runs again; only the step that was
running, unrecorded, at the crash may run once more) nor changes its recorded result.

Every test runs against the engine's defaults and in always-replay mode (see conftest.MODES).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Effects, Server, eventually
from tests.e2e.crash_app import CHAIN_STEPS, FLAKY_ATTEMPTS

pytestmark = pytest.mark.e2e


def invocations_in(server: Server, status: str) -> set[str]:
    rows = server.admin(f"/invocations?status={status}&limit=1000")["invocations"]
    return {row["id"] for row in rows}


def all_in(server: Server, status: str, ids: list[str]) -> Callable[[], bool]:
    return lambda: set(ids) <= invocations_in(server, status)


def handed_out(effects: Effects, effect: str, tags: list[str]) -> dict[str, str]:
    """tag -> awakeable id, once every tag's awakeable has been handed out."""
    out: dict[str, str] = {}
    for tag in tags:
        values = effects.values(effect, tag)
        if not values:
            return {}
        out[tag] = values[0]
    return out


def test_kill_while_suspended_on_awakeables(server: Server, effects: Effects) -> None:
    """20 invocations suspended on awakeables survive kill -9: after the restart the awakeables
    are still pending, resolving them over HTTP resumes each invocation, and every step ran once."""
    tags = [f"t{i}" for i in range(20)]
    invocations = {tag: server.send("/flow/approve", tag) for tag in tags}
    awakeables = eventually(lambda: handed_out(effects, "hand_out", tags), what="all hand-outs")
    pending = eventually(
        lambda: (p := server.pending_awakeables()) and set(awakeables.values()) <= set(p) and p,
        what="awakeables listed as pending by the admin API",
    )
    assert {pending[awakeables[tag]] for tag in tags} == set(invocations.values())
    eventually(all_in(server, "suspended", list(invocations.values())), what="all invocations suspended")

    server.restart()

    # Nothing ran again at start-up: the invocations wait where they were.
    assert set(awakeables.values()) <= set(server.pending_awakeables())
    assert set(invocations.values()) <= invocations_in(server, "suspended")
    for tag, awakeable_id in awakeables.items():
        answer = server.resolve(awakeable_id, {"approved_for": tag})
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"status": "Accepted"}
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.headers["x-restate-id"] == invocation_id
        assert response.json() == {
            "tag": tag,
            "a": effects.values("step_a", tag)[0],  # the result recorded before the crash
            "got": {"approved_for": tag},
            "b": effects.values("step_b", tag)[0],
        }
    assert effects.counts("step_a") == dict.fromkeys(tags, 1)
    assert effects.counts("hand_out") == dict.fromkeys(tags, 1)
    assert effects.counts("step_b") == dict.fromkeys(tags, 1)
    assert not set(awakeables.values()) & set(server.pending_awakeables())


def test_kill_while_waiting_in_memory(make_server: Callable[..., Server], effects: Effects) -> None:
    """Invocations still waiting in memory (status running, not yet suspended) at the kill are
    recovered by replay: the recorded steps do not run again."""
    server = make_server(
        "crash_app:app", env={"E2E_EFFECTS_DIR": str(effects.directory)}, extra_args=["--suspend-after", "60"]
    ).start()
    tags = [f"m{i}" for i in range(5)]
    invocations = {tag: server.send("/flow/approve", tag) for tag in tags}
    awakeables = eventually(lambda: handed_out(effects, "hand_out", tags), what="all hand-outs")
    eventually(
        lambda: all(server.step_recorded(i, "hand out") for i in invocations.values()),
        what="the hand-out steps recorded",
    )
    assert set(server.statuses(list(invocations.values())).values()) == {"running"}

    server.restart()

    for tag, awakeable_id in awakeables.items():
        assert server.resolve(awakeable_id, tag).status_code == 202
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json()["got"] == tag
        assert response.json()["a"] == effects.values("step_a", tag)[0]
    assert effects.counts("step_a") == dict.fromkeys(tags, 1)
    assert effects.counts("hand_out") == dict.fromkeys(tags, 1)
    assert effects.counts("step_b") == dict.fromkeys(tags, 1)


def test_completion_stored_before_kill_is_delivered(server: Server, effects: Effects) -> None:
    """Completions acknowledged with 202 just before kill -9 are delivered after the restart.
    (The step after the await waits for a gate the test opens after the restart, so no
    invocation can have finished before the kill.)"""
    tags = [f"c{i}" for i in range(5)]
    invocations = {tag: server.send("/flow/approve_gated", tag) for tag in tags}
    awakeables = eventually(lambda: handed_out(effects, "hand_out", tags), what="all hand-outs")
    eventually(
        lambda: all(server.step_recorded(i, "hand out") for i in invocations.values()),
        what="the hand-out steps recorded",
    )
    for tag in tags:
        answer = server.resolve(awakeables[tag], {"payload_of": tag})
        assert answer.status_code == 202, answer.text
    server.crash()  # right after the last 202

    server.start()
    effects.release("gate")
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "tag": tag,
            "a": effects.values("step_a", tag)[0],
            "got": {"payload_of": tag},
            "b": effects.values("step_b", tag)[0],
        }
    assert effects.counts("step_a") == dict.fromkeys(tags, 1)
    assert effects.counts("hand_out") == dict.fromkeys(tags, 1)
    assert effects.counts("step_b") == dict.fromkeys(tags, 1)


# ctx.run functions that block until released: a plain function (run in a thread) and a coroutine.
SLOW_HANDLERS = {"sync0": "slow_step", "sync1": "slow_step", "async0": "slow_async_step"}


def test_kill_while_a_step_runs(server: Server, effects: Effects) -> None:
    """kill -9 while a ctx.run function runs: after the restart that step (never recorded) runs
    again, once; the step completed before it is not re-executed; the invocation completes."""
    tags = list(SLOW_HANDLERS)
    invocations = {tag: server.send(f"/flow/{handler}", tag) for tag, handler in SLOW_HANDLERS.items()}
    eventually(lambda: set(effects.counts("slow_started")) == set(tags), what="the slow steps started")
    for invocation_id in invocations.values():
        # SPEC §4.2: everything journaled before a step is durable before the step starts.
        assert server.step_recorded(invocation_id, "before")
        assert not server.step_recorded(invocation_id, "slow")

    server.restart()

    eventually(
        lambda: effects.counts("slow_started") == dict.fromkeys(tags, 2),
        what="the unrecorded steps running again",
    )
    for tag in tags:
        effects.release(tag)
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "before": effects.values("before", tag)[0],
            "slow": effects.values("slow_done", tag)[0],
            "after": effects.values("after", tag)[0],
        }
    assert effects.counts("before") == dict.fromkeys(tags, 1)
    assert effects.counts("slow_started") == dict.fromkeys(tags, 2)
    assert effects.counts("slow_done") == dict.fromkeys(tags, 1)
    assert effects.counts("after") == dict.fromkeys(tags, 1)


def test_graceful_stop_then_restart(server: Server, effects: Effects) -> None:
    """SIGTERM while one invocation waits on an awakeable and another runs a (coroutine) step: the
    server exits promptly with status 0, and after a restart both complete; only the interrupted
    step runs again."""
    waiting = server.send("/flow/approve", "w")
    running = server.send("/flow/slow_async_step", "r")
    awakeable_id = eventually(lambda: effects.values("hand_out", "w"), what="the hand-out")[0]
    eventually(lambda: server.step_recorded(waiting, "hand out"), what="the hand-out recorded")
    eventually(lambda: effects.count("slow_started", "r") == 1, what="the slow step started")

    started = time.monotonic()
    assert server.stop(timeout=10.0) == 0
    assert time.monotonic() - started < 10.0

    server.start()
    assert server.resolve(awakeable_id, "ok").status_code == 202
    eventually(lambda: effects.count("slow_started", "r") == 2, what="the interrupted step again")
    effects.release("r")
    response = server.attach(waiting)
    assert response.status_code == 200, response.text
    assert response.json()["got"] == "ok"
    response = server.attach(running)
    assert response.status_code == 200, response.text
    assert response.json()["slow"] == effects.values("slow_done", "r")[0]
    assert effects.counts("step_a") == {"w": 1}
    assert effects.counts("hand_out") == {"w": 1}
    assert effects.counts("step_b") == {"w": 1}
    assert effects.counts("before") == {"r": 1}
    assert effects.counts("slow_done") == {"r": 1}
    assert effects.counts("after") == {"r": 1}


@pytest.mark.parametrize("mode", ["default"], indirect=True)
def test_graceful_stop_is_bounded_with_a_blocking_step(server: Server, effects: Effects) -> None:
    """SIGTERM while a plain (thread) ctx.run function blocks: the server still exits promptly;
    the invocation is left to recovery (it would run the step again after a restart)."""
    server.send("/flow/slow_step", "t")
    eventually(lambda: effects.count("slow_started", "t") == 1, what="the slow step started")
    assert server.proc is not None
    started = time.monotonic()
    server.proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=5.0)
    returncode, waited = server.proc.returncode, time.monotonic() - started
    server.kill()
    assert returncode == 0, f"still running {waited:.1f} s after SIGTERM"


def test_kill_at_moments_chosen_by_progress(server: Server, effects: Effects) -> None:
    """Invocations of 6 short steps around a timer, with kill -9 three times at whatever moment
    the progress reaches a mark (inside steps, between steps, during the sleep): all complete,
    each returns the results its steps recorded, and each kill cost at most one execution per
    invocation (the step that was in flight, SPEC §4.2)."""
    tags = [f"r{i}" for i in range(10)]
    invocations = {tag: server.send("/flow/chain", tag) for tag in tags}

    def executed() -> int:
        return sum(sum(effects.counts(f"chain{i}").values()) for i in range(CHAIN_STEPS))

    marks = [len(tags) * CHAIN_STEPS * k // 4 for k in (1, 2, 3)]
    for mark in marks:
        eventually(lambda mark=mark: executed() >= mark, interval=0.002, what=f"{mark} steps executed")
        server.restart()

    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        # The answer holds each step's recorded result: that of its last execution.
        assert response.json() == [effects.values(f"chain{i}", tag)[-1] for i in range(CHAIN_STEPS)]
        extra = sum(effects.count(f"chain{i}", tag) for i in range(CHAIN_STEPS)) - CHAIN_STEPS
        assert 0 <= extra <= len(marks), f"{tag}: {extra} steps executed again after {len(marks)} kills"
    for i in range(CHAIN_STEPS):
        assert set(effects.counts(f"chain{i}")) == set(tags)


def test_durable_timer_fires_after_kill(server: Server, effects: Effects) -> None:
    """A ctx.sleep and a delayed send pending at kill -9 fire after the restart, not early, once."""
    seconds = 3.0
    sent_at = time.time()
    napper = server.send("/flow/nap", {"tag": "n", "seconds": seconds})
    delayed = server.client.post(f"{server.url}/flow/work/send?delay=3s", json="delayed")
    assert delayed.status_code == 202, delayed.text
    assert "executionTime" in delayed.json()
    delayed_id = delayed.json()["invocationId"]
    eventually(all_in(server, "suspended", [napper]), what="the napper suspended")
    assert delayed_id in invocations_in(server, "scheduled")
    assert time.time() < sent_at + seconds, "too slow to kill the server before the timer is due"

    server.restart()

    response = server.attach(napper)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["before"] == float(effects.values("nap_before", "n")[0])
    assert result["after"] - result["before"] >= seconds
    assert effects.count("nap_before", "n") == 1
    assert effects.count("nap_after", "n") == 1

    response = server.attach(delayed_id)
    assert response.status_code == 200, response.text
    assert response.json() == effects.values("work", "delayed")[0]
    assert effects.count("work", "delayed") == 1
    record = server.invocation(delayed_id)
    assert record["completed_at"] - record["created_at"] >= 3000


def test_accepted_sends_survive_kill(server: Server, effects: Effects) -> None:
    """Invocations acknowledged with 202 just before kill -9 all run to completion after restart,
    once each; an idempotency key still names the same invocation. (Their handler waits for a
    gate the test opens after the restart, so none can have finished before the kill.)"""
    tags = [f"e{i}" for i in range(20)]
    invocations = {tag: server.send("/flow/gated", tag) for tag in tags}
    keyed = server.client.post(
        f"{server.url}/flow/gated/send", json="keyed", headers={"idempotency-key": "k1"}
    )
    assert keyed.status_code == 202, keyed.text
    invocations["keyed"] = keyed.json()["invocationId"]
    server.crash()  # right after the last 202

    server.start()
    again = server.client.post(
        f"{server.url}/flow/gated/send", json="keyed", headers={"idempotency-key": "k1"}
    )
    assert again.status_code == 202, again.text
    assert again.json() == {"invocationId": invocations["keyed"], "status": "PreviouslyAccepted"}
    assert not effects.counts("gated")
    effects.release("gate")
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json() == effects.values("gated", tag)[0]
    assert effects.counts("gated") == dict.fromkeys(invocations, 1)


def test_object_queue_survives_kill(server: Server, effects: Effects) -> None:
    """An exclusive handler waiting on an awakeable keeps its key locked across kill -9; the calls
    queued behind it survive and run after the resolution, once each, in arrival order."""
    holder = server.send("/lock/k/hold", "h")
    awakeable_id = eventually(lambda: effects.values("lock_hand_out", "k/h"), what="hand-out")[0]
    queued = {tag: server.send("/lock/k/append", tag) for tag in ["a1", "a2", "a3", "a4", "a5"]}
    # Another key is not locked.
    free = server.attach(server.send("/lock/free/append", "x"))
    assert free.status_code == 200
    assert free.json() == ["x"]
    eventually(all_in(server, "pending", list(queued.values())), what="the calls queued")

    server.restart()

    assert set(queued.values()) <= invocations_in(server, "pending")
    assert server.post("/lock/k/read").json() == []
    assert effects.counts("lock_append") == {"free/x": 1}
    assert server.resolve(awakeable_id, "yes").status_code == 202

    assert server.attach(holder).json() == ["h:yes"]
    expected = ["h:yes"]
    for tag, invocation_id in queued.items():
        expected.append(tag)
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json() == expected
    assert server.post("/lock/k/read").json() == expected
    assert effects.counts("lock_hand_out") == {"k/h": 1}
    assert effects.counts("lock_append") == {"free/x": 1, **{f"k/{tag}": 1 for tag in queued}}


def test_step_retry_count_survives_kill(server: Server, effects: Effects) -> None:
    """kill -9 while a ctx.run waits to retry: its retry count is journaled, so after the restart
    it gives up after RunOptions.max_attempts executions in all, not max_attempts more."""
    invocation_id = server.send("/flow/flaky_step", "f")

    def retry_count() -> int:
        journal = server.invocation(invocation_id)["journal"]
        return int(next((e["data"].get("attempts", 0) for e in journal if e["name"] == "flaky"), 0))

    eventually(lambda: retry_count() >= 2, interval=0.01, what="two failed attempts journaled")
    before_kill = effects.count("flaky", "f")
    server.restart()

    response = server.attach(invocation_id)
    assert response.status_code == 200, response.text
    assert (
        response.json()
        == f"gave up: ctx.run 'flaky' failed after {FLAKY_ATTEMPTS} attempts: attempt failed for f"
    )
    # Every execution before the kill was counted, except at most the one in flight at the kill.
    assert FLAKY_ATTEMPTS <= effects.count("flaky", "f") <= FLAKY_ATTEMPTS + 1
    assert before_kill >= 2


def test_kill_under_load_loses_no_acknowledged_invocation(server: Server, effects: Effects) -> None:
    """kill -9 while 32 clients send as fast as they can and steps run: after the restart every
    invocation acknowledged with 202 completes with the result its step recorded; each step ran
    once, or twice if it was in flight at the kill. (Group commit under load, SPEC §4.7.)"""
    acknowledged: dict[str, str] = {}
    unexpected: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(timeout=5.0) as http:
            i = 0
            while not stop.is_set():
                tag = f"L{n}-{i}"
                i += 1
                try:
                    response = http.post(f"{server.url}/flow/work/send", json=tag)
                except httpx.TransportError:
                    return  # the server was killed
                with lock:
                    if response.status_code == 202:
                        acknowledged[tag] = str(response.json()["invocationId"])
                    else:
                        unexpected.append(f"{tag}: {response.status_code} {response.text}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(acknowledged) >= 600, interval=0.005, what="600 sends acknowledged")
        server.crash()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    with lock:
        accepted = dict(acknowledged)
    assert unexpected == []

    server.start()
    for tag, invocation_id in accepted.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        runs = effects.values("work", tag)
        assert 1 <= len(runs) <= 2, f"{tag} ran {len(runs)} times"
        assert response.json() == runs[-1]


def test_kill_while_awakeables_are_resolved_under_load(server: Server, effects: Effects) -> None:
    """kill -9 while 16 clients resolve 300 awakeables: every resolution answered 202 is delivered
    after the restart; the others can be sent again (202 Accepted, or PreviouslyAccepted if it was
    stored just before the kill); each invocation gets exactly its payload, and ran each step once."""
    tags = [f"w{i}" for i in range(300)]
    invocations = {tag: server.send("/flow/approve", tag) for tag in tags}
    awakeables = eventually(lambda: handed_out(effects, "hand_out", tags), what="all hand-outs", timeout=30)
    eventually(
        lambda: set(awakeables.values()) <= set(server.pending_awakeables()), what="all awakeables stored"
    )
    queue = list(tags)
    acknowledged: set[str] = set()
    unexpected: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=5.0) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    tag = queue.pop()
                url = f"{server.url}/restate/awakeables/{awakeables[tag]}/resolve"
                try:
                    response = http.post(url, json={"for": tag})
                except httpx.TransportError:
                    return  # the server was killed
                with lock:
                    if response.status_code == 202:
                        acknowledged.add(tag)
                    else:
                        unexpected.append(f"{tag}: {response.status_code} {response.text}")

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    eventually(lambda: len(acknowledged) >= 100, interval=0.002, what="100 resolutions acknowledged")
    server.crash()
    for thread in threads:
        thread.join(timeout=10)
    assert unexpected == []

    server.start()
    for tag in tags:
        if tag in acknowledged:
            continue
        answer = server.resolve(awakeables[tag], {"for": tag})
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] in ("Accepted", "PreviouslyAccepted")
    for tag, invocation_id in invocations.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        assert response.json()["got"] == {"for": tag}
        assert response.json()["b"] == effects.values("step_b", tag)[-1]
    assert effects.counts("step_a") == dict.fromkeys(tags, 1)
    assert effects.counts("hand_out") == dict.fromkeys(tags, 1)
    assert all(1 <= n <= 2 for n in effects.counts("step_b").values())
    assert set(effects.counts("step_b")) == set(tags)


def test_workflow_waiting_on_a_promise_survives_kill(server: Server, effects: Effects) -> None:
    """Workflow runs waiting on their promise at kill -9 resume after the restart when a shared
    handler resolves it; one run was resolved just before the kill and completes too."""
    keys = [f"k{i}" for i in range(5)]
    runs = {key: server.send(f"/approval/{key}/run", key) for key in keys}
    eventually(all_in(server, "suspended", list(runs.values())), what="the runs waiting on their promise")
    assert server.post("/approval/k0/decide", "early").status_code == 200

    server.restart()

    for key in keys[1:]:
        assert server.post(f"/approval/{key}/decide", f"yes {key}").status_code == 200
    again = server.post("/approval/k1/decide", "twice")
    assert again.status_code == 409 and again.json()["message"] == "promise was already completed"
    for key, invocation_id in runs.items():
        response = server.attach(invocation_id)
        assert response.status_code == 200, response.text
        expected = "early" if key == "k0" else f"yes {key}"
        assert response.json() == {"before": effects.values("wf_before", key)[0], "decision": expected}
    assert effects.counts("wf_before") == dict.fromkeys(keys, 1)


def test_cancellation_is_raised_at_the_same_await_after_kill(server: Server, effects: Effects) -> None:
    """kill -9 while a cancelled handler runs its compensation: after the restart the replay
    raises the cancellation at the same await (the journal says where), the compensation (in
    flight at the kill) runs again, and nothing before it does."""
    invocation_id = server.send("/flow/compensating", "c")
    eventually(lambda: effects.values("c_hand_out", "c"), what="the hand-out")
    cancel = server.client.patch(f"{server.admin_url}/invocations/{invocation_id}/cancel")
    assert cancel.status_code == 202, cancel.text
    eventually(lambda: effects.count("comp_started", "c") == 1, what="the compensation started")

    server.restart()

    eventually(lambda: effects.count("comp_started", "c") == 2, what="the compensation again")
    effects.release("comp-c")
    response = server.attach(invocation_id)
    assert response.status_code == 409, response.text
    assert response.json()["message"] == f"cancelled, compensated {effects.values('comp_done', 'c')[0]}"
    assert effects.count("c_before", "c") == 1
    assert effects.count("c_hand_out", "c") == 1
    assert effects.count("comp_done", "c") == 1
