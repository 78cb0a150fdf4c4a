"""Bad input for awakeables (SPEC §3.2-3.3), a seeded fuzz of garbage requests, and regression
tests of bad inputs that once got through. Same rules: a clear error, stored data untouched."""

from __future__ import annotations

import asyncio
import base64
import random
from typing import Any

import pytest

from awaken.core.ids import InvocationId, new_awakeable_id
from awaken.testing import TestEnvironment
from tests.integration.bad_input_support import (
    JSON,
    UNKNOWN_INV,
    UNKNOWN_PROM,
    UNKNOWN_SIGN,
    assert_error,
    attach,
    rejected,
    send_and_settle,
    snapshot,
)
from tests.integration.helpers import next_awakeable

pytestmark = pytest.mark.timeout(60)  # the whole file runs in seconds; a hang must not stall the run


# -- awakeables ------------------------------------------------------------------------------

MALFORMED_AWAKEABLE_IDS = [
    "xyz",
    "sign_1",
    "prom_1",
    "sign_1nope",
    "sign_2" + UNKNOWN_SIGN[6:],
    "SIGN_1" + UNKNOWN_SIGN[6:],
    UNKNOWN_SIGN[:-1],  # 27.x bytes
    UNKNOWN_SIGN + "AAAA",  # 31 bytes
    UNKNOWN_SIGN[:-2] + "!!",
    "sign_1" + base64.b64encode(bytes([0xFB, 0xEF, 0xBE] * 9 + [0xFB])).decode().rstrip("="),  # '+'s
    "sign_1" + "A" * 200,
    "sign_1" + "%C3%A9" * 10,
    "inv_1" + "0" * 33,
]


async def test_malformed_awakeable_ids_are_400(env: TestEnvironment) -> None:
    for bad in MALFORMED_AWAKEABLE_IDS:
        for action in ("resolve", "reject"):
            body = await rejected(env, "POST", f"/restate/awakeables/{bad}/{action}", 400, json=1)
            assert "awakeable id" in body["message"]
        await rejected(env, "POST", f"/restate/a/{bad}/resolve", 400, json=1)


async def test_unknown_awakeable_ids_are_404(env: TestEnvironment) -> None:
    inv = await send_and_settle(env, "/svc/approve/send", "u1")
    real = await next_awakeable("u1")
    for unknown in (UNKNOWN_SIGN, UNKNOWN_PROM, UNKNOWN_SIGN + "=="):
        for action, kwargs in (("resolve", {"json": 1}), ("reject", {"content": b"no"})):
            await rejected(env, "POST", f"/restate/awakeables/{unknown}/{action}", 404, **kwargs)
            await rejected(env, "POST", f"/restate/a/{unknown}/{action}", 404, **kwargs)
    # the legacy prefix on a real id's bytes names another (unknown) awakeable
    await rejected(env, "POST", f"/restate/awakeables/prom_1{real[6:]}/resolve", 404, json=1)
    assert (await env.client.post(f"/restate/awakeables/{real}/resolve", json="ok")).status_code == 202
    assert (await attach(env, inv)).json() == {"got": "ok"}


async def test_bad_awakeable_paths(env: TestEnvironment) -> None:
    for path in (
        f"/restate/awakeables/{UNKNOWN_SIGN}/foo",
        f"/restate/awakeables/{UNKNOWN_SIGN}/resolve/extra",
        f"/restate/a/{UNKNOWN_SIGN}",
    ):
        r = await env.client.post(path, json=1)
        assert r.status_code in (400, 404), r.text
        await rejected(env, "POST", path, r.status_code, json=1)
    for path in (
        "/restate/awakeables",
        "/restate/awakeables/resolve",
        "/restate/a/reject",
        "/restate/awakeables//resolve",
    ):
        await rejected(env, "POST", path, 400, json=1)


async def test_invalid_json_payload_leaves_the_awakeable_resolvable(env: TestEnvironment) -> None:
    inv = await send_and_settle(env, "/svc/approve/send", "j1")
    awk = await next_awakeable("j1")
    url = f"/restate/awakeables/{awk}/resolve"
    for raw in (b"{not json", b"[1,", b"'x'", b"\xff\xfe", b'{"a": 1} trailing', b"undefined"):
        body = await rejected(env, "POST", url, 400, content=raw, headers=JSON)
        assert "JSON" in body["message"]
    await rejected(env, "POST", url, 415, content=b"<a/>", headers={"content-type": "application/xml"})
    pending = await env.engine.store.list_awakeables()
    assert [a.id for a in pending] == [awk]
    ok = await env.client.post(url, json={"valid": True})
    assert ok.status_code == 202 and ok.json() == {"status": "Accepted"}
    assert (await attach(env, inv)).json() == {"got": {"valid": True}}


async def test_reject_with_non_utf8_body_is_lossy(env: TestEnvironment) -> None:
    inv = await send_and_settle(env, "/svc/approve/send", "r1")
    awk = await next_awakeable("r1")
    r = await env.client.post(
        f"/restate/awakeables/{awk}/reject",
        content=b"bad \xff\xfe bytes",
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 202 and r.json() == {"status": "Accepted"}
    result = await attach(env, inv)
    body = assert_error(result, 500, "invocation")
    assert body["message"] == "bad \ufffd\ufffd bytes"


# -- robustness ------------------------------------------------------------------------------

# Handlers that answer at once (none waits on an awakeable, a timer, a key lock or a child call).
SAFE_TARGETS = {
    ("svc", "greet"),
    ("svc", "no_input"),
    ("svc", "terminal"),
    ("counter", "add"),
    ("counter", "get"),
}
VOCABULARY = [
    "svc", "counter", "greet", "no_input", "terminal", "add", "get", "send", "restate", "awakeables", "a",
    "invocation", "attach", "output", "workflow", "health", "call", "lookup", "scope", "openapi", "k",
    "fuzz", "x", "", "%00", "%FF", "%2F", "%E2%82%AC", "%", "%zz", "a" * 300, "..",
]  # fmt: skip
QUERIES = [
    "",
    "",
    "",
    "?delay=10s",
    "?delay=abc",
    "?delay=-1s",
    "?delay=0",
    "?delay=",
    "?x=%ZZ",
    "?delay=1s&delay=z",
]
CONTENT_TYPES = [
    None,
    "application/json",
    "text/plain",
    "application/xml",
    "application/json; charset=x",
    "??",
]
METHODS = ["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


NEAR_VALID = [
    (["svc", "greet"], b'"x"'),
    (["svc", "no_input"], b""),
    (["svc", "terminal"], b""),
    (["counter", "fuzz", "add"], b"1"),
    (["counter", "fuzz", "get"], b""),
    (["restate", "call", "svc", "greet"], b'"y"'),
    (["restate", "send", "counter", "fuzz", "add"], b"2"),
    (["restate", "awakeables"], b"1"),
    (["restate", "invocation"], b""),
]
GARBAGE_BODIES = [b"", b'"x"', b"1", b"-3", b'{"a": 1}', b"[1, 2]", b"{bad", b"\xff\xfe\x00", b"null", b"NaN"]


def garbage_request(rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    """A random request: mostly garbage, sometimes (40%) a valid or nearly valid call."""
    ids = [
        new_awakeable_id(rng.randbytes(28)),
        "prom_1" + new_awakeable_id(rng.randbytes(28))[6:],
        str(InvocationId.from_random(rng.randrange(2**47), rng.randbytes(16))),
        "inv_1" + "".join(rng.choices("abcXYZ019", k=rng.randrange(40))),
        "sign_1" + "".join(rng.choices("abcXYZ019-_=", k=rng.randrange(50))),
    ]
    noise = [rng.choice(VOCABULARY + ids) for _ in range(rng.randrange(7))]
    body = rng.choice([*GARBAGE_BODIES, rng.randbytes(20)])
    if rng.random() < 0.4:
        target, good_body = rng.choice(NEAR_VALID)
        segments = target + rng.choice([[], [], [], ["send"], noise[:1], noise[:2]])
        method = rng.choice(["POST", "POST", "POST", "GET", "PUT"])
        query = rng.choice(["", "", "", "", *QUERIES])
        body = good_body if rng.random() < 0.6 else body
        ctype = rng.choice(["application/json", "application/json", None, *CONTENT_TYPES])
    else:
        segments = noise
        method = rng.choice(METHODS)
        query = rng.choice(QUERIES)
        ctype = rng.choice(CONTENT_TYPES)
    path = "/" + "/".join(segments) + rng.choice(["", "", "/"]) + query
    headers = {}
    if ctype is not None:
        headers["content-type"] = ctype
    if rng.random() < 0.2:  # unique keys: a call never attaches to a delayed send
        headers["idempotency-key"] = f"fuzz-{rng.randrange(10**9)}"
    return method, path, body, headers


async def test_garbage_requests_never_crash_nor_create_invocations(env: TestEnvironment) -> None:
    rng = random.Random(20240611)
    store = env.engine.store
    created = 0
    for _ in range(200):
        method, path, body, headers = garbage_request(rng)
        before = {rec.id for rec in await store.list_invocations(limit=100_000)}
        request = env.client.request(method, "http://awaken" + path, content=body, headers=headers)
        r = await asyncio.wait_for(request, 10)
        context = f"{method} {path} {headers} {body!r} -> {r.status_code} {r.text[:200]}"
        assert r.status_code < 500, context
        if r.status_code >= 400 and method != "HEAD":
            assert_error(r, r.status_code, r.headers.get("x-restate-error-source", "?"))
        new = {rec.id for rec in await store.list_invocations(limit=100_000)} - before
        if new:
            created += 1
            assert len(new) == 1 and r.headers.get("x-restate-id") in new, context
            assert method in ("GET", "POST") and r.status_code in (200, 202, 418), context
            record = await env.engine.get_invocation(new.pop())
            assert (record.service, record.handler) in SAFE_TARGETS, context
        elif r.status_code >= 400:
            assert r.status_code == 418 or r.headers.get("x-restate-error-source") == "ingress", context
    assert created >= 10  # the generator does reach valid calls
    health = await env.client.get("/restate/health")
    assert health.status_code == 200 and health.json() == {
        "services": ["blobs", "counter", "review", "signup", "svc"]
    }
    assert (await env.client.post("/svc/greet", json="still here")).json() == "hello still here"


async def test_concurrent_bad_requests_leave_the_server_healthy(env: TestEnvironment) -> None:
    before = await snapshot(env)

    def bad_requests() -> list[Any]:
        return [
            *(env.client.post(f"/svc/greet/send?delay={d}", json="x") for d in ("zz", "-1", "1q")),
            env.client.post("/svc/greet/send", content=b"{", headers={"content-type": "text/xml"}),
            env.client.put("/svc/greet", json="x"),
            env.client.post(f"/restate/awakeables/{UNKNOWN_SIGN}/resolve", json=1),
            env.client.get(f"/restate/invocation/{UNKNOWN_INV}/output"),
        ]

    answers = await asyncio.wait_for(asyncio.gather(*(c for _ in range(10) for c in bad_requests())), 10)
    assert len(answers) == 70
    assert sorted(r.status_code for r in answers) == [400] * 30 + [404] * 20 + [405] * 10 + [415] * 10
    assert await snapshot(env) == before
    assert (await env.client.get("/restate/health")).status_code == 200


# -- regressions: bad input that once got through --------------------------------------------


async def test_bug_huge_bare_number_delay_is_400(env: TestEnvironment) -> None:
    await rejected(env, "POST", "/svc/greet/send", 400, params={"delay": "9" * 5000}, json="x")


async def test_bug_deeply_nested_awakeable_payload_is_400(env: TestEnvironment) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    await rejected(
        env, "POST", f"/restate/awakeables/{UNKNOWN_SIGN}/resolve", 400, content=deep, headers=JSON
    )


async def test_bug_deeply_nested_input_of_untyped_handler_fails_cleanly(loose_env: TestEnvironment) -> None:
    assert (await loose_env.client.post("/loose/echo", json=[[1]])).json() == [[1]]
    deep = b"[" * 100_000 + b"]" * 100_000
    r = await loose_env.client.post("/loose/echo", content=deep, headers=JSON)
    body = assert_error(r, 500, source="invocation")
    assert body["message"].startswith("Unable to parse an input argument.")
    assert (await loose_env.client.get("/restate/health")).status_code == 200


async def test_bug_nan_is_not_a_json_awakeable_payload(env: TestEnvironment) -> None:
    inv = await send_and_settle(env, "/svc/approve/send", "nan")
    awk = await next_awakeable("nan")
    url = f"/restate/awakeables/{awk}/resolve"
    try:
        for raw in (b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}'):
            await rejected(env, "POST", url, 400, content=raw, headers=JSON)
    finally:
        await env.client.post(url, json="end")  # let the invocation finish either way
        await attach(env, inv)


async def test_bug_invalid_utf8_key_is_400(env: TestEnvironment) -> None:
    await rejected(env, "POST", "/counter/%FF/add", 400, json=1)
    await rejected(env, "POST", "/counter/%FE/add", 400, json=1)


async def test_bug_restate_call_path_with_send_suffix_is_400(env: TestEnvironment) -> None:
    await rejected(env, "POST", "/restate/call/svc/greet/send", 400, json="x")
    await rejected(env, "POST", "/restate/call/counter/k/add/send", 400, json=1)


async def test_bug_restate_call_path_too_short_is_400(env: TestEnvironment) -> None:
    for path in ("/restate/call/svc", "/restate/send/svc", "/restate/call", "/restate/send/counter"):
        await rejected(env, "POST", path, 400, json="x")
