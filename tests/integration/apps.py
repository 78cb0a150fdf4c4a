"""Services used by the integration tests. Side effects are counted in `EFFECTS` so that tests
can prove a step ran exactly as often as it should; awakeable ids are handed out on queues."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

from pydantic import BaseModel

import awaken as restate

EFFECTS: Counter[str] = Counter()
OUTBOX: defaultdict[str, asyncio.Queue[str]] = defaultdict(asyncio.Queue)
FLAKY: Counter[str] = Counter()
TOGGLES: dict[str, bool] = {}


def reset() -> None:
    EFFECTS.clear()
    OUTBOX.clear()
    FLAKY.clear()
    TOGGLES.clear()


async def hand_out(channel: str, awakeable_id: str) -> None:
    EFFECTS[f"hand_out:{channel}"] += 1
    OUTBOX[channel].put_nowait(awakeable_id)


class Approval(BaseModel):
    approved: bool
    reviewer: str


svc = restate.Service("svc")


@svc.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    async def effect() -> str:
        EFFECTS[f"greet:{name}"] += 1
        return f"hello {name}"

    return await ctx.run_typed("greet", effect)


@svc.handler()
async def no_input(ctx: restate.Context) -> dict[str, int]:
    return {"answer": 42}


@svc.handler()
async def approve(ctx: restate.Context, channel: str) -> dict[str, Any]:
    awk_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    value = await fut
    EFFECTS[f"after:{channel}"] += 0  # replay must not count; only steps count
    return {"got": value}


@svc.handler()
async def approve_typed(ctx: restate.Context, channel: str) -> dict[str, Any]:
    awk_id, fut = ctx.awakeable(type_hint=Approval, timeout=timedelta(seconds=30))
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    approval = await fut
    return {"approved": approval.approved, "reviewer": approval.reviewer}


@svc.handler()
async def approve_or_timeout(ctx: restate.Context, channel: str) -> list[Any]:
    awk_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    match await restate.select(result=fut, timeout=ctx.sleep(timedelta(seconds=10))):
        case ["result", value]:
            return ["result", value]
        case [name, _]:
            return [name, None]
    return []


@svc.handler()
async def two_awakeables(ctx: restate.Context, channel: str) -> list[Any]:
    a_id, a = ctx.awakeable()
    b_id, b = ctx.awakeable()
    await ctx.run_typed("hand out a", hand_out, restate.RunOptions(), channel, a_id)
    await ctx.run_typed("hand out b", hand_out, restate.RunOptions(), channel, b_id)
    await restate.gather(a, b)
    return [await a, await b]


@svc.handler()
async def resolver(ctx: restate.Context, req: dict[str, Any]) -> str:
    if req.get("reject"):
        ctx.reject_awakeable(req["id"], req["reject"], 418)
    else:
        ctx.resolve_awakeable(req["id"], req["value"])
    await ctx.sleep(timedelta(milliseconds=1))
    return "done"


@svc.handler()
async def sleeper(ctx: restate.Context, seconds: float) -> str:
    await ctx.sleep(timedelta(seconds=seconds))
    EFFECTS["slept"] += 1
    return "awake"


@svc.handler()
async def flaky(ctx: restate.Context, key: str) -> int:
    async def step_one() -> str:
        EFFECTS[f"flaky-step-one:{key}"] += 1
        return "one"

    await ctx.run_typed("one", step_one)
    FLAKY[key] += 1
    if FLAKY[key] < 3:
        raise RuntimeError(f"transient failure {FLAKY[key]}")
    return FLAKY[key]


@svc.handler()
async def step_gives_up(ctx: restate.Context) -> str:
    def always_fails() -> str:
        EFFECTS["gives_up"] += 1
        raise ValueError("nope")

    try:
        await ctx.run_typed(
            "fails", always_fails, restate.RunOptions(max_attempts=3, initial_retry_interval=timedelta(0))
        )
    except restate.TerminalError as exc:
        return f"caught: {exc.message}"
    return "unreachable"


@svc.handler()
async def terminal(ctx: restate.Context) -> str:
    raise restate.TerminalError("teapot", 418)


@svc.handler()
async def non_deterministic(ctx: restate.Context, key: str) -> str:
    flipped = TOGGLES.get(key, False)
    TOGGLES[key] = not flipped
    if flipped:
        await ctx.sleep(timedelta(milliseconds=1))
    else:
        await ctx.run_typed("step", lambda: "x")
    raise RuntimeError("force a retry")  # the replay of the retry takes the other branch


@svc.handler()
async def determinism(ctx: restate.Context) -> dict[str, Any]:
    t = await ctx.time()
    return {"r": ctx.random().random(), "u": str(ctx.uuid()), "t": t}


@svc.handler()
async def caller(ctx: restate.Context, name: str) -> str:
    result: str = await ctx.service_call(greet, name)
    ctx.service_send(greet, name + "-sent")
    return "called: " + result


counter = restate.VirtualObject("counter")


@counter.handler()
async def add(ctx: restate.ObjectContext, amount: int) -> int:
    value = (await ctx.get("value", type_hint=int) or 0) + amount
    ctx.set("value", value)
    EFFECTS[f"add:{ctx.key()}"] += 1
    return value


@counter.handler(kind="shared")
async def get(ctx: restate.ObjectSharedContext) -> int:
    return await ctx.get("value", type_hint=int) or 0


@counter.handler()
async def hold(ctx: restate.ObjectContext) -> int:
    """Waits on an awakeable while holding the key's lock."""
    awk_id, fut = ctx.awakeable(type_hint=int)
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), f"hold:{ctx.key()}", awk_id)
    amount = await fut
    value = (await ctx.get("value", type_hint=int) or 0) + amount
    ctx.set("value", value)
    return value


@counter.handler()
async def reset_state(ctx: restate.ObjectContext) -> list[str]:
    ctx.set("other", "x")
    keys = await ctx.state_keys()
    ctx.clear("other")
    ctx.clear_all()
    return keys


@svc.handler()
async def swallows_non_determinism(ctx: restate.Context, key: str) -> str:
    """Catches everything, even the replay error: the attempt must still fail and retry."""
    flipped = TOGGLES.get(key, False)
    TOGGLES[key] = not flipped
    try:
        if flipped:
            await ctx.sleep(timedelta(milliseconds=1))
        else:
            await ctx.run_typed("step", lambda: "x")
    except Exception:
        return "swallowed"
    raise RuntimeError("force a retry")


signup = restate.Workflow("signup")


@signup.main()
async def run(ctx: restate.WorkflowContext, email: str) -> str:
    EFFECTS[f"signup:{ctx.key()}"] += 1
    ctx.set("email", email)
    return await ctx.run_typed("welcome", lambda: f"welcome {email}")


@signup.handler()
async def email(ctx: restate.WorkflowSharedContext) -> str | None:
    return await ctx.get("email", type_hint=str)


@svc.handler()
async def leaves_one_open(ctx: restate.Context, channel: str) -> Any:
    """Awaits the first of two awakeables and returns: the second is closed with the invocation."""
    a_id, a = ctx.awakeable()
    b_id, _ = ctx.awakeable(timeout=timedelta(hours=1))
    await ctx.run_typed("hand out a", hand_out, restate.RunOptions(), channel, a_id)
    await ctx.run_typed("hand out b", hand_out, restate.RunOptions(), channel, b_id)
    return await a


@dataclass
class Point:
    x: int
    y: int


class Box(TypedDict):
    label: str
    size: int


@svc.handler()
async def mirror_point(ctx: restate.Context, p: Point) -> Point:
    stored = await ctx.run_typed("copy", lambda: Point(p.y, p.x))
    return stored


@svc.handler()
async def grow_box(ctx: restate.Context, box: Box) -> Box:
    return {"label": box["label"], "size": box["size"] + 1}


@svc.handler()
async def typed_wait(ctx: restate.Context, channel: str) -> Point:
    awk_id, fut = ctx.awakeable(type_hint=Point)
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    return await fut


@svc.handler()
async def attacher(ctx: restate.Context, invocation_id: str) -> Any:
    return await ctx.attach_invocation(invocation_id)


@svc.handler()
async def cancellable(ctx: restate.Context, channel: str) -> Any:
    """Waits on an awakeable; if cancelled, compensates (a step) and fails with the cancellation."""
    awk_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    try:
        return await fut
    except restate.TerminalError:
        await ctx.run_typed("compensate", compensate, restate.RunOptions(), channel)
        raise


@svc.handler()
async def cancellable_sleeps(ctx: restate.Context, channel: str) -> Any:
    """As `cancellable`, but the compensation first sleeps: in always-replay mode the attempt
    suspends there and a replay must raise the cancellation again at the same await."""
    awk_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), channel, awk_id)
    try:
        return await fut
    except restate.TerminalError:
        await ctx.sleep(timedelta(milliseconds=5))
        await ctx.run_typed("compensate", compensate, restate.RunOptions(), channel)
        raise


async def compensate(channel: str) -> None:
    EFFECTS[f"compensated:{channel}"] += 1


@svc.handler()
async def parent(ctx: restate.Context, channel: str) -> Any:
    """Calls `cancellable` and waits for it; compensates too if cancelled."""
    try:
        return await ctx.service_call(cancellable, f"{channel}-child")
    except restate.TerminalError:
        await ctx.run_typed("compensate", compensate, restate.RunOptions(), channel)
        raise


@svc.handler()
async def canceller(ctx: restate.Context, invocation_id: str) -> str:
    ctx.cancel_invocation(invocation_id)
    return "sent"


@svc.handler()
async def until_toggled(ctx: restate.Context, name: str) -> str:
    """Fails (and is retried) until the test sets TOGGLES[name]."""

    def check() -> str:
        if not TOGGLES.get(name):
            raise RuntimeError(f"{name} is not set yet")
        return "done"

    return await ctx.run_typed("check", check)


review = restate.Workflow("review")


@review.main(name="run")
async def review_run(ctx: restate.WorkflowContext, doc: str) -> dict[str, Any]:
    """Waits for the verdict promise, which the shared handlers below complete."""

    def count() -> None:
        EFFECTS[f"review:{ctx.key()}"] += 1

    await ctx.run_typed("count", count)
    ctx.set("doc", doc)
    before = await ctx.promise("verdict", type_hint=str).peek()
    verdict = await ctx.promise("verdict", type_hint=str)
    return {"doc": doc, "before": before, "verdict": verdict}


@review.handler()
async def decide(ctx: restate.WorkflowSharedContext, verdict: str) -> str:
    await ctx.promise("verdict").resolve(verdict)
    return f"decided {verdict}"


@review.handler()
async def refuse(ctx: restate.WorkflowSharedContext, reason: str) -> str:
    await ctx.promise("verdict").reject(reason, 403)
    return "refused"


@review.handler()
async def look(ctx: restate.WorkflowSharedContext) -> dict[str, Any]:
    return {"verdict": await ctx.promise("verdict", type_hint=str).peek(), "doc": await ctx.get("doc")}


@svc.handler()
async def promise_outside_a_workflow(ctx: restate.Context) -> str:
    await ctx.promise("nope").peek()  # type: ignore[attr-defined]
    return "unreachable"


blobs = restate.VirtualObject("blobs")
BIG = 20_000  # past awaken.core.journal.LARGE_VALUE: loaded lazily, journaled by reference


@blobs.handler()
async def grow(ctx: restate.ObjectContext, tag: str) -> dict[str, int]:
    """Reads a large value, waits (a replay follows in always-replay mode), rewrites it, and
    reads it again: the first read must replay as what it read, not as what was written after."""
    before = await ctx.get("blob", type_hint=str) or ""
    awk_id, fut = ctx.awakeable(type_hint=str)
    await ctx.run_typed("hand out", hand_out, restate.RunOptions(), f"grow:{tag}", awk_id)
    suffix = await fut
    ctx.set("blob", (before or "x" * BIG) + suffix)
    again = await ctx.get("blob", type_hint=str) or ""
    await ctx.sleep(timedelta(milliseconds=1))  # one more suspension past the write
    return {"before": len(before), "after": len(again), "keys": len(await ctx.state_keys())}


@blobs.handler()
async def small(ctx: restate.ObjectContext) -> int:
    n = (await ctx.get("n", type_hint=int) or 0) + 1
    ctx.set("n", n)
    return n


@blobs.handler(kind="shared")
async def size(ctx: restate.ObjectSharedContext) -> int:
    return len(await ctx.get("blob", type_hint=str) or "")


app = restate.app(services=[svc, counter, signup, review, blobs])
