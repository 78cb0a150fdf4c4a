"""Local and remote handlers mixed (SPEC §8): a local handler calls a remote one and the other way
round; an awakeable of a remote handler is resolved over the ingress, by `awaken awakeables
resolve`, by a local handler, and a local one by a remote handler; a remote virtual object's key
stays locked while its handler waits, as a local one's does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from awaken.engine.engine import EngineConfig
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.local_app import services
from tests.protocol.rig import Endpoint
from tests.protocol.server import Awaken, serve
from tests.protocol.test_engine_commands import awakeable_of, call


@pytest.fixture(params=SDK_ENDPOINTS)
async def mixed(request: pytest.FixtureRequest, endpoint: Callable[[str], Endpoint]) -> AsyncIterator[Awaken]:
    ep = endpoint(request.param)
    async with serve(services, config=EngineConfig(remote_inactivity=0.3)) as awaken:
        await awaken.register(ep.url)
        yield awaken


async def test_a_local_handler_calls_a_remote_one(mixed: Awaken) -> None:
    assert await call(mixed, "/Local/call_remote", "Ann") == "Hello Ann!"


async def test_a_remote_handler_calls_a_local_one(mixed: Awaken) -> None:
    body = {"service": "Local", "handler": "hello", "body": "Bo"}
    assert await call(mixed, "/Proxy/call", body) == "local hello Bo"


async def test_a_remote_awakeable_resolved_by_a_local_handler(mixed: Awaken) -> None:
    sent = await mixed.ingress.post("/Reviews/review/send", json="doc")
    invocation_id = sent.json()["invocationId"]
    awakeable_id = await awakeable_of(mixed, invocation_id)
    await call(mixed, "/Local/resolve", {"id": awakeable_id, "value": "fine"})
    r = await mixed.ingress.get(f"/restate/invocation/{invocation_id}/attach")
    assert r.json() == "doc: fine"
    # the same completion again answers as Restate's ingress does; another one is refused
    again = await mixed.ingress.post(f"/restate/awakeables/{awakeable_id}/resolve", json="fine")
    assert again.status_code == 202 and again.json()["status"] == "PreviouslyAccepted"
    other = await mixed.ingress.post(f"/restate/awakeables/{awakeable_id}/resolve", json="no")
    assert other.status_code in (409, 410), other.text


async def test_a_remote_awakeable_resolved_by_the_cli(mixed: Awaken) -> None:
    sent = await mixed.ingress.post("/Reviews/review/send", json="cli")
    invocation_id = sent.json()["invocationId"]
    awakeable_id = await awakeable_of(mixed, invocation_id)
    args = [sys.executable, "-m", "awaken", "awakeables", "resolve", awakeable_id, '"by cli"']
    done = await asyncio.to_thread(
        subprocess.run, [*args, "--url", mixed.ingress_url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Accepted"
    r = await mixed.ingress.get(f"/restate/invocation/{invocation_id}/attach")
    assert r.json() == "cli: by cli"


async def test_a_local_awakeable_resolved_by_a_remote_handler(mixed: Awaken) -> None:
    sent = await mixed.ingress.post("/Local/wait/send", json="memo")
    invocation_id = sent.json()["invocationId"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        pending = (await mixed.admin.get("/awakeables")).json()["awakeables"]
        mine = [a["id"] for a in pending if a["invocation_id"] == invocation_id]
        if mine:
            break
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    await call(mixed, "/Reviews/resolve", {"id": mine[0], "value": "signed"})
    r = await mixed.ingress.get(f"/restate/invocation/{invocation_id}/attach")
    assert r.json() == "memo: signed"


async def test_a_remote_object_keeps_its_key_locked_while_it_waits(mixed: Awaken) -> None:
    holder = (await mixed.ingress.post("/Locker/k1/hold/send", json=None)).json()["invocationId"]
    awakeable_id = await awakeable_of(mixed, holder)
    await mixed.wait_status(holder, "suspended")
    queued = (await mixed.ingress.post("/Locker/k1/touch/send", json=None)).json()["invocationId"]
    # another key is free: its call completes while k1's waits behind the holder
    assert await call(mixed, "/Locker/k2/touch") == 1
    behind = (await mixed.admin.get(f"/invocations/{queued}")).json()
    assert behind["status"] == "pending", behind  # queued behind the key lock
    pending = (await mixed.admin.get("/awakeables")).json()["awakeables"]
    assert [a["invocation_id"] for a in pending if a["id"] == awakeable_id] == [holder]
    await mixed.ingress.post(f"/restate/awakeables/{awakeable_id}/resolve", json="go")
    assert (await mixed.ingress.get(f"/restate/invocation/{holder}/attach")).json() == "go"
    assert (await mixed.ingress.get(f"/restate/invocation/{queued}/attach")).json() == 1
    pending = (await mixed.admin.get("/awakeables")).json()["awakeables"]
    assert all(a["id"] != awakeable_id for a in pending)


@pytest.mark.parametrize("sdk", [e for e in SDK_ENDPOINTS if e.startswith("py-")])
async def test_a_remote_handler_signals_a_local_invocation(
    sdk: str, endpoint: Callable[[str], Endpoint]
) -> None:
    # restate-sdk's ctx.resolve_signal / reject_signal: a SendSignalCommand by name, delivered by
    # the store's rule for named signals (receiving them remotely needs a protocol awaken lacks)
    async with serve(services, config=EngineConfig(remote_inactivity=0.3)) as awaken:
        await awaken.register(endpoint(sdk).url)
        for name, req, status, answer in (
            ("verdict", {"value": "approved"}, 200, "verdict: approved"),
            ("refusal", {"reject": "refused"}, 403, "refused"),
        ):
            sent = await awaken.ingress.post("/Local/wait_signal/send", json=name)
            invocation_id = sent.json()["invocationId"]
            body = {"invocation_id": invocation_id, "name": name, **req}
            assert await call(awaken, "/Caller/signal", body) == "signalled"
            r = await asyncio.wait_for(awaken.ingress.get(f"/restate/invocation/{invocation_id}/attach"), 30)
            assert r.status_code == status, r.text
            assert (r.json() if status == 200 else r.json()["message"]) == answer
