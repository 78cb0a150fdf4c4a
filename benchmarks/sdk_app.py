"""The service `benchmarks.protocol` drives, written with the official Python SDK (`restate-sdk`).

It is served in its own process (hypercorn for HTTP/2, uvicorn for HTTP/1.1) and registered with
awaken as a deployment. Beside the SDK's own routes, the ASGI app answers `GET /_bench/stats`, a
side channel for the benchmark (never called by awaken):

- `in_flight`: requests to `/invoke/...` whose ASGI call has not returned (one per open HTTP/2
  stream, or per HTTP/1.1 request), `max_in_flight`, `invoke_requests` (all of them so far);
- `awakeables`: `{tag: awakeable id}` of the `wait` invocations whose tag starts with `?prefix=`
  (none without it), each handed out inside `ctx.run` as the seed does.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import restate

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

sdk_bench = restate.Service("SdkBench")
_handed_out: dict[str, str] = {}


@sdk_bench.handler()
async def step(ctx: restate.Context, x: int) -> int:
    """A handler with one durable step."""

    async def identity() -> int:
        return x

    return await ctx.run_typed("step", identity)


async def _wait(ctx: restate.Context, tag: str) -> str:
    awakeable_id, value = ctx.awakeable(type_hint=str)

    async def hand_out() -> str:
        _handed_out[tag] = awakeable_id
        return awakeable_id

    await ctx.run_typed("hand out", hand_out)
    return f"{tag}: {await value}"


@sdk_bench.handler()
async def wait(ctx: restate.Context, tag: str) -> str:
    """The seed: creates an awakeable, hands its id out inside ctx.run, awaits it (the default
    inactivity timeout: in bidirectional mode the stream stays open while it waits)."""
    return await _wait(ctx, tag)


@sdk_bench.handler(inactivity_timeout=timedelta(seconds=1))
async def wait_suspending(ctx: restate.Context, tag: str) -> str:
    """The same with a 1 s inactivity timeout: in bidirectional mode awaken asks it to suspend
    after one second of silence (in request/response mode it suspends at once either way)."""
    return await _wait(ctx, tag)


_sdk_app = restate.app(services=[sdk_bench])
_counters = {"in_flight": 0, "max_in_flight": 0, "invoke_requests": 0}


async def _stats(scope: Scope, send: Send) -> None:
    prefix = parse_qs(scope.get("query_string", b"").decode()).get("prefix", [""])[0]
    handed_out = {t: a for t, a in _handed_out.items() if t.startswith(prefix)} if prefix else {}
    body = json.dumps({**_counters, "awakeables": handed_out}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        await _sdk_app(scope, receive, send)  # type: ignore[arg-type]
        return
    if scope["path"] == "/_bench/stats":
        await _stats(scope, send)
        return
    if not scope["path"].startswith("/invoke/"):
        await _sdk_app(scope, receive, send)  # type: ignore[arg-type]
        return
    _counters["invoke_requests"] += 1
    _counters["in_flight"] += 1
    _counters["max_in_flight"] = max(_counters["max_in_flight"], _counters["in_flight"])
    try:
        await _sdk_app(scope, receive, send)  # type: ignore[arg-type]
    finally:
        _counters["in_flight"] -= 1
