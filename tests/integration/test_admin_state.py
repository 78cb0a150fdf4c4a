"""Reading and editing the state of virtual object keys through the admin API (SPEC §6)."""

from __future__ import annotations

import httpx
import pytest

from awaken.testing import TestEnvironment
from tests.integration.helpers import next_awakeable


async def test_state_is_read_and_replaced(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    assert (await env.client.post("/counter/s1/add", json=5)).json() == 5
    r = await admin.get("/services/counter/state/s1")
    assert r.status_code == 200 and r.json() == {"service": "counter", "key": "s1", "state": {"value": 5}}

    new_state = {"value": 40, "note": {"by": "admin"}, "raw": {"$base64": "AP8="}}
    r = await admin.post("/services/counter/state", json={"object_key": "s1", "new_state": new_state})
    assert r.status_code == 202 and r.json()["names"] == ["note", "raw", "value"]
    assert (await env.client.post("/counter/s1/add", json=2)).json() == 42  # handlers see it
    state = (await admin.get("/services/counter/state/s1")).json()["state"]
    assert state == {"value": 42, "note": {"by": "admin"}, "raw": {"$base64": "AP8="}}
    assert await env.engine.store.get_state("counter", "s1") == {
        "value": b"42",
        "note": b'{"by":"admin"}',
        "raw": b"\x00\xff",
    }
    # an empty new_state clears the key; an unknown key has no state
    await admin.post("/services/counter/state", json={"object_key": "s1", "new_state": {}})
    assert (await admin.get("/services/counter/state/s1")).json()["state"] == {}
    assert (await admin.get("/services/counter/state/nobody")).json()["state"] == {}


async def test_state_of_a_locked_key_cannot_be_replaced(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    holder = (await env.client.post("/counter/s2/hold/send")).json()["invocationId"]
    awakeable_id = await next_awakeable("hold:s2")
    r = await admin.post("/services/counter/state", json={"object_key": "s2", "new_state": {"value": 1}})
    assert r.status_code == 409 and "locked" in r.json()["message"]
    await env.client.post(f"/restate/awakeables/{awakeable_id}/resolve", json=3)
    assert (await env.client.get(f"/restate/invocation/{holder}/attach")).json() == 3
    r = await admin.post("/services/counter/state", json={"object_key": "s2", "new_state": {"value": 1}})
    assert r.status_code == 202  # the key is free once the holder has completed
    assert (await env.client.post("/counter/s2/get")).json() == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/services/nope/state/k", None, 404),
        ("GET", "/services/svc/state/k", None, 400),  # a plain service has no state
        ("POST", "/services/counter/state", b"{bad", 400),
        ("POST", "/services/counter/state", b"[]", 400),
        ("POST", "/services/counter/state", b'{"object_key": 1, "new_state": {}}', 400),
        ("POST", "/services/counter/state", b'{"object_key": "k", "new_state": []}', 400),
        (
            "POST",
            "/services/counter/state",
            b'{"object_key": "k", "new_state": {"a": {"$base64": "!"}}}',
            400,
        ),
        ("GET", "/services/counter/state", None, 405),
        ("PUT", "/services/counter/state/k", None, 405),
    ],
)
async def test_bad_state_requests(
    env: TestEnvironment, admin: httpx.AsyncClient, method: str, path: str, body: bytes | None, status: int
) -> None:
    r = await admin.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert await env.engine.store.get_state("counter", "k") == {}


async def test_services_are_listed_and_described_in_restate_shapes(admin: httpx.AsyncClient) -> None:
    listed = (await admin.get("/services")).json()["services"]
    assert {s["name"]: s["ty"] for s in listed} == {
        "svc": "Service",
        "counter": "VirtualObject",
        "signup": "Workflow",
        "review": "Workflow",
        "blobs": "VirtualObject",
    }
    counter = (await admin.get("/services/counter")).json()
    assert counter["ty"] == "VirtualObject" and counter["deployment_id"].startswith("dp_")
    assert counter["revision"] == 1 and counter["public"] is True
    assert counter["idempotency_retention"] == "1d" and counter["inactivity_timeout"] == "1m"
    assert counter["retry_policy"]["on_max_attempts"] == "Pause"
    handlers = {h["name"]: h for h in counter["handlers"]}
    assert handlers["add"]["ty"] == "Exclusive" and handlers["get"]["ty"] == "Shared"
    assert handlers["add"]["input_json_schema"] == {"type": "integer"}
    assert handlers["add"]["input_description"] == "JSON integer"
    assert "input_json_schema" not in handlers["get"] and handlers["get"]["input_description"] == "none"
    assert handlers["get"]["output_json_schema"] == {"type": "integer"}
    review = (await admin.get("/services/review")).json()
    assert {h["name"]: h["ty"] for h in review["handlers"]} == {
        "run": "Workflow",
        "decide": "Shared",
        "refuse": "Shared",
        "look": "Shared",
    }
    assert review["workflow_completion_retention"] == "1d"
    svc = (await admin.get("/services/svc")).json()
    assert all("ty" not in h for h in svc["handlers"])  # handlers of a plain service have no type
    missing = await admin.get("/services/nope")
    assert missing.status_code == 404 and set(missing.json()) == {"message"}
    # the app's own services are one deployment, in Restate's shape (its CLI reads every service's)
    [local] = (await admin.get("/deployments")).json()["deployments"]
    assert local["id"] == svc["deployment_id"] and local["uri"] == "awaken://local"
    assert {s["name"] for s in local["services"]} >= {"svc", "counter", "review"}


async def test_the_openapi_document_covers_every_admin_route(admin: httpx.AsyncClient) -> None:
    doc = (await admin.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] == "awaken admin API"
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
        ("GET", "/services"),
        ("GET", "/services/{service}"),
        ("POST", "/services/{service}/state"),
        ("GET", "/services/{service}/state/{key}"),
        ("GET", "/invocations"),
        ("GET", "/invocations/counts"),
        ("GET", "/invocations/{id}"),
        ("DELETE", "/invocations/{id}"),
        ("GET", "/deployments"),
        ("POST", "/deployments"),
        ("GET", "/deployments/{deployment}"),
        ("DELETE", "/deployments/{deployment}"),
        ("POST", "/query"),
        ("GET", "/version"),
        ("PATCH", "/invocations/{id}/cancel"),
        ("PATCH", "/invocations/{id}/kill"),
        ("PATCH", "/invocations/{id}/pause"),
        ("PATCH", "/invocations/{id}/purge"),
        ("PATCH", "/invocations/{id}/resume"),
        ("GET", "/awakeables"),
        ("POST", "/awakeables/{awakeable}/resolve"),
        ("POST", "/awakeables/{awakeable}/reject"),
    }
    assert documented == served
    for method, path in served:  # each documented route answers (not 404 "not found" / 405)
        concrete = (
            path.replace("{service}", "counter")
            .replace("{key}", "k")
            .replace("{id}", "inv_1" + "0" * 33)
            .replace("{awakeable}", "sign_1" + "A" * 40)
            .replace("{deployment}", "dp_14LsPzYYDtQMZ4bWwoNAVdu")
        )
        r = await admin.request(method, concrete, json={"object_key": "k", "new_state": {}})
        assert r.status_code not in (405,) and not (
            r.status_code == 404 and r.json()["message"] == "not found"
        )
