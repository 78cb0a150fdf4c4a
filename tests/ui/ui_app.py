"""Services of the web UI's tests, served by `awaken serve ui_app:app` (cwd: tests/ui): a flow
with a step, a sleep, a call and a typed awakeable (a timeline with every kind of entry), a step
that fails before it succeeds (retries), and a virtual object with state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

import awaken as restate


class Approval(BaseModel):
    approved: bool
    reviewer: str


shop = restate.Service("shop")
FAILURES: dict[str, int] = {}


@shop.handler()
async def price(ctx: restate.Context, item: str) -> int:
    return await ctx.run_typed("look up price", lambda: 10 * len(item))


@shop.handler()
async def order(ctx: restate.Context, item: str) -> dict[str, Any]:
    """Reserve (a step that fails once first), wait a little, price the item through a call,
    then wait for a person's approval."""

    def reserve() -> str:
        FAILURES[item] = FAILURES.get(item, 0) + 1
        if FAILURES[item] < 2:
            raise RuntimeError(f"warehouse busy for {item}")
        return f"reserved {item}"

    reserved = await ctx.run_typed("reserve", reserve, restate.RunOptions(max_attempts=5))
    await ctx.sleep(timedelta(milliseconds=50))
    cost = await ctx.service_call(price, item)
    _, approval = ctx.awakeable(type_hint=Approval, timeout=timedelta(hours=1))
    decided = await approval
    return {"reserved": reserved, "price": cost, "approved": decided.approved, "by": decided.reviewer}


@shop.handler()
async def wait(ctx: restate.Context, note: str) -> Any:
    """Waits on an untyped awakeable (for cancel, kill, pause)."""
    _, fut = ctx.awakeable()
    return await fut


@shop.handler()
async def fragile(ctx: restate.Context, reason: str) -> str:
    """Fails every attempt: it backs off between retries (attempts, next retry, last failure)."""
    raise RuntimeError(f"dependency down: {reason}")


@shop.handler()
async def steps(ctx: restate.Context, n: int) -> int:
    """A long journal: n steps."""
    total = 0
    for i in range(n):
        total += await ctx.run_typed(f"step {i}", lambda i=i: i)
    return total


@shop.handler()
async def echo(ctx: restate.Context, text: str) -> str:
    return text


cart = restate.VirtualObject("cart")


@cart.handler()
async def add(ctx: restate.ObjectContext, item: str) -> list[str]:
    items = await ctx.get("items", type_hint=list[str]) or []
    items.append(item)
    ctx.set("items", items)
    ctx.set("owner", ctx.key())
    return items


@cart.handler()
async def hold(ctx: restate.ObjectContext) -> Any:
    """Holds the key's lock while it waits on an awakeable."""
    _, fut = ctx.awakeable()
    return await fut


@cart.handler(kind="shared")
async def items(ctx: restate.ObjectSharedContext) -> list[str]:
    return await ctx.get("items", type_hint=list[str]) or []


app = restate.app(services=[shop, cart])
