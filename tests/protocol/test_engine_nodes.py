"""Handlers served elsewhere on several nodes of one PostgreSQL database: a deployment registered
on one node is served by the others, and a remote invocation started on one node is resumed by
another when its awakeable is resolved there; a cancel or a kill sent through one node reaches the
remote attempt that the other runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from awaken.engine.engine import EngineConfig
from tests import pg
from tests.protocol.rig import Endpoint
from tests.protocol.server import Awaken, serve
from tests.protocol.test_engine_commands import awakeable_of, call, cancel_ends_with_409

CONFIG = EngineConfig(remote_inactivity=0.3, poll_interval=0.1)


async def _serves(awaken: Awaken, service: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await awaken.admin.get(f"/services/{service}")).status_code != 200:
        assert loop.time() < deadline, f"{service} never appeared on this node"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("name", ["ts-h2", "py-uvicorn"])
async def test_two_nodes_share_deployments_and_remote_invocations(
    endpoint: Callable[[str], Endpoint], pg_url: str, name: str
) -> None:
    await pg.empty(pg_url)
    ep = endpoint(name)
    async with serve(db=pg_url, config=CONFIG) as a, serve(db=pg_url, config=CONFIG) as b:
        assert a.engine.store.node_id != b.engine.store.node_id
        await a.register(ep.url)
        await _serves(b, "Reviews")  # b picked the registration up from the database
        assert await call(b, "/Greeter/greet", "from b") == "Hello from b!"
        started = (await b.ingress.post("/Reviews/review/send", json="n")).json()["invocationId"]
        awakeable_id = await awakeable_of(a, started)
        await a.wait_status(started, "suspended")
        resolved = await a.ingress.post(f"/restate/awakeables/{awakeable_id}/resolve", json="both")
        assert resolved.status_code == 202, resolved.text
        r = await a.ingress.get(f"/restate/invocation/{started}/attach")
        assert r.json() == "n: both"
        # removed on b: a stops serving it too
        deployment_id = (await b.admin.get("/deployments")).json()["deployments"][0]["id"]
        assert (await b.admin.delete(f"/deployments/{deployment_id}")).status_code == 202
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (await a.admin.get("/services/Reviews")).status_code != 404:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)


async def test_a_caller_whose_invocation_the_database_lost_gets_503_not_a_hang(pg_url: str) -> None:
    """A call's creation commits asynchronously on PostgreSQL: a crash of the database before the
    flush can lose it. Simulated by deleting the waited-on invocation: the node's poll finds it
    gone and answers the caller 503 (nothing was acknowledged; the request can be sent again)."""
    import asyncpg

    import awaken as restate

    waits = restate.Service("Waits")

    @waits.handler()
    async def wait(ctx: restate.Context) -> str:
        _, promise = ctx.awakeable()
        return str(await promise)

    await pg.empty(pg_url)
    async with serve([waits], db=pg_url, config=CONFIG) as node:
        caller = asyncio.ensure_future(node.ingress.post("/Waits/wait", json=None))
        invocation_id = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not invocation_id:
            assert loop.time() < deadline, "the invocation was never listed"
            listed = (await node.admin.get("/invocations")).json()["invocations"]
            invocation_id = next((i["id"] for i in listed if i["target"] == "Waits/wait"), "")
            await asyncio.sleep(0.02)
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute("DELETE FROM journal WHERE invocation_id = $1", invocation_id)
            await conn.execute("DELETE FROM awakeables WHERE invocation_id = $1", invocation_id)
            await conn.execute("DELETE FROM invocations WHERE id = $1", invocation_id)
        finally:
            await conn.close()
        answer = await asyncio.wait_for(caller, 10)
        assert answer.status_code == 503, answer.text
        assert f"invocation {invocation_id} no longer exists" in answer.json()["message"]


@pytest.mark.parametrize("name", ["ts-h2", "py-uvicorn"])  # bidirectional; request/response
async def test_cancel_and_kill_through_one_node_reach_a_remote_attempt_on_the_other(
    endpoint: Callable[[str], Endpoint], pg_url: str, name: str
) -> None:
    """Bidirectional: the invocation waits in a stream that node a keeps open (no inactivity
    timeout within the test); b's cancel reaches that stream, and the SDK ends the handler with
    Restate's 409. Request/response: it is suspended; the cancel resumes it wherever it is
    claimed. A kill through b ends it at once, the SDK not asked."""
    await pg.empty(pg_url)
    ep = endpoint(name)
    config = EngineConfig(remote_inactivity=60, poll_interval=0.1)
    async with serve(db=pg_url, config=config) as a, serve(db=pg_url, config=config) as b:
        await a.register(ep.url)
        await _serves(b, "Reviews")
        waiting = []
        for tag in ("cancelled", "killed"):
            started = (await a.ingress.post("/Reviews/review/send", json=tag)).json()["invocationId"]
            await awakeable_of(a, started)
            waiting.append(started)
        cancelled, killed = waiting
        expected = "running" if name == "ts-h2" else "suspended"
        for invocation_id in waiting:
            assert (await a.wait_status(invocation_id, expected))["status"] == expected

        await cancel_ends_with_409(b, cancelled)

        r = await b.admin.patch(f"/invocations/{killed}/kill")
        assert r.status_code in (200, 202), r.text
        done = await a.wait_status(killed, "completed")
        assert done["completion_failure"]["code"] == 409, done
        # neither keeps an attempt on either node (a's stream, in bidirectional mode, ends once
        # a hears of the kill)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while set(waiting) & {*a.engine.running_ids(), *b.engine.running_ids()}:
            assert loop.time() < deadline, "an attempt of a killed or cancelled invocation went on"
            await asyncio.sleep(0.02)
