"""The restate-sdk 1.x API around the handlers: create_client (and its scopes), the test harness
(always_replay, disable_retries, the deprecated sync form), scopes and limit keys on the context
and the ingress, entry names, context misuse, private handlers, invocation context managers, and
the admin API's legacy DELETE."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

import awaken as restate
from awaken.admin.app import AdminApp
from awaken.testing import harness
from tests.compat.conftest import FAST_RETRIES, eventually

svc = restate.Service("api")
obj = restate.VirtualObject("apiobj")
ENTERED: list[str] = []


@svc.handler()
async def echo(ctx: restate.Context, value: str) -> str:
    return value


@svc.handler()
async def scoped_caller(ctx: restate.Context, key: str) -> list[str]:
    a = await ctx.scope("tenant-a").service_call(echo, "x", idempotency_key=key, limit_key="tenant-a/u1")
    raw = await ctx.generic_call("api", "echo", b'"y"', scope="tenant-b", limit_key="t")
    return [a, raw.decode()]


@svc.handler()
async def scoped_object_caller(ctx: restate.Context) -> str:
    await ctx.scope("tenant-a").object_call(put, "k", 1)
    return "unreachable"


@svc.handler()
async def misuses_the_context(ctx: restate.Context) -> None:
    ctx.generic_send("api", "echo", b'"x"', delay=timedelta(seconds=1))  # type: ignore[call-arg]


@svc.handler()
async def asks_for_a_missing_context_method(ctx: restate.Context) -> None:
    await ctx.signal_all("s")  # type: ignore[attr-defined]


ATTEMPTS: list[int] = []


class Thing:
    pass


@svc.handler()
async def ordinary_attribute_error(ctx: restate.Context) -> None:
    ATTEMPTS.append(1)
    _ = Thing().missing  # type: ignore[attr-defined]  # not the context: retried as any error


@svc.handler()
async def always_fails(ctx: restate.Context) -> None:
    raise ValueError("never works")


@svc.handler()
async def nondeterministic(ctx: restate.Context) -> str:
    name = f"step-{uuid.uuid4()}"  # not journaled: another name on every replay
    await ctx.run_typed(name, lambda: random.random())
    await ctx.sleep(timedelta(milliseconds=1))
    return "done"


EXECUTIONS = itertools.count()


@svc.handler()
async def branches_on_process_state(ctx: restate.Context) -> str:
    # nothing here waits: only the replay of the completed handler can notice the other branch
    if next(EXECUTIONS) % 2 == 0:
        await ctx.run_typed("left", lambda: 1)
    else:
        await ctx.run_typed("right", lambda: 2)
        await ctx.run_typed("right again", lambda: 3)
    return "done"


@svc.handler()
async def deterministic(ctx: restate.Context) -> list[object]:
    pick = ctx.random().random()  # journaled randomness: the same on every replay
    now = await ctx.time()
    step = await ctx.run_typed("step", lambda: pick)
    echoed = await ctx.service_call(echo, "e")
    awakeable_id, awakeable = ctx.awakeable()
    ctx.resolve_awakeable(awakeable_id, "self")
    return [step == pick, now > 0, echoed, await awakeable]


@svc.handler(ingress_private=True)
async def private(ctx: restate.Context) -> str:
    return "secret"


@contextlib.asynccontextmanager
async def around() -> AsyncIterator[None]:
    ENTERED.append("enter")
    yield
    ENTERED.append("exit")


@obj.handler(invocation_context_managers=[around])
async def put(ctx: restate.ObjectContext, value: int) -> int:
    ctx.set("value", value, entry_name="store the value")
    got = await ctx.get("value", type_hint=int, entry_name="read it back")
    return got or 0


APP = restate.app([svc, obj])


async def test_create_client_calls_sends_scopes_and_errors() -> None:
    async with restate.create_test_harness(APP) as env:
        assert await env.client.service_call(echo, "hi") == "hi"
        assert await env.client.object_call(put, "k1", 3) == 3
        handle = await env.client.object_send(put, "k2", 4, send_delay=timedelta(milliseconds=10))
        assert handle.invocation_id.startswith("inv_1") and handle.status_code == 202
        assert await env.client.scope("tenant-a").service_call(echo, "scoped", limit_key="u1") == "scoped"
        assert await env.client.generic_call("api", "echo", b'"raw"') == b'"raw"'
        with pytest.raises(restate.HttpError) as err:
            await env.client.generic_call("nope", "x", b"")
        assert err.value.status_code == 404
        with pytest.raises(restate.HttpError) as err:
            await env.client.scope("tenant-a").object_call(put, "k", 1)
        assert err.value.status_code == 400 and "not supported" in (err.value.body or "")


async def test_scoped_ingress_paths_and_identity() -> None:
    async with harness(APP, config=FAST_RETRIES) as env:
        key = {"idempotency-key": "same"}
        a = await env.client.post("/restate/scope/s1/call/api/echo", json="a", headers=key)
        b = await env.client.post("/restate/scope/s2/call/api/echo", json="b", headers=key)
        plain = await env.client.post("/api/echo", json="c", headers=key)
        ids = {a.headers["x-restate-id"], b.headers["x-restate-id"], plain.headers["x-restate-id"]}
        assert len(ids) == 3  # the scope is part of the target's identity
        again = await env.client.post("/restate/scope/s1/call/api/echo", json="other", headers=key)
        assert again.json() == "a" and again.headers["x-restate-id"] == a.headers["x-restate-id"]
        sent = await env.client.post(
            "/restate/scope/s1/send/api/echo", json="d", headers={"x-restate-limit-key": "t/u"}
        )
        assert sent.status_code == 202 and sent.json()["status"] == "Accepted"
        for path, status in (
            ("/restate/scope/bad!scope/call/api/echo", 400),
            ("/restate/scope/s1/call/apiobj/k/put", 400),  # keyed targets are not scoped here
            ("/restate/scope/s1", 400),
            ("/api/echo?limit-key=x", 400),  # a limit key needs a scope
        ):
            r = await env.client.post(path, json="z")
            assert r.status_code == status, (path, r.text)


async def test_scopes_from_a_handler() -> None:
    async with harness(APP, config=FAST_RETRIES) as env:
        r = await env.client.post("/api/scoped_caller", json="k")
        assert r.status_code == 200 and r.json() == ["x", '"y"'], r.text
        r = await env.client.post("/api/scoped_object_caller")
        assert r.status_code == 400 and "not supported by awaken" in r.json()["message"]


async def test_context_misuse_fails_at_once_and_ordinary_errors_retry() -> None:
    ATTEMPTS.clear()
    async with harness(APP, config=FAST_RETRIES) as env:
        r = await asyncio.wait_for(env.client.post("/api/misuses_the_context"), 10)
        assert r.status_code == 500 and "unexpected keyword argument 'delay'" in r.json()["message"]
        r = await asyncio.wait_for(env.client.post("/api/asks_for_a_missing_context_method"), 10)
        assert r.status_code == 500 and "no attribute 'signal_all'" in r.json()["message"]
        assert "programming error" in r.json()["message"]
        sent = await env.client.post("/api/ordinary_attribute_error/send")
        inv = sent.json()["invocationId"]
        record = await eventually(
            lambda: env.engine.get_invocation(inv), lambda rec: rec.status.value == "paused"
        )
        assert len(ATTEMPTS) == 8 and "AttributeError" in (record.last_failure or "")


async def test_entry_names_and_invocation_context_managers() -> None:
    ENTERED.clear()
    async with harness(APP, config=FAST_RETRIES) as env:
        transport = httpx.ASGITransport(app=AdminApp(env.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as admin:
            r = await env.client.post("/apiobj/k/put", json=5)
            assert r.json() == 5 and ENTERED == ["enter", "exit"]
            journal = (await admin.get(f"/invocations/{r.headers['x-restate-id']}")).json()["journal"]
            names = [e["data"].get("entry_name") for e in journal if e["kind"] in ("set_state", "get_state")]
            assert names == ["store the value", "read it back"]


async def test_private_handlers_are_not_callable_from_the_ingress() -> None:
    async with harness(APP, config=FAST_RETRIES) as env:
        r = await env.client.post("/api/private")
        assert r.status_code == 400 and r.json()["message"] == "the invoked service is not public"


async def test_always_replay_catches_non_journaled_randomness() -> None:
    async with restate.create_test_harness(APP) as env:  # without replay, nothing shows
        assert (await env.client.service_call(nondeterministic, None)) == "done"
    async with restate.create_test_harness(APP, always_replay=True) as env:
        with pytest.raises(restate.HttpError) as err:
            await env.client.service_call(nondeterministic, None)
        assert err.value.status_code == 570 and "non-deterministic replay" in (err.value.body or "")


async def test_always_replay_replays_completed_handlers() -> None:
    async with restate.create_test_harness(APP, always_replay=True) as env:
        with pytest.raises(restate.HttpError) as err:
            await env.client.service_call(branches_on_process_state, None)
        assert err.value.status_code == 570 and "replaying the completed handler" in (err.value.body or "")
        # a deterministic handler passes the check, with every kind of action in it
        assert await env.client.service_call(deterministic, None) == [True, True, "e", "self"]


async def test_disable_retries_ends_a_failing_invocation_at_once() -> None:
    async with restate.create_test_harness(APP, disable_retries=True) as env:
        with pytest.raises(restate.HttpError) as err:
            await asyncio.wait_for(env.client.service_call(always_fails, None), 10)
        assert err.value.status_code == 500 and "never works" in (err.value.body or "")


def test_the_deprecated_sync_harness() -> None:
    with restate.test_harness(APP) as h, h.ingress_client() as client:
        assert client.post("/api/echo", json="sync").json() == "sync"
        admin = httpx.get(f"{h.admin_url}/services/api").json()
        assert admin["ty"] == "Service"


async def test_legacy_delete_invocation() -> None:
    async with harness(APP, config=FAST_RETRIES) as env:
        transport = httpx.ASGITransport(app=AdminApp(env.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as admin:
            sent = await env.client.post("/api/always_fails/send")
            inv = sent.json()["invocationId"]
            r = await admin.delete(f"/invocations/{inv}", params={"mode": "kill"})
            assert r.status_code == 202 and r.content == b""
            out = await asyncio.wait_for(env.client.get(f"/restate/invocation/{inv}/attach"), 10)
            assert out.status_code == 409 and out.json()["message"] == "killed"
            # Restate answers 202 whatever the invocation's state: killed already, unknown
            assert (await admin.delete(f"/invocations/{inv}")).status_code == 202
            bad = await admin.delete(f"/invocations/{inv}", params={"mode": "obliterate"})
            assert bad.status_code == 400 and set(bad.json()) == {"message"}


async def test_attach_and_output_by_idempotency_key_of_a_keyed_target() -> None:
    async with harness(APP, config=FAST_RETRIES) as env:
        sent = await env.client.post("/apiobj/k9/put/send", json=9, headers={"idempotency-key": "op-9"})
        assert sent.status_code == 202
        attached = await asyncio.wait_for(env.client.get("/restate/invocation/apiobj/k9/put/op-9/attach"), 10)
        assert attached.json() == 9 and attached.headers["x-restate-id"] == sent.json()["invocationId"]
        assert (await env.client.get("/restate/invocation/apiobj/k9/put/op-9/output")).json() == 9
        for path, status in (
            ("/restate/invocation/apiobj/k9/put/other/output", 404),  # no such invocation
            ("/restate/invocation/apiobj/put/op-9/output", 400),  # a keyed target needs its key
            ("/restate/invocation/apiobj/k9/nope/op-9/output", 404),
            ("/restate/invocation/nope/k9/put/op-9/output", 404),
        ):
            assert (await env.client.get(path)).status_code == status, path
