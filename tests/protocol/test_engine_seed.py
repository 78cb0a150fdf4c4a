"""The seed's story on handlers served elsewhere: a service of the official TypeScript or Python
SDK creates an awakeable, hands its id out inside `ctx.run`, awaits it; it is registered with
awaken, called through awaken's ingress, resolved with the seed's curl, and answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from awaken.engine.engine import EngineConfig
from tests import pg
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import Endpoint
from tests.protocol.server import Awaken, serve


async def _awakeable_id(awaken: Awaken, invocation_id: str) -> str:
    """The id the handler handed out: the result of its `ctx.run`, read from the journal."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        r = await awaken.admin.get(f"/invocations/{invocation_id}")
        assert r.status_code == 200, r.text
        for entry in r.json()["journal"]:
            result = entry.get("result")
            if entry["type"] == "Run" and entry["kind"] == "notification" and result:
                return str(result["value"]["awakeableId"])
        assert loop.time() < deadline, r.json()
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_the_seed_story(
    endpoint: Callable[[str], Endpoint], name: str, backend: str, request: pytest.FixtureRequest
) -> None:
    ep = endpoint(name)
    db = None
    if backend == "postgres":
        db = request.getfixturevalue("pg_url")
        await pg.empty(db)
    # bidirectional: suspended after 0.3 s of silence (Restate's inactivity timeout, shortened)
    async with serve(db=db, config=EngineConfig(remote_inactivity=0.3)) as awaken:
        registered = await awaken.register(ep.url)
        assert {s["name"] for s in registered["services"]} >= {"Reviews", "Counter", "Greeter"}
        sent = await awaken.ingress.post("/Reviews/review/send", json="order-7")
        assert sent.status_code == 202, sent.text
        invocation_id = sent.json()["invocationId"]
        awakeable_id = await _awakeable_id(awaken, invocation_id)
        assert awakeable_id.startswith("sign_1")
        suspended = await awaken.wait_status(invocation_id, "suspended")
        assert suspended["status"] == "suspended"
        # while it waits, the pending list shows it, as far as the protocol tells
        pending = (await awaken.admin.get("/awakeables")).json()["awakeables"]
        assert any(a["id"] == awakeable_id for a in pending), pending
        resolved = await awaken.ingress.post(
            f"/restate/awakeables/{awakeable_id}/resolve",
            content=json.dumps("approved"),
            headers={"content-type": "application/json"},
        )
        assert resolved.status_code == 202, resolved.text
        output = await awaken.ingress.get(f"/restate/invocation/{invocation_id}/attach")
        assert output.status_code == 200, output.text
        assert output.json() == "order-7: approved"
