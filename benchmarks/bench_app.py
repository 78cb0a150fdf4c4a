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


app = restate.app(services=[bench])
