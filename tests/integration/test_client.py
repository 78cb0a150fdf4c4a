from __future__ import annotations

import asyncio

import httpx
import pytest

from awaken import AsyncClient
from awaken.client import HttpError
from awaken.testing import TestEnvironment
from tests.integration.helpers import next_awakeable


async def test_async_client_round_trip(env: TestEnvironment) -> None:
    client = AsyncClient("http://awaken", transport=httpx.ASGITransport(app=env.app))
    try:
        assert await client.call("svc", "greet", "eve") == "hello eve"
        assert await client.call("counter", "add", 4, key="k/1") == 4
        sent = await client.send("svc", "greet", "fay", idempotency_key="i1")
        assert sent["status"] == "Accepted"
        assert await client.attach(sent["invocationId"]) == "hello fay"
        assert await client.output(sent["invocationId"]) == "hello fay"
        again = await client.send("svc", "greet", "fay", idempotency_key="i1")
        assert again == {"invocationId": sent["invocationId"], "status": "PreviouslyAccepted"}

        waiting = asyncio.create_task(client.call("svc", "approve", "cl"))
        awk = await next_awakeable("cl")
        assert await client.resolve_awakeable(awk, {"ok": 1}) == {"status": "Accepted"}
        assert await waiting == {"got": {"ok": 1}}

        failing = asyncio.create_task(client.call("svc", "approve", "cl2"))
        awk2 = await next_awakeable("cl2")
        assert (await client.reject_awakeable(awk2, "nope"))["status"] == "Accepted"
        with pytest.raises(HttpError) as err:
            await failing
        assert err.value.status == 500 and err.value.body["message"] == "nope"
        with pytest.raises(HttpError) as missing:
            await client.call("nope", "x")
        assert missing.value.status == 404
    finally:
        await client.aclose()
