"""Cancel, kill, purge and resume (SPEC §4.6, §6): through the admin API and ctx.cancel_invocation.
A cancelled handler gets TerminalError("cancelled", 409) at its next await and may compensate;
the calls it waits on are cancelled with it. A killed one ends at once, with its calls."""

from __future__ import annotations

import httpx

from awaken.storage.protocol import Status
from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.helpers import eventually, next_awakeable


async def waiting(env: TestEnvironment, handler: str, channel: str) -> str:
    """Send to a handler that hands out an awakeable, and return once it waits on it."""
    r = await env.client.post(f"/svc/{handler}/send", json=channel)
    assert r.status_code == 202
    await next_awakeable(channel if handler != "parent" else f"{channel}-child")
    return str(r.json()["invocationId"])


async def attach(env: TestEnvironment, invocation_id: str) -> httpx.Response:
    return await env.client.get(f"/restate/invocation/{invocation_id}/attach")


async def test_cancel_raises_at_the_await_and_lets_the_handler_compensate(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = await waiting(env, "cancellable", "c1")
    r = await admin.patch(f"/invocations/{inv}/cancel")
    assert r.status_code == 202 and r.json()["result"] == "cancel requested"
    out = await attach(env, inv)
    assert out.status_code == 409 and out.json()["message"] == "cancelled"
    assert apps.EFFECTS["compensated:c1"] == 1
    assert apps.EFFECTS["hand_out:c1"] == 1  # steps before the cancellation did not run again
    again = await admin.patch(f"/invocations/{inv}/cancel")
    assert again.status_code == 409  # completed already


async def test_cancel_propagates_to_the_call_being_awaited(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = await waiting(env, "parent", "p1")
    assert (await admin.patch(f"/invocations/{inv}/cancel")).status_code == 202
    out = await attach(env, inv)
    assert out.status_code == 409 and out.json()["message"] == "cancelled"
    await eventually(lambda: _count("compensated:p1-child"), lambda n: n == 1)
    assert apps.EFFECTS["compensated:p1"] == 1


async def _count(name: str) -> int:
    return apps.EFFECTS[name]


async def test_kill_ends_at_once_with_the_calls_it_waits_on(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = await waiting(env, "parent", "k1")
    r = await admin.patch(f"/invocations/{inv}/kill")
    assert r.status_code == 200 and r.json()["result"] == "killed"
    out = await attach(env, inv)
    assert out.status_code == 409 and out.json()["message"] == "killed"
    children = [i for i in await env.engine.store.list_invocations() if i.handler == "cancellable"]
    assert [c.status for c in children] == [Status.COMPLETED]
    assert children[0].outcome is not None and children[0].outcome.failure is not None
    assert children[0].outcome.failure.message == "killed"
    assert apps.EFFECTS["compensated:k1"] == 0 and apps.EFFECTS["compensated:k1-child"] == 0


async def test_cancel_of_a_queued_invocation_ends_it_at_once(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    holder = await env.client.post("/counter/q/hold/send")
    assert holder.status_code == 202
    await next_awakeable("hold:q")
    queued = await env.client.post("/counter/q/add/send", json=5)
    queued_id = queued.json()["invocationId"]
    await eventually(lambda: env.engine.get_invocation(queued_id), lambda r: r.status == Status.PENDING)
    r = await admin.patch(f"/invocations/{queued_id}/cancel")
    assert r.status_code == 200 and r.json()["result"] == "cancelled"  # awaken's word
    out = await attach(env, queued_id)
    assert out.status_code == 409 and out.json()["message"] == "canceled"  # Restate's wire message
    holder_record = await env.engine.get_invocation(holder.json()["invocationId"])
    assert holder_record.status in (Status.RUNNING, Status.SUSPENDED)  # the holder is untouched


async def test_ctx_cancel_invocation_cancels_another_invocation(env: TestEnvironment) -> None:
    inv = await waiting(env, "cancellable", "x1")
    r = await env.client.post("/svc/canceller", json=inv)
    assert r.status_code == 200 and r.json() == "sent"
    out = await attach(env, inv)
    assert out.status_code == 409 and out.json()["message"] == "cancelled"
    assert apps.EFFECTS["compensated:x1"] == 1
    # unknown or completed targets are no error (as Restate)
    assert (await env.client.post("/svc/canceller", json=inv)).json() == "sent"
    bad = await env.client.post("/svc/canceller", json="not-an-id")
    assert bad.status_code == 400


async def test_purge_and_resume(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    done = await env.client.post("/svc/greet", json="purge")
    inv = done.headers["x-restate-id"]
    assert (await admin.patch(f"/invocations/{inv}/purge")).json()["result"] == "purged"
    assert (await env.client.get(f"/restate/invocation/{inv}/output")).status_code == 404

    sent = await env.client.post("/svc/until_toggled/send", json="t1")
    paused_id = sent.json()["invocationId"]
    await eventually(lambda: env.engine.get_invocation(paused_id), lambda r: r.status == Status.PAUSED)
    assert (await admin.patch(f"/invocations/{paused_id}/purge")).status_code == 409  # not completed
    apps.TOGGLES["t1"] = True
    r = await admin.patch(f"/invocations/{paused_id}/resume")
    assert r.status_code == 200 and r.json()["result"] == "resumed"
    out = await attach(env, paused_id)
    assert out.status_code == 200 and out.json() == "done"
    assert (await admin.patch(f"/invocations/{paused_id}/resume")).status_code == 409  # not paused


async def test_bad_admin_requests(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    unknown = "inv_1" + "0" * 33
    assert (await admin.patch(f"/invocations/{unknown}/cancel")).status_code == 404
    assert (await admin.patch("/invocations/nope/kill")).status_code == 400
    assert (await admin.get(f"/invocations/{unknown}/cancel")).status_code == 405
    assert (await admin.get("/invocations", params={"limit": "x"})).status_code == 400
    assert (await admin.get("/awakeables", params={"limit": "0"})).status_code == 400


async def test_pause_by_hand_then_resume(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    inv = await waiting(env, "approve", "pz")
    r = await admin.patch(f"/invocations/{inv}/pause")
    assert r.status_code == 200 and r.json()["result"] == "paused"
    record = await env.engine.get_invocation(inv)
    assert record.status == Status.PAUSED and record.last_failure == "paused by hand"
    assert (await admin.patch(f"/invocations/{inv}/pause")).status_code == 409  # already paused
    # a completion that arrives while it is paused is stored, and seen when it runs again
    listed = await env.engine.store.list_awakeables()
    [awk] = [a for a in listed if a.invocation_id == inv]
    assert (await env.client.post(f"/restate/awakeables/{awk.id}/resolve", json="later")).status_code == 202
    assert (await env.engine.get_invocation(inv)).status == Status.PAUSED
    assert (await admin.patch(f"/invocations/{inv}/resume")).json()["result"] == "resumed"
    out = await attach(env, inv)
    assert out.status_code == 200 and out.json() == {"got": "later"}
    assert apps.EFFECTS["hand_out:pz"] == 1  # the completed step did not run again
    assert (await admin.patch(f"/invocations/{inv}/pause")).status_code == 409  # completed


async def test_a_replay_raises_the_cancellation_at_the_same_await(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = await waiting(env, "cancellable_sleeps", "s1")
    assert (await admin.patch(f"/invocations/{inv}/cancel")).status_code == 202
    out = await attach(env, inv)
    assert out.status_code == 409 and out.json()["message"] == "cancelled"
    assert apps.EFFECTS["compensated:s1"] == 1 and apps.EFFECTS["hand_out:s1"] == 1
    journal = await env.engine.store.get_journal(inv)
    [signal] = [e for e in journal if e.kind == "cancel_signal"]
    assert signal.data == {"awaiting": [0]}  # raised where the handler awaited the awakeable
