"""`POST /query` over invocations of handlers served elsewhere (a TypeScript SDK deployment): the
journal shows the SDK's commands under their message names, and the invocation its deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from awaken.engine.engine import EngineConfig
from tests.protocol.rig import Endpoint
from tests.protocol.server import Awaken, serve
from tests.protocol.test_engine_commands import awakeable_of

CONFIG = EngineConfig(remote_inactivity=0.3)


async def rows(awaken: Awaken, sql: str) -> list[dict[str, Any]]:
    r = await awaken.admin.post("/query", json={"query": sql}, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["rows"]
    return result


async def test_a_remote_invocation_and_its_journal(endpoint: Callable[[str], Endpoint]) -> None:
    ep = endpoint("ts-h1")
    async with serve(config=CONFIG) as awaken:
        deployment_id = (await awaken.register(ep.url))["id"]
        started = (await awaken.ingress.post("/Reviews/review/send", json="a")).json()["invocationId"]
        await awakeable_of(awaken, started)
        [row] = await rows(
            awaken,
            "SELECT inv.target, inv.target_service_ty, inv.pinned_deployment_id,"
            " dp.id IS NOT NULL AS pinned_deployment_exists"
            f" FROM sys_invocation inv LEFT JOIN sys_deployment dp ON dp.id = inv.pinned_deployment_id"
            f" WHERE inv.id = '{started}'",
        )
        assert row == {
            "target": "Reviews/review",
            "target_service_ty": "service",
            "pinned_deployment_id": deployment_id,
            "pinned_deployment_exists": True,
        }
        journal = await rows(
            awaken, f"SELECT index, entry_type, name FROM sys_journal WHERE id = '{started}'"
        )
        types = [e["entry_type"] for e in journal]
        assert types[0] == "Input" and "Run" in types, journal
        assert {e["name"] for e in journal if e["entry_type"] == "Run"} == {"request human review"}
        services = await rows(awaken, "SELECT name, deployment_id FROM sys_service WHERE name = 'Reviews'")
        assert services == [{"name": "Reviews", "deployment_id": deployment_id}]
