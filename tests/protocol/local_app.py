"""awaken's own services beside the SDK endpoints' (tests of local and remote handlers mixed)."""

from __future__ import annotations

import json
from typing import Any

import awaken as restate

local = restate.Service("Local")


@local.handler()
async def hello(ctx: restate.Context, name: str) -> str:
    return f"local hello {name}"


@local.handler()
async def call_remote(ctx: restate.Context, name: str) -> str:
    """Calls the remote Greeter by name (it is served by a registered deployment)."""
    raw = await ctx.generic_call("Greeter", "greet", json.dumps(name).encode())
    answer: str = json.loads(raw)
    return answer


@local.handler()
async def resolve(ctx: restate.Context, req: dict[str, Any]) -> None:
    """Resolves any awakeable: one of a remote handler too."""
    ctx.resolve_awakeable(req["id"], req["value"])


@local.handler()
async def wait(ctx: restate.Context, name: str) -> str:
    """A local awakeable, for a remote handler to resolve (its id is in the pending list)."""
    _, verdict = ctx.awakeable(type_hint=str)
    return f"{name}: {await verdict}"


@local.handler()
async def wait_signal(ctx: restate.Context, name: str) -> str:
    """A named signal, for a remote handler to send."""
    return f"{name}: {await ctx.signal(name, type_hint=str)}"


services = [local]
app = restate.app(services=services)
