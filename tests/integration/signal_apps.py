"""Services of the named-signal tests (an app of their own: the other tests pin the list of
services in the main one)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import awaken as restate
from tests.integration.apps import hand_out

signals = restate.Service("signals")


@signals.handler()
async def wait_signal(ctx: restate.Context, name: str) -> Any:
    return await ctx.signal(name)


@signals.handler()
async def wait_signals(ctx: restate.Context, req: dict[str, Any]) -> list[Any]:
    """`count` signals of `name`, one await after the other."""
    return [await ctx.signal(req["name"]) for _ in range(req["count"])]


@signals.handler()
async def send_signal(ctx: restate.Context, req: dict[str, Any]) -> str:
    if "reject" in req:
        ctx.reject_signal(req["target"], req["name"], req["reject"], req.get("code", 500))
    else:
        ctx.resolve_signal(req["target"], req["name"], req["value"])
    # always-replay mode replays the send after this: it must not send again
    await ctx.sleep(timedelta(milliseconds=1))
    return "sent"


@signals.handler()
async def signal_after_awakeable(ctx: restate.Context, channel: str) -> list[Any]:
    """Waits on an awakeable first: a signal sent meanwhile is kept for the later await."""
    awk_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    first = await fut
    return [first, await ctx.signal("early")]


@signals.handler()
async def signal_or_timeout(ctx: restate.Context) -> list[Any]:
    match await restate.select(signal=ctx.signal("go"), timeout=ctx.sleep(timedelta(seconds=10))):
        case ["signal", value]:
            return ["signal", value]
        case [name, _]:
            return [name, None]
    return []


@signals.handler()
async def signal_self(ctx: restate.Context, value: str) -> Any:
    ctx.resolve_signal(ctx.request().id, "me", value)
    return await ctx.signal("me", type_hint=str)


signal_box = restate.VirtualObject("signal_box")


@signal_box.handler(name="hold")
async def hold_until_signal(ctx: restate.ObjectContext) -> Any:
    """Holds the key until the signal `release` comes."""
    value = await ctx.signal("release")
    ctx.set("value", value)
    return value


@signal_box.handler()
async def take(ctx: restate.ObjectContext) -> Any:
    return await ctx.get("value")


app = restate.app(services=[signals, signal_box])
