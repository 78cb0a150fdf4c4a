"""The admin API's `GET /invocations` filters and pages, `GET /invocations/{id}` gives what a
describe needs, and with a token every admin request needs it."""

from __future__ import annotations

import httpx
import pytest

from awaken.admin.app import AdminApp
from awaken.testing import TestEnvironment
from tests.integration.helpers import eventually, next_awakeable


async def _ids(admin: httpx.AsyncClient, **params: str) -> list[str]:
    r = await admin.get("/invocations", params=params)
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()["invocations"]]


async def test_filters_by_service_handler_key_status_and_time(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    greet = [(await env.client.post("/svc/greet", json=f"n{i}")).headers["x-restate-id"] for i in range(3)]
    added = (await env.client.post("/counter/k1/add", json=2)).headers["x-restate-id"]
    other = (await env.client.post("/counter/k2/add", json=3)).headers["x-restate-id"]
    holder = (await env.client.post("/counter/k1/hold/send")).json()["invocationId"]
    await next_awakeable("hold:k1")
    queued = (await env.client.post("/counter/k1/add/send", json=5)).json()["invocationId"]
    await eventually(lambda: env.engine.get_invocation(queued), lambda r: r.status.value == "pending")

    records = {r.id: r for r in await env.engine.store.list_invocations(limit=1000)}
    # newest first (calls in one millisecond: by id, descending)
    newest_first = sorted(greet, key=lambda i: (records[i].created_at_ms, i), reverse=True)
    assert await _ids(admin, service="svc", handler="greet") == newest_first
    assert set(await _ids(admin, service="counter", key="k1")) == {added, holder, queued}
    assert await _ids(admin, service="counter", key="k1", handler="add", status="completed") == [added]
    assert set(await _ids(admin, service="counter", status="pending,running,suspended")) == {holder, queued}
    assert set(await _ids(admin, service="counter", status=["pending", "completed"])) == {
        added,
        other,
        queued,
    }
    cut = records[added].created_at_ms
    after = set(await _ids(admin, service="counter", created_after=str(cut)))
    assert after == {r.id for r in records.values() if r.service == "counter" and r.created_at_ms >= cut}
    before = set(await _ids(admin, service="counter", created_before=str(cut)))
    assert before == {r.id for r in records.values() if r.service == "counter" and r.created_at_ms < cut}
    assert await _ids(admin, created_after="2999-01-01T00:00:00Z") == []
    assert set(await _ids(admin, created_before="2999-01-01T00:00:00+00:00")) == set(records)


async def test_pages_newest_first_with_an_opaque_cursor(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    made = [(await env.client.post("/svc/greet", json=f"p{i}")).headers["x-restate-id"] for i in range(7)]
    seen: list[str] = []
    before: str | None = None
    pages = 0
    while True:
        params = {"service": "svc", "limit": "3", **({"before": before} if before else {})}
        page = (await admin.get("/invocations", params=params)).json()
        seen += [row["id"] for row in page["invocations"]]
        pages += 1
        before = page["next_page"]
        if before is None:
            break
    everything = [r.id for r in await env.engine.store.list_invocations(service="svc", limit=1000)]
    assert seen == everything and set(made) <= set(seen) and len(seen) == len(set(seen))
    # full pages, then the rest (an empty page after a full last one: next_page came with it)
    assert pages == len(everything) // 3 + 1


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=sleeping", "unknown status 'sleeping'"),
        ("created_after=yesterday", "created_after must be ms since the epoch or an RFC 3339 time"),
        ("before=nonsense", "not a page cursor"),
        ("limit=0", "limit must be a whole number"),
    ],
)
async def test_bad_filters_are_400(
    env: TestEnvironment, admin: httpx.AsyncClient, query: str, says: str
) -> None:
    r = await admin.get(f"/invocations?{query}")
    assert r.status_code == 400 and says in r.json()["message"], r.text


async def test_describe_gives_input_output_and_each_entry_payload_and_result(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    r = await env.client.post("/counter/d1/add", json=7)
    invocation_id = r.headers["x-restate-id"]
    body = (await admin.get(f"/invocations/{invocation_id}")).json()
    assert body["input"] == 7 and body["output"] == {"value": r.json()}
    assert body["epoch"] >= 1 and body["run_at"] is None
    kinds = {e["kind"]: e for e in body["journal"]}
    assert kinds["set_state"]["payload"] == r.json()  # what it carried in
    assert kinds["get_state"]["result"] == {"value": None}  # what came back (no value yet)
    failed = await env.client.post("/svc/terminal")
    assert failed.status_code >= 400
    body = (await admin.get(f"/invocations/{failed.headers['x-restate-id']}")).json()
    assert body["output"]["failure"]["code"] == failed.status_code


async def test_a_token_guards_every_admin_request(env: TestEnvironment) -> None:
    transport = httpx.ASGITransport(app=AdminApp(env.app, token="t0ken"))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as raw:
        for path in ("/health", "/invocations", "/metrics", "/openapi.json", "/nope"):
            r = await raw.get(path)
            assert r.status_code == 401, path
            assert "token" in r.json()["message"]  # Restate's admin error body: {"message": ...}
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert (await raw.patch(f"/invocations/inv_1{'0' * 33}/kill")).status_code == 401
        for wrong in ("Bearer t0ke", "Bearer t0ken2", "Basic t0ken", "t0ken", "Bearer"):
            assert (await raw.get("/health", headers={"authorization": wrong})).status_code == 401, wrong
        good = {"authorization": "Bearer t0ken"}
        assert (await raw.get("/health", headers=good)).status_code == 200
        assert (await raw.get("/invocations", headers=good)).status_code == 200
