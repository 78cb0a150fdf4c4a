"""Bad input at the HTTP ingress (SPEC §2, §7): malformed paths, methods, bodies, delays,
idempotency keys and invocation ids. Every one gets a clear error with Restate's body
`{"code", "message", "source"}` and header `x-restate-error-source`, and leaves stored data
untouched (no invocation created, no journal, state or awakeable changed). The exception is a body
the handler's input serde cannot decode: as with restate-sdk, that is the invocation's failure
(500, "Unable to parse an input argument"), recorded like any other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from awaken.storage.protocol import Status
from awaken.testing import TestEnvironment
from tests.integration import apps
from tests.integration.bad_input_support import (
    JSON,
    UNKNOWN_INV,
    UNKNOWN_SIGN,
    assert_error,
    attach,
    rejected,
    send_and_settle,
    snapshot,
)
from tests.integration.helpers import next_awakeable

pytestmark = pytest.mark.timeout(60)  # the whole file runs in seconds; a hang must not stall the run


# -- paths -----------------------------------------------------------------------------------

BAD_PATHS: list[tuple[str, str, int]] = [
    ("POST", "/", 400),
    ("GET", "/", 400),
    ("POST", "/nosvc/greet", 404),
    ("POST", "/nosvc/k/greet", 404),
    ("POST", "/nosvc/greet/send", 404),
    ("POST", "/svc/nope", 404),
    ("POST", "/svc/nope/send", 404),
    ("POST", "/counter/k/nope", 404),
    ("POST", "/counter/k/nope/send", 404),
    ("POST", "/svc", 400),  # too few segments
    ("POST", "/counter", 400),
    ("POST", "/counter/k", 400),
    ("POST", "/svc/greet/extra", 400),  # too many
    ("POST", "/svc/greet/send/extra", 400),
    ("POST", "/svc/greet/extra/more/and/more", 400),
    ("POST", "/counter/k/add/send/x", 400),
    ("POST", "/counter/add", 400),  # keyed object without a key
    ("POST", "/counter/add/send", 404),  # key "add", handler "send"
    ("POST", "/svc/k/greet", 400),  # plain service with a key
    ("POST", "/restate/call/counter/k", 400),
    ("POST", "/restate/send/svc/greet/send", 400),
    ("GET", "/restate/xyz", 404),
    ("GET", "/restate", 404),
    ("GET", "/restate/health/extra", 404),
    ("GET", "/restate/workflow/svc/k/output", 404),  # not a workflow
    ("GET", "/restate/workflow/nowf/k/attach", 404),
    ("GET", f"/restate/invocation/{UNKNOWN_INV}/foo", 404),
]


async def test_bad_paths(env: TestEnvironment) -> None:
    await env.client.post("/counter/k/add", json=3)  # some state that must survive
    for method, path, status in BAD_PATHS:
        await rejected(env, method, path, status, json="x")
    body = await rejected(env, "POST", "/nosvc/greet", 404, json="x")
    assert "nosvc" in body["message"]
    assert (await env.engine.store.get_state("counter", "k")) == {"value": b"3"}


async def test_valid_paths_still_work(env: TestEnvironment) -> None:
    """The shapes next to the bad ones are accepted: trailing slash, %2F in a key, /restate/call."""
    assert (await env.client.post("/svc/greet/", json="t")).json() == "hello t"
    assert (await env.client.post("/counter/a%2Fb/add", json=2)).json() == 2
    assert await env.engine.store.get_state("counter", "a/b") == {"value": b"2"}
    assert (await env.client.post("/restate/call/svc/greet", json="u")).json() == "hello u"
    r = await env.client.post("/restate/send/counter/k/add", json=1)
    assert r.status_code == 202 and r.json()["status"] == "Accepted"


# -- methods ---------------------------------------------------------------------------------

WRONG_METHODS: list[tuple[str, str]] = [
    *[(m, "/svc/greet") for m in ("PUT", "DELETE", "PATCH", "OPTIONS")],
    *[(m, "/svc/greet/send") for m in ("PUT", "DELETE", "PATCH")],
    *[(m, "/counter/k/add") for m in ("PUT", "DELETE", "PATCH")],
    ("PUT", "/restate/call/svc/greet"),
    ("GET", f"/restate/awakeables/{UNKNOWN_SIGN}/resolve"),
    ("GET", f"/restate/awakeables/{UNKNOWN_SIGN}/reject"),
    ("PUT", f"/restate/a/{UNKNOWN_SIGN}/resolve"),
    ("DELETE", f"/restate/awakeables/{UNKNOWN_SIGN}/reject"),
    ("POST", "/restate/health"),
    ("PUT", "/restate/health"),
    ("DELETE", "/restate/health"),
    ("POST", f"/restate/invocation/{UNKNOWN_INV}/attach"),
    ("POST", f"/restate/invocation/{UNKNOWN_INV}/output"),
    ("DELETE", f"/restate/invocation/{UNKNOWN_INV}/output"),
    ("POST", f"/restate/attach/{UNKNOWN_INV}"),
    ("POST", f"/restate/output/{UNKNOWN_INV}"),
]


async def test_wrong_methods_are_405(env: TestEnvironment) -> None:
    for method, path in WRONG_METHODS:
        await rejected(env, method, path, 405, content=b'"x"', headers=JSON)
    # HEAD gets the status (a HEAD answer has no body)
    head = await env.client.head("/svc/greet")
    assert head.status_code == 405 and head.headers["x-restate-error-source"] == "ingress"
    assert (await env.client.get("/restate/health")).json() == {
        "services": ["blobs", "counter", "review", "signup", "svc"]
    }


# -- bodies ----------------------------------------------------------------------------------


async def unparsable(env: TestEnvironment, path: str, **kwargs: Any) -> dict[str, Any]:
    """A body the handler's input serde refuses fails the invocation as restate-sdk fails it:
    500, "Unable to parse an input argument", from the invocation (which exists: x-restate-id)."""
    r = await env.client.post(path, **kwargs)
    body = assert_error(r, 500, source="invocation")
    assert body["message"].startswith("Unable to parse an input argument."), body
    assert r.headers["x-restate-id"].startswith("inv_1")
    return body


async def test_malformed_json_fails_the_invocation_with_500(env: TestEnvironment) -> None:
    for raw in (b"{bad", b'"unterminated', b"'single'", b'"a" "b"', b"\xff\xfe\x00", b"[1,]", b"{"):
        await unparsable(env, "/svc/greet", content=raw, headers=JSON)
    await unparsable(env, "/counter/k/add", content=b"1 2", headers=JSON)
    # a send is accepted, as by Restate, and the invocation then fails the same way
    r = await env.client.post("/counter/k/add/send", content=b"{bad", headers=JSON)
    assert r.status_code == 202 and r.json()["status"] == "Accepted"
    assert (await attach(env, r.json()["invocationId"])).status_code == 500
    assert await env.engine.store.get_state("counter", "k") == {}


async def test_only_models_dataclasses_and_structs_are_validated(env: TestEnvironment) -> None:
    # restate-sdk decodes `str`, `int`, TypedDicts... with plain json.loads: the handler gets the
    # value as sent (and a handler that cannot use it fails as any handler error does)
    assert (await env.client.post("/svc/greet", json=42)).json() == "hello 42"
    body = await unparsable(env, "/svc/mirror_point", json={"x": "one", "y": 2})
    assert "x" in body["message"]
    await unparsable(env, "/svc/mirror_point", json=[1, 2])


async def test_missing_body_gives_the_handler_none(env: TestEnvironment) -> None:
    # as restate-sdk: an empty body decodes to None (awaken also takes an empty body sent with a
    # JSON content type, which Restate's ingress refuses)
    for kwargs in ({}, {"content": b"", "headers": JSON}):
        r = await env.client.post("/svc/greet", **kwargs)
        assert r.status_code == 200 and r.json() == "hello None", r.text
    r = await env.client.get("/svc/greet")
    assert r.status_code == 200 and r.json() == "hello None"
    r = await env.client.post("/svc/no_input")
    assert r.status_code == 200 and r.json() == {"answer": 42}


async def test_non_json_content_type_is_415(env: TestEnvironment) -> None:
    for ctype, raw in [
        ("application/xml", b"<name>x</name>"),
        ("text/plain", b'"x"'),
        ("text/html", b'"x"'),
        ("application/x-www-form-urlencoded", b'"x"'),
        ("application/octet-stream", b'"x"'),
        ("multipart/form-data; boundary=zz", b'"x"'),
    ]:
        body = await rejected(env, "POST", "/svc/greet", 415, content=raw, headers={"content-type": ctype})
        assert ctype.split(";")[0] in body["message"]
        await rejected(env, "POST", "/counter/k/add/send", 415, content=b"1", headers={"content-type": ctype})
    # JSON spelled in other valid ways, or no content type at all, is accepted
    for headers in (
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "APPLICATION/JSON"},
        {"content-type": "application/vnd.example+json"},
        {},
    ):
        r = await env.client.post("/svc/greet", content=b'"ct"', headers=headers)
        assert r.status_code == 200 and r.json() == "hello ct", (headers, r.text)


async def test_body_over_the_limit_is_413(small_env: TestEnvironment) -> None:
    env = small_env
    big = json.dumps("x" * 100).encode()  # over 64 bytes

    async def chunks(data: bytes, size: int = 10) -> AsyncIterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    async def nothing() -> AsyncIterator[bytes]:
        yield b""

    for path in (
        "/svc/greet",
        "/svc/greet/send",
        "/counter/k/add",
        f"/restate/awakeables/{UNKNOWN_SIGN}/resolve",
    ):
        body = await rejected(env, "POST", path, 413, content=big, headers=JSON)  # with content-length
        assert "64" in body["message"]
        # chunked: no content-length, the limit is enforced while reading
        await rejected(env, "POST", path, 413, content=chunks(big), headers=JSON)
        # a declared length over the limit is refused before reading
        await rejected(
            env, "POST", path, 413, content=nothing(), headers={**JSON, "content-length": "1000000"}
        )
    await rejected(env, "POST", f"/restate/awakeables/{UNKNOWN_SIGN}/reject", 413, content=b"r" * 65)
    # at the limit: accepted, with or without content-length
    exact = json.dumps("y" * 62).encode()
    assert len(exact) == 64
    assert (await env.client.post("/svc/greet", content=exact, headers=JSON)).json() == "hello " + "y" * 62
    r = await env.client.post("/svc/greet", content=chunks(json.dumps("z").encode(), 1), headers=JSON)
    assert r.status_code == 200 and r.json() == "hello z"
    over = json.dumps("y" * 63).encode()
    await rejected(env, "POST", "/svc/greet", 413, content=over, headers=JSON)


# -- delays ----------------------------------------------------------------------------------


async def test_delay_on_a_call_is_400(env: TestEnvironment) -> None:
    for path in ("/svc/greet?delay=10s", "/svc/greet?delay=0", "/counter/k/add?delay=PT1S"):
        body = await rejected(env, "POST", path, 400, json=1 if "counter" in path else "x")
        assert "delay" in body["message"]
    await rejected(env, "POST", "/restate/call/svc/greet?delay=1s", 400, json="x")


INVALID_DELAYS = [
    "abc",
    "-1s",
    "10x",
    "9" * 30,
    "PT-1S",
    "P",
    "PT",
    "PT1S2",
    "1e9s",
    "inf",
    "nan",
    "",
    " ",
    "1.5.5s",
]


async def test_invalid_delays_on_send_are_400(env: TestEnvironment) -> None:
    for delay in INVALID_DELAYS:
        body = await rejected(env, "POST", "/svc/greet/send", 400, params={"delay": delay}, json="x")
        assert "duration" in body["message"]
        await rejected(env, "POST", "/counter/k/add/send", 400, params={"delay": delay}, json=1)
    await rejected(env, "POST", "/restate/send/svc/greet?delay=PT", 400, json="x")


async def test_valid_delays_on_send_are_202(env: TestEnvironment) -> None:
    for delay, ms in [("10s", 10_000), ("PT10S", 10_000), ("500ms", 500), ("1h 30m", 5_400_000), ("0", 0)]:
        r = await env.client.post("/svc/greet/send", params={"delay": delay}, json=f"d{ms}")
        assert r.status_code == 202, (delay, r.text)
        answer = r.json()
        assert answer["status"] == "Accepted" and answer["invocationId"] == r.headers["x-restate-id"]
        record = await env.engine.get_invocation(answer["invocationId"])
        if ms == 0:
            assert "executionTime" not in answer and record.run_at_ms is None
        else:
            assert answer["executionTime"].endswith("Z")
            assert record.run_at_ms is not None
            assert record.run_at_ms - record.created_at_ms == ms
            assert record.status == Status.SCHEDULED
    assert apps.EFFECTS["greet:d10000"] == 0  # nothing delayed has run


# -- idempotency keys ------------------------------------------------------------------------


async def test_same_idempotency_key_dedupes_whatever_the_body(env: TestEnvironment) -> None:
    key = {"idempotency-key": "K"}
    first = await env.client.post("/svc/greet/send", json="a", headers=key)
    assert first.status_code == 202 and first.json()["status"] == "Accepted"
    inv = first.json()["invocationId"]
    before = await snapshot(env)
    second = await env.client.post("/svc/greet/send", json="b", headers=key)
    assert second.status_code == 202
    assert second.json() == {"invocationId": inv, "status": "PreviouslyAccepted"}
    assert second.headers["x-restate-id"] == inv
    # a call with the same key attaches to the first invocation: its body is ignored
    call = await env.client.post("/svc/greet", json="c", headers=key)
    assert call.status_code == 200 and call.json() == "hello a"
    assert call.headers["x-restate-id"] == inv
    # a delayed send with the same key is still the same invocation, not delayed
    late = await env.client.post("/svc/greet/send?delay=10s", json="d", headers=key)
    assert late.json() == {"invocationId": inv, "status": "PreviouslyAccepted"}
    after = await snapshot(env)
    assert [row[0] for row in after["invocations"]] == [row[0] for row in before["invocations"]] == [inv]
    assert (apps.EFFECTS["greet:a"], apps.EFFECTS["greet:b"], apps.EFFECTS["greet:c"]) == (1, 0, 0)


async def test_idempotency_key_is_scoped_by_target(env: TestEnvironment) -> None:
    key = {"idempotency-key": "K"}
    ids = set()
    for path in ("/counter/k1/add", "/counter/k2/add"):
        r = await env.client.post(path, json=1, headers=key)
        assert r.status_code == 200 and r.json() == 1
        ids.add(r.headers["x-restate-id"])
    r = await env.client.post("/svc/greet", json="g", headers=key)
    ids.add(r.headers["x-restate-id"])
    assert len(ids) == 3
    # the same target again: the stored result, nothing added to the state
    again = await env.client.post("/counter/k1/add", json=100, headers=key)
    assert again.json() == 1 and again.headers["x-restate-id"] in ids
    assert await env.engine.store.get_state("counter", "k1") == {"value": b"1"}
    assert apps.EFFECTS["add:k1"] == 1


async def test_bad_input_with_an_idempotency_key_creates_nothing(env: TestEnvironment) -> None:
    key = {"idempotency-key": "fresh"}
    await rejected(env, "POST", "/svc/greet/send?delay=abc", 400, json="x", headers=key)
    await rejected(
        env, "POST", "/svc/greet", 415, content=b'"x"', headers={**key, "content-type": "text/xml"}
    )
    # the key is still free: the first valid request gets it
    r = await env.client.post("/svc/greet/send", json="ok", headers=key)
    assert r.json()["status"] == "Accepted"


# -- invocation ids --------------------------------------------------------------------------

MALFORMED_INVOCATION_IDS = [
    "xyz",
    "inv_1xyz",
    "inv_1" + "!" * 33,
    "inv_2" + "0" * 33,
    "inv_1" + "0" * 34,
    "inv_1" + "z" * 33,  # base62 value too large for the fields
    "inv_1" + "0" * 32 + "%C3%A9",
    UNKNOWN_INV.upper(),
]


async def test_malformed_invocation_ids_are_400(env: TestEnvironment) -> None:
    for bad in MALFORMED_INVOCATION_IDS:
        for path in (
            f"/restate/invocation/{bad}/attach",
            f"/restate/invocation/{bad}/output",
            f"/restate/attach/{bad}",
            f"/restate/output/{bad}",
        ):
            body = await rejected(env, "GET", path, 400)
            assert "invocation id" in body["message"]
    await rejected(env, "GET", "/restate/invocation//attach", 400)


async def test_unknown_invocation_ids_are_404(env: TestEnvironment) -> None:
    for inv in (UNKNOWN_INV, "inv_1" + "0" * 33):
        for path in (
            f"/restate/invocation/{inv}/attach",
            f"/restate/invocation/{inv}/output",
            f"/restate/attach/{inv}",
            f"/restate/output/{inv}",
        ):
            body = await rejected(env, "GET", path, 404)
            assert inv in body["message"]


async def test_output_of_a_running_invocation_is_470(env: TestEnvironment) -> None:
    inv = await send_and_settle(env, "/svc/approve/send", "o1")
    before = await snapshot(env)
    for path in (f"/restate/invocation/{inv}/output", f"/restate/output/{inv}"):
        r = await env.client.get(path)
        assert assert_error(r, 470)["code"] == 470
        assert r.headers["x-restate-id"] == inv
    assert await snapshot(env) == before
    awk = await next_awakeable("o1")
    assert (await env.client.post(f"/restate/awakeables/{awk}/resolve", json="done")).status_code == 202
    done = await attach(env, inv)
    assert done.status_code == 200 and done.json() == {"got": "done"}
    r = await env.client.get(f"/restate/invocation/{inv}/output")
    assert r.status_code == 200 and r.json() == {"got": "done"} and r.headers["x-restate-id"] == inv


async def test_output_of_a_failed_invocation_has_the_invocation_source(env: TestEnvironment) -> None:
    r = await env.client.post("/svc/terminal/send")
    inv = r.json()["invocationId"]
    attached = await attach(env, inv)
    assert assert_error(attached, 418, "invocation")["message"] == "teapot"
    assert_error(await env.client.get(f"/restate/invocation/{inv}/output"), 418, "invocation")
