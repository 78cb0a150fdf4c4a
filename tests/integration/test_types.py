from __future__ import annotations

import asyncio

from awaken.testing import TestEnvironment
from tests.integration.helpers import next_awakeable


async def test_dataclass_in_out_and_through_a_step(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/mirror_point", json={"x": 1, "y": 2})
    assert r.status_code == 200 and r.json() == {"x": 2, "y": 1}
    bad = await env.client.post("/svc/mirror_point", json={"x": "one"})
    assert bad.status_code == 500 and bad.json()["message"].startswith("Unable to parse an input argument")


async def test_typed_dict(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/grow_box", json={"label": "a", "size": 1})
    assert r.status_code == 200 and r.json() == {"label": "a", "size": 2}
    # a TypedDict is plain JSON, as in restate-sdk: keys it does not name reach the handler
    r = await env.client.post("/svc/grow_box", json={"label": "b", "size": 2, "extra": True})
    assert r.status_code == 200 and r.json() == {"label": "b", "size": 3}


async def test_dataclass_awakeable_payload(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/typed_wait", json="t1"))
    awk = await next_awakeable("t1")
    bad = await env.client.post(f"/restate/awakeables/{awk}/resolve", json={"x": 1})
    assert bad.status_code == 400
    ok = await env.client.post(f"/restate/awakeables/{awk}/resolve", json={"x": 3, "y": 4})
    assert ok.status_code == 202
    assert (await call).json() == {"x": 3, "y": 4}
