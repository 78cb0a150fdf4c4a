"""Services of the CLI tests (`awaken serve cli_app:app`, cwd tests/e2e): invocations that succeed,
fail, retry, wait on typed awakeables, hold a key, or run later."""

from __future__ import annotations

from pydantic import BaseModel

import awaken as restate

shop = restate.Service("shop")
_failures_left = {"flaky": 1}


class Verdict(BaseModel):
    approved: bool
    reviewer: str


@shop.handler()
async def ok(ctx: restate.Context, name: str) -> str:
    return await ctx.run_typed("greet", lambda: f"hello {name}")


@shop.handler()
async def refuse(ctx: restate.Context) -> str:
    raise restate.TerminalError("not today", 400)


@shop.handler()
async def flaky(ctx: restate.Context) -> str:
    """Fails its first attempt (a retryable error), then succeeds."""
    if _failures_left["flaky"] > 0:
        _failures_left["flaky"] -= 1
        raise RuntimeError("the first attempt fails")
    return "second time lucky"


@shop.handler()
async def wait(ctx: restate.Context, order: str) -> str:
    """Waits for a typed verdict; its awakeable id is the output of the step 'ask'."""
    verdict_id, verdict = ctx.awakeable(type_hint=Verdict)
    await ctx.run_typed("ask", lambda: verdict_id)
    decision = await verdict
    return f"{order}: {'approved' if decision.approved else 'declined'} by {decision.reviewer}"


cart = restate.VirtualObject("cart")


@cart.handler()
async def add(ctx: restate.ObjectContext, item: str) -> list[str]:
    items = [*(await ctx.get("items", type_hint=list[str]) or []), item]
    ctx.set("items", items)
    return items


@cart.handler()
async def hold(ctx: restate.ObjectContext) -> str:
    """Keeps the key locked while it waits."""
    _, never = ctx.awakeable(type_hint=str)
    return await never


app = restate.app(services=[shop, cart])
