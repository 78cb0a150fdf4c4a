"""Request identity through the engine (SPEC §8): an SDK endpoint configured with awaken's public
key (`identityKeys` / `identity_keys`) accepts awaken's signed requests and refuses an awaken
that does not sign them, at discovery and at every invocation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from awaken.core.retry import RetryPolicy
from awaken.engine.engine import EngineConfig
from awaken.protocol import SigningKey
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import Endpoint
from tests.protocol.server import serve

FAST = EngineConfig(retry_policy=RetryPolicy(initial_interval_ms=20, max_interval_ms=100, max_attempts=100))


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_a_signing_awaken_is_accepted_and_others_are_refused(
    signed_endpoint: Callable[[str], Endpoint], identity_key: SigningKey, name: str, tmp_path: Path
) -> None:
    ep = signed_endpoint(name)
    db = f"sqlite:///{tmp_path / 'awaken.db'}"
    async with serve(db=db, signing_key=identity_key, config=FAST) as awaken:
        registered = await awaken.register(ep.url)
        assert "Greeter" in {s["name"] for s in registered["services"]}
        r = await awaken.ingress.post("/Greeter/greet", json="signed")
        assert r.status_code == 200 and r.json() == "Hello signed!", r.text
    # the same database, no key: the deployment refuses every invocation (and they are retried)
    async with serve(db=db, config=FAST) as unsigned:
        sent = await unsigned.ingress.post("/Greeter/greet/send", json="unsigned")
        invocation_id = sent.json()["invocationId"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:
            body = (await unsigned.admin.get(f"/invocations/{invocation_id}")).json()
            if body["attempts"] >= 2:
                break
            assert loop.time() < deadline, body
            await asyncio.sleep(0.02)
        assert body["status"] != "completed"
        assert "deployment answered HTTP 401" in body["last_failure"], body
        # and it cannot be registered anew
        r = await unsigned.admin.post("/deployments", json={"uri": ep.url, "force": True})
        assert r.status_code == 400, r.text
        assert "cannot discover the deployment" in r.json()["message"]
        assert "HTTP 401" in r.json()["message"], r.text
    # a key the endpoint does not know is refused as well
    async with serve(signing_key=SigningKey.generate()) as other:
        r = await other.admin.post("/deployments", json={"uri": ep.url})
        assert r.status_code == 400 and "HTTP 401" in r.json()["message"], r.text
