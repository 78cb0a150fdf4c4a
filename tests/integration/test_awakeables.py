from __future__ import annotations

import asyncio

from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.helpers import eventually, next_awakeable, timer_armed


async def test_resolve_resumes_handler_with_payload(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve", json="c1"))
    awk = await next_awakeable("c1")
    assert awk.startswith("sign_1") and len(awk) == 44
    r = await env.client.post(
        f"/restate/awakeables/{awk}/resolve",
        content=b'{"hello": "world"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 202 and r.json() == {"status": "Accepted"}
    result = await call
    assert result.status_code == 200 and result.json() == {"got": {"hello": "world"}}
    assert apps.EFFECTS["hand_out:c1"] == 1


async def test_curl_default_content_type_and_alias(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve", json="c2"))
    awk = await next_awakeable("c2")
    r = await env.client.post(
        f"/restate/a/{awk}/resolve",
        content=b"42",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 202
    assert (await call).json() == {"got": 42}


async def test_reject_raises_terminal_error(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve", json="c3"))
    awk = await next_awakeable("c3")
    r = await env.client.post(
        f"/restate/awakeables/{awk}/reject", content=b"no way", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 202
    result = await call
    assert result.status_code == 500
    assert result.json() == {"code": 500, "message": "no way", "source": "invocation"}


async def test_completion_matrix(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve", json="c4"))
    awk = await next_awakeable("c4")
    url = f"/restate/awakeables/{awk}"
    first = await env.client.post(f"{url}/resolve", json={"a": 1})
    assert first.status_code == 202 and first.json()["status"] == "Accepted"
    again = await env.client.post(
        f"{url}/resolve", content=b'{ "a" : 1 }', headers={"content-type": "application/json"}
    )
    assert again.status_code == 202 and again.json()["status"] == "PreviouslyAccepted"
    other = await env.client.post(f"{url}/resolve", json={"a": 2})
    assert other.status_code == 409
    reject = await env.client.post(f"{url}/reject", content=b"late")
    assert reject.status_code == 409
    assert (await call).json() == {"got": {"a": 1}}
    # the invocation ended: the awakeable is closed, a completion now is 409 (already completed)
    after = await env.client.post(f"{url}/resolve", json={"a": 3})
    assert after.status_code == 409


async def test_forged_and_malformed_ids(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/two_awakeables", json="c5"))
    a = await next_awakeable("c5")
    b = await next_awakeable("c5")
    assert a != b and a[:12] != b[:12]  # nothing shared: one id tells nothing of another
    forged = a[:-4] + ("AAAA" if a[-4:] != "AAAA" else "BBBB")
    assert (await env.client.post(f"/restate/awakeables/{forged}/resolve", json=1)).status_code == 404
    assert (await env.client.post("/restate/awakeables/sign_1nope/resolve", json=1)).status_code == 400
    assert (await env.client.post("/restate/awakeables/xyz/resolve", json=1)).status_code == 400
    bad = await env.client.post(
        f"/restate/awakeables/{a}/resolve", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert (await env.client.get(f"/restate/awakeables/{a}/resolve")).status_code == 405
    xml = await env.client.post(
        f"/restate/awakeables/{a}/resolve", content=b"<a/>", headers={"content-type": "application/xml"}
    )
    assert xml.status_code == 415
    await env.client.post(f"/restate/awakeables/{b}/resolve", json="B")
    await env.client.post(f"/restate/awakeables/{a}/resolve", json="A")
    assert (await call).json() == ["A", "B"]


async def test_typed_payload_is_validated_before_recording(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve_typed", json="c6"))
    awk = await next_awakeable("c6")
    bad = await env.client.post(f"/restate/awakeables/{awk}/resolve", json={"approved": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["errors"]  # the validation errors are listed
    good = await env.client.post(
        f"/restate/awakeables/{awk}/resolve", json={"approved": True, "reviewer": "ada"}
    )
    assert good.status_code == 202 and good.json()["status"] == "Accepted"
    assert (await call).json() == {"approved": True, "reviewer": "ada"}


async def test_deadline_gives_408_then_410(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve_typed", json="c7"))
    awk = await next_awakeable("c7")
    env.clock.advance(31)
    result = await call
    assert result.status_code == 408
    late = await env.client.post(
        f"/restate/awakeables/{awk}/resolve", json={"approved": True, "reviewer": "late"}
    )
    assert late.status_code == 410


async def test_select_with_timer(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve_or_timeout", json="c8"))
    await next_awakeable("c8")
    await timer_armed(env)
    env.clock.advance(11)
    assert (await call).json() == ["timeout", None]
    call2 = asyncio.create_task(env.client.post("/svc/approve_or_timeout", json="c9"))
    awk = await next_awakeable("c9")
    await env.client.post(f"/restate/awakeables/{awk}/resolve", json="yes")
    assert (await call2).json() == ["result", "yes"]


async def test_completion_before_await_is_kept(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/two_awakeables", json="c10"))
    a = await next_awakeable("c10")
    # resolve the first while the handler is still handing out the second
    await env.client.post(f"/restate/awakeables/{a}/resolve", json=1)
    b = await next_awakeable("c10")
    await env.client.post(f"/restate/awakeables/{b}/resolve", json=2)
    assert (await call).json() == [1, 2]


async def test_resolve_and_reject_from_a_handler(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve", json="c11"))
    awk = await next_awakeable("c11")
    r = await env.client.post("/svc/resolver", json={"id": awk, "value": {"from": "handler"}})
    assert r.status_code == 200
    assert (await call).json() == {"got": {"from": "handler"}}
    # a second, different completion from a handler surfaces as TerminalError(409) there
    again = await env.client.post("/svc/resolver", json={"id": awk, "value": "other"})
    assert again.status_code == 409
    unknown = await env.client.post("/svc/resolver", json={"id": "sign_1" + "A" * 38, "reject": "x"})
    assert unknown.status_code == 404


async def test_pending_awakeables_are_listed(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/approve_typed", json="c12"))
    awk = await next_awakeable("c12")
    pending = await eventually(env.engine.store.list_awakeables, lambda rows: any(r.id == awk for r in rows))
    row = next(r for r in pending if r.id == awk)
    assert row.service == "svc" and row.handler == "approve_typed" and row.deadline_ms is not None
    assert row.schema is not None and "approved" in row.schema["properties"]
    await env.client.post(f"/restate/awakeables/{awk}/resolve", json={"approved": False, "reviewer": "x"})
    await call
    assert all(r.id != awk for r in await env.engine.store.list_awakeables())


async def test_sleep_is_durable_timer(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/sleeper", json=5))

    await timer_armed(env)
    assert apps.EFFECTS["slept"] == 0
    env.clock.advance(6)
    assert (await call).json() == "awake"


async def test_awakeables_left_open_are_closed_with_their_invocation(env: TestEnvironment) -> None:
    call = asyncio.create_task(env.client.post("/svc/leaves_one_open", json="c13"))
    a = await next_awakeable("c13")
    b = await next_awakeable("c13")
    await env.client.post(f"/restate/awakeables/{a}/resolve", json="first")
    assert (await call).json() == "first"
    late = await env.client.post(f"/restate/awakeables/{b}/resolve", json="second")
    assert late.status_code == 410
    assert all(r.id != b for r in await env.engine.store.list_awakeables())
    # b's one-hour deadline timer went with it: the next timer is the 24 h retention purge
    next_timer = await env.engine.store.next_timer_ms()
    assert next_timer is not None and next_timer > env.engine.now_ms() + 2 * 3_600_000
