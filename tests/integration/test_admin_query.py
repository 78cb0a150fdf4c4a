"""`POST /query` of the admin API on both backends: the introspection tables Restate documents,
queried with the statements Restate's CLI sends (as its 1.7 release writes them), and bad queries
answered with a 400 and a message."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from awaken.admin.app import AdminApp
from awaken.admin.metadata import LOCAL_DEPLOYMENT_ID
from awaken.storage.protocol import Status
from awaken.testing import TestEnvironment, harness
from tests.integration import apps
from tests.integration.conftest import FAST_RETRIES
from tests.integration.helpers import eventually, next_awakeable

# `restate invocations list` (ids of the page, then their rows; the count comes as Arrow)
LIST_IDS = """SELECT
            id
        FROM sys_invocation inv
        WHERE status != 'completed'
        ORDER BY inv.created_at DESC, inv.id
        LIMIT 100"""
COUNT = """SELECT COUNT(1) FROM (SELECT
            *
        FROM sys_invocation inv
        LIMIT 50000
        )
        WHERE status != 'completed'"""
DESCRIBE = """SELECT
            inv.id,
            inv.target,
            inv.target_service_ty,
            inv.idempotency_key,
            inv.status,
            inv.created_at,
            inv.modified_at as state_modified_at,
            inv.pinned_deployment_id,
            inv.retry_count as num_retries,
            inv.last_failure as last_failure_message,
            inv.last_failure_related_entry_index as last_failure_entry_index,
            inv.last_failure_related_entry_name as last_failure_entry_name,
            inv.last_failure_related_entry_type as last_failure_entry_ty,
            inv.last_attempt_deployment_id,
            inv.last_attempt_server,
            inv.next_retry_at,
            inv.last_start_at,
            inv.invoked_by_id,
            inv.invoked_by_target,
            inv.trace_id,
            inv.completion_result,
            inv.completion_failure,
            dp.id IS NOT NULL as pinned_deployment_exists
        FROM sys_invocation inv
        LEFT JOIN sys_deployment dp ON dp.id = inv.pinned_deployment_id
        WHERE inv.id in ('{ids}')
        ORDER BY inv.created_at DESC, inv.id"""
JOURNAL = """SELECT
            sj.index,
            sj.entry_type,
            sj.completed,
            sj.invoked_id,
            sj.invoked_target,
            sj.sleep_wakeup_at,
            sj.name,
            sj.promise_name,
            sj.version, sj.entry_json, sj.appended_at
        FROM sys_journal sj
        WHERE
            sj.id = '{id}'
        ORDER BY index DESC
        LIMIT 100"""
COLUMNS = """SELECT COUNT(*) FROM information_schema.columns
            WHERE
                table_name = 'sys_journal'
                AND column_name IN ('version', 'entry_json', 'appended_at')"""
# `restate invocations cancel|kill <id>`
CANCEL = "SELECT id, target FROM sys_invocation_status WHERE id = '{id}' AND status != 'completed' LIMIT 500"
# `restate state get <service> <key>`
STATE = "select key, value from state where service_name = '{service}' and service_key = '{key}' ;"
# `restate services status`: the queue of each handler
INBOX = """SELECT
                target_service_name,
                target_handler_name,
                'pending' as status,
                COUNT(1) as num_invocations,
                MIN(created_at) as oldest_at,
                FIRST_VALUE(id ORDER BY created_at ASC) as oldest_invocation
             FROM sys_invocation_status
             WHERE status == 'inboxed' AND target_service_name IN ('svc','counter')
             GROUP BY target_service_name, target_handler_name"""
QUEUES = """SELECT
                service_name,
                service_key,
                COUNT(1) as num_pending
             FROM sys_inbox
             WHERE service_name IN ('counter')
             GROUP BY service_name, service_key
             ORDER BY num_pending DESC"""


@pytest.fixture
async def env(db_url: str | None) -> AsyncIterator[TestEnvironment]:
    apps.reset()
    async with harness(apps.app, config=FAST_RETRIES, db=db_url) as environment:
        yield environment


@pytest.fixture
async def admin(env: TestEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=AdminApp(env.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        yield client


async def rows(admin: httpx.AsyncClient, sql: str, path: str = "/v4/query") -> list[dict[str, Any]]:
    r = await admin.post(path, json={"query": sql}, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"  # exactly: the CLI compares it so
    result: list[dict[str, Any]] = r.json()["rows"]
    return result


class Scene:
    """A completed call, state, a key held by a waiting invocation and one queued behind it."""

    def __init__(self, greet: str, hold: str, queued: str) -> None:
        self.greet, self.hold, self.queued = greet, hold, queued


async def scene(env: TestEnvironment) -> Scene:
    assert (await env.client.post("/counter/a/add", json=5)).json() == 5
    greet = await env.client.post("/svc/greet", json="bob")
    assert greet.status_code == 200
    # Listings order by creation time in milliseconds (ties by id, which is random after its
    # time prefix): a fast machine makes two invocations within one, so the clock moves on.
    env.clock.advance(0.002)
    hold = (await env.client.post("/counter/b/hold/send")).json()["invocationId"]
    await next_awakeable("hold:b")
    env.clock.advance(0.002)
    queued = (await env.client.post("/counter/b/add/send", json=1)).json()["invocationId"]
    record = await env.engine.store.get_invocation(queued)
    assert record is not None and record.status is Status.PENDING
    return Scene(greet.headers["x-restate-id"], hold, queued)


async def test_the_invocation_list_and_its_description(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    s = await scene(env)
    ids = [row["id"] for row in await rows(admin, LIST_IDS)]
    assert ids == [s.queued, s.hold]  # newest first, the completed one hidden
    described = await rows(admin, DESCRIBE.format(ids="','".join([s.greet, s.hold, s.queued])))
    by_id = {row["id"]: row for row in described}
    assert [row["id"] for row in described] == [s.queued, s.hold, s.greet]
    assert by_id[s.greet]["target"] == "svc/greet" and by_id[s.greet]["target_service_ty"] == "service"
    assert by_id[s.greet]["status"] == "completed" and by_id[s.greet]["completion_result"] == "success"
    assert by_id[s.greet]["pinned_deployment_id"] == LOCAL_DEPLOYMENT_ID
    assert by_id[s.greet]["pinned_deployment_exists"] is True
    assert by_id[s.hold]["target"] == "counter/b/hold"
    assert by_id[s.hold]["target_service_ty"] == "virtual_object"
    assert by_id[s.hold]["status"] in ("running", "suspended")
    assert by_id[s.queued]["status"] == "pending" and by_id[s.queued]["pinned_deployment_id"] is None
    assert by_id[s.queued]["pinned_deployment_exists"] is False
    assert by_id[s.greet]["created_at"].endswith("Z") and by_id[s.greet]["num_retries"] == 0
    [count] = await rows(admin, COUNT)
    assert list(count.values()) == [2]


async def test_the_count_comes_as_an_arrow_stream_without_accept_json(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    await scene(env)
    r = await admin.post("/v4/query", json={"query": COUNT})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    body = r.content
    assert body.startswith(b"\xff\xff\xff\xff") and body.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    # the record batch's body is the last thing before the end marker: validity bitmap (padded
    # to 8 bytes), then the one int64 value
    value = struct.unpack("<q", body[-16:-8])[0]
    assert value == 2


async def test_the_journal_of_an_invocation(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    s = await scene(env)
    journal = await rows(admin, JOURNAL.format(id=s.hold))
    assert [(e["index"], e["entry_type"]) for e in journal] == [(1, "Run"), (0, "Awakeable")]
    assert journal[0]["name"] == "hand out" and journal[0]["completed"] is True
    assert journal[1]["completed"] is False and all(e["version"] == 1 for e in journal)
    [count] = await rows(admin, COLUMNS)
    assert list(count.values()) == [3]


async def test_state_of_a_key(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    await scene(env)
    assert await rows(admin, STATE.format(service="counter", key="a")) == [
        {"key": "value", "value": b"5".hex()}
    ]
    assert await rows(admin, STATE.format(service="counter", key="nobody")) == []
    everything = await rows(
        admin, "SELECT service_name, service_key, key, value_utf8, value_length FROM state"
    )
    assert everything == [
        {"service_name": "counter", "service_key": "a", "key": "value", "value_utf8": "5", "value_length": 1}
    ]


async def test_cancel_and_kill_find_what_they_end(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    s = await scene(env)
    assert await rows(admin, CANCEL.format(id=s.hold)) == [{"id": s.hold, "target": "counter/b/hold"}]
    assert await rows(admin, CANCEL.format(id=s.greet)) == []  # completed already
    killed = await admin.patch(f"/v4/invocations/{s.hold}/kill")
    assert killed.status_code == 200
    await eventually(lambda: rows(admin, CANCEL.format(id=s.hold)), lambda found: found == [])


async def test_queues_and_keys(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    s = await scene(env)
    [pending] = await rows(admin, INBOX)
    assert pending["target_service_name"] == "counter" and pending["target_handler_name"] == "add"
    assert pending["num_invocations"] == 1 and pending["oldest_invocation"] == s.queued
    assert await rows(admin, QUEUES) == [{"service_name": "counter", "service_key": "b", "num_pending": 1}]
    locks = await rows(admin, "SELECT service_key, invocation_id FROM sys_keyed_service_status")
    assert locks == [{"service_key": "b", "invocation_id": s.hold}]


async def test_services_and_deployments(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    services = await rows(admin, "SELECT name, ty, deployment_id FROM sys_service ORDER BY name", "/query")
    types = {row["name"]: row["ty"] for row in services}
    assert (
        types["svc"] == "service" and types["counter"] == "virtual_object" and types["signup"] == "workflow"
    )
    assert list(types) == sorted(types) and len(types) == len(apps.app.services)
    assert {row["deployment_id"] for row in services} == {LOCAL_DEPLOYMENT_ID}
    only_objects = await rows(
        admin,
        "SELECT DISTINCT target_service_name FROM sys_invocation inv WHERE inv.target_service_name IN "
        "(select name from sys_service where ty = 'virtual_object')",
    )
    assert only_objects == []  # nothing invoked yet
    [deployment] = await rows(admin, "SELECT id FROM sys_deployment")
    assert deployment == {"id": LOCAL_DEPLOYMENT_ID}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "SELEC id FROM sys_invocation"}, "syntax error"),
        ({"query": "SELECT id FROM sys_nothing"}, "no such table: sys_nothing"),
        ({"query": "SELECT nope FROM sys_invocation"}, "no such column: nope"),
        ({"query": "DELETE FROM state"}, "bad query"),
        ({"query": "ATTACH DATABASE '/tmp/x.db' AS x"}, "bad query"),
        ({"query": "SELECT 1; SELECT 2"}, "one statement"),
        ({"query": "  ;"}, "the query is empty"),
        ({"sql": "SELECT 1"}, 'expected {"query": "<SQL>"}'),
    ],
)
async def test_a_bad_query_is_a_400_with_a_message(
    admin: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    r = await admin.post("/query", json=body, headers={"accept": "application/json"})
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]


async def test_query_wants_post_and_json(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/query")).status_code == 405
    r = await admin.post("/query", content=b"{not json")
    assert r.status_code == 400 and "not JSON" in r.json()["message"]


async def test_version_in_restates_shape(admin: httpx.AsyncClient) -> None:
    version = (await admin.get("/version")).json()
    assert version["min_admin_api_version"] <= 4 <= version["max_admin_api_version"]
    assert version["version"].startswith("1.7.") and version["features"] == {}
    assert (await admin.get("/v4/services")).json() == (await admin.get("/services")).json()
