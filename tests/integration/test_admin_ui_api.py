"""What the web UI needs of the admin API: completing an awakeable by hand (with the ingress's
answers: 202, 400 with the validation errors, 409, 410), each journal entry's times, an
invocation's caller, and the UI's own files, which load without the admin token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from awaken.admin.app import AdminApp
from awaken.testing import TestEnvironment
from tests.integration.helpers import eventually, next_awakeable


async def _output(env: TestEnvironment, invocation_id: str) -> Any:
    await eventually(lambda: env.engine.get_invocation(invocation_id), lambda r: r.outcome is not None)
    r = await env.client.get(f"/restate/invocation/{invocation_id}/output")
    return r.status_code, r.json()


async def test_resolve_completes_the_invocation_and_repeats_are_recognised(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = (await env.client.post("/svc/approve/send", json="ui-1")).json()["invocationId"]
    awk = await next_awakeable("ui-1")
    listed = (await admin.get("/awakeables")).json()["awakeables"]
    assert [(a["id"], a["invocation_id"]) for a in listed] == [(awk, inv)]

    first = await admin.post(f"/awakeables/{awk}/resolve", json={"ok": True, "by": "ada"})
    assert (first.status_code, first.json()) == (202, {"status": "Accepted"})
    assert await _output(env, inv) == (200, {"got": {"ok": True, "by": "ada"}})
    again = await admin.post(f"/awakeables/{awk}/resolve", json={"ok": True, "by": "ada"})
    assert (again.status_code, again.json()) == (202, {"status": "PreviouslyAccepted"})
    other = await admin.post(f"/awakeables/{awk}/resolve", json={"ok": False})
    assert other.status_code in (409, 410) and other.json()["message"]
    assert (await admin.get("/awakeables")).json()["awakeables"] == []


async def test_reject_raises_a_terminal_error_with_the_reason_and_code(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = (await env.client.post("/svc/approve/send", json="ui-2")).json()["invocationId"]
    awk = await next_awakeable("ui-2")
    # (422.0 is JSON Schema's integer 422, as the OpenAPI document's `integer` promises)
    r = await admin.post(f"/awakeables/{awk}/reject", json={"reason": "card looks stolen", "code": 422.0})
    assert (r.status_code, r.json()) == (202, {"status": "Accepted"})
    status, body = await _output(env, inv)
    assert status == 422 and body["message"] == "card looks stolen"
    different = await admin.post(f"/awakeables/{awk}/resolve", json=1)
    assert different.status_code in (409, 410)


async def test_a_payload_that_fails_the_type_is_400_with_the_errors(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = (await env.client.post("/svc/approve_typed/send", json="ui-3")).json()["invocationId"]
    awk = await next_awakeable("ui-3")
    (row,) = (await admin.get("/awakeables")).json()["awakeables"]
    assert set(row["schema"]["required"]) == {"approved", "reviewer"}

    bad = await admin.post(f"/awakeables/{awk}/resolve", json={"approved": "yes"})
    assert bad.status_code == 400
    assert bad.json()["message"] and bad.json()["errors"], bad.json()
    assert (await env.engine.get_invocation(inv)).outcome is None  # nothing was recorded
    good = await admin.post(f"/awakeables/{awk}/resolve", json={"approved": True, "reviewer": "ada"})
    assert good.status_code == 202
    assert await _output(env, inv) == (200, {"approved": True, "reviewer": "ada"})


async def test_an_awakeable_of_an_ended_invocation_is_410(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    inv = (await env.client.post("/svc/leaves_one_open/send", json="ui-4")).json()["invocationId"]
    first, second = await next_awakeable("ui-4"), await next_awakeable("ui-4")
    assert (await admin.post(f"/awakeables/{first}/resolve", json="a")).status_code == 202
    await _output(env, inv)
    late = await admin.post(f"/awakeables/{second}/resolve", json="b")
    assert late.status_code == 410 and late.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("POST", "/awakeables/nonsense/resolve", b"1", 400, "bad awakeable id"),
        ("POST", "/awakeables/{awk}/resolve", b"{not json", 400, "not JSON"),
        ("POST", "/awakeables/{awk}/reject", b'"just text"', 400, "reason"),
        ("POST", "/awakeables/{awk}/reject", b'{"reason": ""}', 400, "reason"),
        ("POST", "/awakeables/{awk}/reject", b'{"reason": "no", "code": 200}', 400, "code must be"),
        ("POST", "/awakeables/{awk}/reject", b'{"reason": "no", "code": true}', 400, "code must be"),
        ("POST", "/awakeables/{awk}/reject", b'{"reason": "no", "code": 422.5}', 400, "code must be"),
        ("GET", "/awakeables/{awk}/resolve", None, 405, "use POST"),
    ],
)
async def test_bad_completions_are_4xx_and_change_nothing(
    env: TestEnvironment,
    admin: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    says: str,
) -> None:
    inv = (await env.client.post("/svc/approve/send", json="ui-5")).json()["invocationId"]
    awk = await next_awakeable("ui-5")
    r = await admin.request(method, path.replace("{awk}", awk), content=body)
    assert r.status_code == status and says in r.json()["message"], r.text
    assert [a["id"] for a in (await admin.get("/awakeables")).json()["awakeables"]] == [awk]
    assert (await env.engine.get_invocation(inv)).outcome is None


async def test_an_unknown_awakeable_is_404(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    inv = (await env.client.post("/svc/approve/send", json="ui-6")).json()["invocationId"]
    awk = await next_awakeable("ui-6")
    (await admin.post(f"/awakeables/{awk}/resolve", json=1)).raise_for_status()
    await _output(env, inv)
    await admin.request("PATCH", f"/invocations/{inv}/purge")
    gone = await admin.post(f"/awakeables/{awk}/resolve", json=1)
    assert gone.status_code in (404, 410) and gone.json()["message"]


async def test_journal_entries_carry_their_times_and_a_callee_its_caller(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    r = await env.client.post("/svc/caller", json="ada")
    assert r.json() == "called: hello ada"
    parent = r.headers["x-restate-id"]
    inv = (await admin.get(f"/invocations/{parent}")).json()
    assert inv["caller_id"] is None
    calls = [e for e in inv["journal"] if e["kind"] in ("call", "send")]
    assert len(calls) == 2
    for entry in inv["journal"]:
        assert inv["created_at"] <= entry["created_at"] <= inv["completed_at"]
        if entry["completed"]:
            assert entry["created_at"] <= entry["completed_at"] <= inv["completed_at"]
    child_id = calls[0]["data"]["invocation_id"]
    child = (await admin.get(f"/invocations/{child_id}")).json()
    assert child["caller_id"] == parent and child["target"] == "svc/greet"
    listed = (await admin.get("/invocations", params={"service": "svc", "handler": "greet"})).json()
    assert {row["caller_id"] for row in listed["invocations"]} >= {parent}


async def test_a_pending_entry_has_a_start_and_no_end(env: TestEnvironment, admin: httpx.AsyncClient) -> None:
    inv = (await env.client.post("/svc/approve/send", json="ui-7")).json()["invocationId"]
    awk = await next_awakeable("ui-7")
    journal = (await admin.get(f"/invocations/{inv}")).json()["journal"]
    waiting = next(e for e in journal if e["kind"] == "awakeable")
    assert waiting["completed"] is False and waiting["completed_at"] is None
    assert isinstance(waiting["created_at"], int)
    await admin.post(f"/awakeables/{awk}/resolve", json=1)
    await _output(env, inv)
    journal = (await admin.get(f"/invocations/{inv}")).json()["journal"]
    done = next(e for e in journal if e["kind"] == "awakeable")
    assert done["completed_at"] >= done["created_at"] == waiting["created_at"]


async def test_counts_follow_the_lists_filters_but_its_status(
    env: TestEnvironment, admin: httpx.AsyncClient
) -> None:
    for i in range(3):
        assert (await env.client.post("/svc/greet", json=f"c{i}")).status_code == 200
    await env.client.post("/counter/count-k/add", json=1)
    holder = (await env.client.post("/svc/approve/send", json="ui-count")).json()["invocationId"]
    await next_awakeable("ui-count")
    records = await env.engine.store.list_invocations(limit=1000)

    def expected(**match: str) -> dict[str, int]:
        chosen = [r for r in records if all(getattr(r, k) == v for k, v in match.items())]
        out: dict[str, int] = {}
        for r in chosen:
            out[r.status.value] = out.get(r.status.value, 0) + 1
        return out

    def settled(counts: dict[str, int]) -> dict[str, int]:
        # the waiting one may move from running to suspended between two reads: count it as waiting
        waiting = counts.pop("running", 0) + counts.pop("suspended", 0)
        return {**counts, "waiting": waiting} if waiting else counts

    everything = (await admin.get("/invocations/counts")).json()
    assert settled(everything) == settled(expected())
    svc = (await admin.get("/invocations/counts", params={"service": "svc"})).json()
    assert settled(dict(svc)) == settled(expected(service="svc"))
    assert settled(dict(svc))["waiting"] == 1
    greet = (await admin.get("/invocations/counts", params={"service": "svc", "handler": "greet"})).json()
    assert greet == {"completed": 3}
    keyed = (await admin.get("/invocations/counts", params={"service": "counter", "key": "count-k"})).json()
    assert keyed == {"completed": 1}
    # a status filter does not narrow the counts: they are what each status filter would give
    same = (await admin.get("/invocations/counts", params={"service": "svc", "status": "completed"})).json()
    assert settled(same) == settled(svc)
    cut = next(r.created_at_ms for r in records if r.id == holder)
    later = (await admin.get("/invocations/counts", params={"created_after": str(cut)})).json()
    assert sum(later.values()) == sum(1 for r in records if r.created_at_ms >= cut) >= 1
    future = (await admin.get("/invocations/counts", params={"created_after": "2999-01-01T00:00:00Z"})).json()
    assert future == {}


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("created_after=yesterday", "created_after must be ms since the epoch"),
        ("created_before=nope", "created_before must be"),
        ("status=sleeping", "unknown status 'sleeping'"),
    ],
)
async def test_bad_count_filters_are_400(admin: httpx.AsyncClient, query: str, says: str) -> None:
    r = await admin.get(f"/invocations/counts?{query}")
    assert r.status_code == 400 and says in r.json()["message"]


async def test_the_ui_loads_without_the_token_and_its_data_needs_it(env: TestEnvironment) -> None:
    transport = httpx.ASGITransport(app=AdminApp(env.app, token="s3cret"))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        page = await client.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="app.js">' in page.text
        script = await client.get("/ui/app.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        redirect = await client.get("/ui")
        assert redirect.status_code == 308 and redirect.headers["location"] == "/ui/"
        assert (await client.get("/invocations")).status_code == 401
        authorized = await client.get("/invocations", headers={"authorization": "Bearer s3cret"})
        assert authorized.status_code == 200


@pytest.mark.parametrize(
    "path", ["/ui/../openapi.json", "/ui/%2e%2e/app.py", "/ui/nope.js", "/ui/app.py", "/ui/.hidden.js"]
)
async def test_only_the_ui_files_are_served(admin: httpx.AsyncClient, path: str) -> None:
    r = await admin.get(path)
    assert r.status_code == 404 or (r.status_code == 200 and r.json()["openapi"]), r.text
    if r.status_code == 404:
        assert "awaken" not in r.text


async def test_the_ui_files_are_read_only(admin: httpx.AsyncClient) -> None:
    r = await admin.post("/ui/app.js", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
