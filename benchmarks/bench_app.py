"""The services the benchmarks drive."""

from __future__ import annotations

import awaken as restate

bench = restate.Service("bench")


async def _identity(x: int) -> int:
    return x


@bench.handler()
async def step(ctx: restate.Context, x: int) -> int:
    """A handler with one durable step."""
    return await ctx.run_typed("step", _identity, restate.RunOptions(), x)


@bench.handler()
async def wait(ctx: restate.Context, x: int) -> int:
    """Waits on an awakeable (listed by the admin API, resolved over HTTP)."""
    _, fut = ctx.awakeable(type_hint=int)
    return await fut + x


big = restate.VirtualObject("big")
MIB = "x" * (1 << 20)


@big.handler()
async def touch(ctx: restate.ObjectContext, n: int) -> int:
    """Reads and rewrites a 1 MiB value of its state."""
    value = await ctx.get("blob", type_hint=str) or MIB
    ctx.set("blob", value[:-1] + str(n % 10))
    return len(value)


@big.handler()
async def small(ctx: restate.ObjectContext, n: int) -> int:
    """Touches a small value of an object that also holds a 1 MiB one."""
    count = await ctx.get("count", type_hint=int) or 0
    ctx.set("count", count + 1)
    return count


app = restate.app(services=[bench, big])
