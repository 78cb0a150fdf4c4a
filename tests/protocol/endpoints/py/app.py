"""Services written with the official Python SDK (`restate-sdk`) for awaken's protocol tests.

One handler per command family, and the seed's awakeable story. `ENDPOINT_IDENTITY_KEYS`
(comma-separated `publickeyv1_...`) makes the endpoint require signed requests.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import restate
from restate.exceptions import RetryableError

greeter = restate.Service("Greeter")


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    return f"Hello {name}!"


reviews = restate.Service("Reviews")


@reviews.handler()
async def review(ctx: restate.Context, name: str) -> str:
    # The seed: create an awakeable, hand its id out inside ctx.run, await it.
    awakeable_id, verdict = ctx.awakeable(type_hint=str)

    async def request_human_review() -> dict[str, str]:
        return {"reviewer": "reviewers@example.com", "awakeableId": awakeable_id, "name": name}

    await ctx.run_typed("request human review", request_human_review)
    return f"{name}: {await verdict}"


@reviews.handler()
async def resolve(ctx: restate.Context, req: dict[str, Any]) -> None:
    ctx.resolve_awakeable(req["id"], req["value"])


@reviews.handler()
async def reject(ctx: restate.Context, req: dict[str, Any]) -> None:
    ctx.reject_awakeable(req["id"], req["reason"])


counter = restate.VirtualObject("Counter")


@counter.handler()
async def add(ctx: restate.ObjectContext, n: int) -> int:
    current = await ctx.get("count", type_hint=int) or 0
    ctx.set("count", current + n)
    return current + n


@counter.handler(kind="shared")
async def get(ctx: restate.ObjectSharedContext) -> int:
    return await ctx.get("count", type_hint=int) or 0


@counter.handler(kind="shared")
async def keys(ctx: restate.ObjectSharedContext) -> list[str]:
    return await ctx.state_keys()


@counter.handler()
async def reset(ctx: restate.ObjectContext) -> None:
    ctx.clear("count")
    ctx.clear_all()


lazy_counter = restate.VirtualObject("LazyCounter", enable_lazy_state=True)


@lazy_counter.handler("add")
async def lazy_add(ctx: restate.ObjectContext, n: int) -> int:
    current = await ctx.get("count", type_hint=int) or 0
    ctx.set("count", current + n)
    return current + n


sleeper = restate.Service("Sleeper")


@sleeper.handler("sleep")
async def sleep(ctx: restate.Context, ms: int) -> str:
    await ctx.sleep(timedelta(milliseconds=ms))
    return "slept"


caller = restate.Service("Caller")


@caller.handler()
async def call(ctx: restate.Context, name: str) -> str:
    return await ctx.service_call(greet, arg=name, idempotency_key=f"call-{name}")


@caller.handler()
async def send(ctx: restate.Context, name: str) -> str:
    handle = ctx.service_send(
        greet, arg=name, send_delay=timedelta(seconds=5), idempotency_key=f"send-{name}"
    )
    return await handle.invocation_id()


@caller.handler()
async def attach(ctx: restate.Context, invocation_id: str) -> str:
    return await ctx.attach_invocation(invocation_id, type_hint=str)


@caller.handler()
async def cancel(ctx: restate.Context, invocation_id: str) -> str:
    ctx.cancel_invocation(invocation_id)
    return "cancelled"


@caller.handler()
async def signal(ctx: restate.Context, req: dict[str, Any]) -> str:
    """Sends a named signal to an invocation (SendSignalCommand with a name)."""
    if "reject" in req:
        ctx.reject_signal(req["invocation_id"], req["name"], req["reject"], 403)
    else:
        ctx.resolve_signal(req["invocation_id"], req["name"], req["value"])
    return "signalled"


runner = restate.Service("Runner")


@runner.handler("run")
async def run(ctx: restate.Context, x: int) -> int:
    async def double() -> int:
        return x * 2

    return await ctx.run_typed("double", double)


@runner.handler("hold")
async def run_held(ctx: restate.Context, gate: str) -> str:
    """A step that runs until the test creates the file `gate` names."""

    async def held() -> str:
        while not os.path.exists(gate):
            await asyncio.sleep(0.01)
        return "released"

    return await ctx.run_typed("held", held)


signup = restate.Workflow("Signup")


@signup.main("run")
async def signup_run(ctx: restate.WorkflowContext, email: str) -> str:
    code = await ctx.promise("confirmation", type_hint=str).value()
    return f"{email} confirmed with {code}"


@signup.handler()
async def confirm(ctx: restate.WorkflowSharedContext, code: str) -> None:
    await ctx.promise("confirmation", type_hint=str).resolve(code)


@signup.handler()
async def peek(ctx: restate.WorkflowSharedContext) -> str | None:
    return await ctx.promise("confirmation", type_hint=str).peek()


flaky = restate.Service(
    "Flaky",
    invocation_retry_policy=restate.InvocationRetryPolicy(
        max_attempts=3, initial_interval=timedelta(milliseconds=100)
    ),
)


@flaky.handler()
async def fail(ctx: restate.Context) -> str:
    raise ValueError("flaky failure")


@flaky.handler("failRun")
async def fail_run(ctx: restate.Context) -> str:
    async def step() -> str:
        raise RetryableError("not yet", retry_after=timedelta(milliseconds=1500))

    return await ctx.run_typed("flaky step", step)


@flaky.handler()
async def terminal(ctx: restate.Context) -> str:
    raise restate.TerminalError("no such order", status_code=404)


# Takes another path when replayed: the SDK reports a journal mismatch (code 570).
nondeterministic = restate.Service("Nondeterministic")
_seen: set[str] = set()


@nondeterministic.handler("run")
async def nondeterministic_run(ctx: restate.Context) -> str:
    invocation_id = ctx.request().id
    if invocation_id not in _seen:
        _seen.add(invocation_id)

        async def first() -> str:
            return "a"

        await ctx.run_typed("first path", first)
    else:
        await ctx.sleep(timedelta(milliseconds=10))
    await ctx.sleep(timedelta(seconds=1))
    return "unreachable on replay"


# Calls any service by name: mixes of remote and local handlers.
proxy = restate.Service("Proxy")


@proxy.handler("call")
async def proxy_call(ctx: restate.Context, req: dict[str, Any]) -> Any:
    raw = await ctx.generic_call(
        req["service"], req["handler"], arg=json.dumps(req["body"]).encode(), key=req.get("key")
    )
    return json.loads(raw) if raw else None


# A virtual object whose exclusive handler holds its key while it waits on an awakeable.
locker = restate.VirtualObject("Locker")


@locker.handler()
async def hold(ctx: restate.ObjectContext) -> str:
    awakeable_id, value = ctx.awakeable(type_hint=str)

    async def hand_out() -> dict[str, str]:
        return {"awakeableId": awakeable_id}

    await ctx.run_typed("hand out", hand_out)
    return await value


@locker.handler()
async def touch(ctx: restate.ObjectContext) -> int:
    n = (await ctx.get("touches", type_hint=int) or 0) + 1
    ctx.set("touches", n)
    return n


# Side effects recorded in files of ENDPOINT_EFFECTS_DIR (they survive awaken being killed), and
# a step that waits until the test creates release.<tag> there.
durable = restate.Service("Durable")
_effects = Path(os.environ.get("ENDPOINT_EFFECTS_DIR", "."))


def _record(name: str, tag: str) -> None:
    with open(_effects / name, "a", encoding="utf-8") as f:
        f.write(f"{tag}\n")


@durable.handler()
async def steps(ctx: restate.Context, tag: str) -> int:
    async def first() -> int:
        _record("first", tag)
        return 1

    async def second() -> int:
        _record("second", tag)
        while not (_effects / f"release.{tag}").exists():
            await asyncio.sleep(0.02)
        return 2

    return await ctx.run_typed("first", first) + await ctx.run_typed("second", second)


_keys = [k for k in os.environ.get("ENDPOINT_IDENTITY_KEYS", "").split(",") if k]
app = restate.app(
    services=[
        greeter,
        reviews,
        counter,
        lazy_counter,
        sleeper,
        caller,
        runner,
        signup,
        flaky,
        nondeterministic,
        proxy,
        locker,
        durable,
    ],
    identity_keys=_keys or None,
)
