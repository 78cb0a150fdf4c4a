"""Services of the crash tests, served by `awaken serve crash_app:app` (cwd: tests/e2e).

Every side effect appends a line `tag value` to the file named after the effect in the directory
given by E2E_EFFECTS_DIR, and fsyncs it, so the tests can count executions across a kill -9.
A step's value is fresh (random) on every execution: the tests compare the result an invocation
returns with the values its steps recorded, which proves that no recorded result changed.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import awaken as restate

BLOCK_LIMIT = 30.0  # seconds a blocking step waits for its release before it gives up


def effects_dir() -> Path:
    return Path(os.environ["E2E_EFFECTS_DIR"])


def record(effect: str, tag: str, value: str = "") -> str:
    """Append `tag value` to the effect's file, durably; return the value."""
    fd = os.open(effects_dir() / effect, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"{tag} {value}".rstrip().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


def fresh() -> str:
    return uuid.uuid4().hex


async def released(tag: str) -> None:
    """Wait (on the event loop) until the test releases `tag`."""
    release = effects_dir() / f"release.{tag}"
    deadline = time.monotonic() + BLOCK_LIMIT
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tag} was never released")
        await asyncio.sleep(0.01)


flow = restate.Service("flow")


async def approval_flow(ctx: restate.Context, tag: str, gate: bool) -> dict[str, Any]:
    """step A; an awakeable handed out inside ctx.run; wait for it; step B (which first waits
    for the test to open the gate, if `gate`)."""
    a = await ctx.run_typed("step a", lambda: record("step_a", tag, fresh()))
    awakeable_id, approval = ctx.awakeable()
    await ctx.run_typed("hand out", record, restate.RunOptions(), "hand_out", tag, awakeable_id)
    got = await approval

    async def step_b() -> str:
        if gate:
            await released("gate")
        return record("step_b", tag, fresh())

    b = await ctx.run_typed("step b", step_b)
    return {"tag": tag, "a": a, "got": got, "b": b}


@flow.handler()
async def approve(ctx: restate.Context, tag: str) -> dict[str, Any]:
    return await approval_flow(ctx, tag, gate=False)


@flow.handler()
async def approve_gated(ctx: restate.Context, tag: str) -> dict[str, Any]:
    return await approval_flow(ctx, tag, gate=True)


def blocking_step(tag: str) -> str:
    """Runs in the executor's thread: marks its start, then blocks until the test releases it."""
    record("slow_started", tag)
    release = effects_dir() / f"release.{tag}"
    deadline = time.monotonic() + BLOCK_LIMIT
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"step of {tag} was never released")
        time.sleep(0.01)
    return record("slow_done", tag, fresh())


@flow.handler()
async def slow_step(ctx: restate.Context, tag: str) -> dict[str, str]:
    """A step completed before the crash, a step that blocks (the crash happens while it runs), and
    a step after it."""
    before = await ctx.run_typed("before", lambda: record("before", tag, fresh()))
    slow = await ctx.run_typed("slow", blocking_step, restate.RunOptions(), tag)
    after = await ctx.run_typed("after", lambda: record("after", tag, fresh()))
    return {"before": before, "slow": slow, "after": after}


async def blocking_async_step(tag: str) -> str:
    """The same as blocking_step, on the event loop (a SIGTERM can cancel it)."""
    record("slow_started", tag)
    await released(tag)
    return record("slow_done", tag, fresh())


@flow.handler()
async def slow_async_step(ctx: restate.Context, tag: str) -> dict[str, str]:
    before = await ctx.run_typed("before", lambda: record("before", tag, fresh()))
    slow = await ctx.run_typed("slow", blocking_async_step, restate.RunOptions(), tag)
    after = await ctx.run_typed("after", lambda: record("after", tag, fresh()))
    return {"before": before, "slow": slow, "after": after}


CHAIN_STEPS = 6


@flow.handler()
async def chain(ctx: restate.Context, tag: str) -> list[str]:
    """Steps of a few milliseconds each, with a durable timer in the middle: kills at random
    moments land inside steps, between them, and during the sleep."""

    async def step(i: int) -> str:
        await asyncio.sleep(0.005)
        return record(f"chain{i}", tag, fresh())

    results = []
    for i in range(CHAIN_STEPS):
        results.append(await ctx.run_typed(f"step {i}", step, restate.RunOptions(), i))
        if i == CHAIN_STEPS // 2:
            await ctx.sleep(timedelta(milliseconds=50))
    return results


class Nap(BaseModel):
    tag: str
    seconds: float


@flow.handler()
async def nap(ctx: restate.Context, req: Nap) -> dict[str, Any]:
    """A durable timer between two steps; returns when each step ran (epoch ms)."""
    before = await ctx.run_typed("before nap", lambda: record("nap_before", req.tag, str(time.time())))
    await ctx.sleep(timedelta(seconds=req.seconds))
    after = await ctx.run_typed("after nap", lambda: record("nap_after", req.tag, str(time.time())))
    return {"tag": req.tag, "before": float(before), "after": float(after)}


@flow.handler()
async def work(ctx: restate.Context, tag: str) -> str:
    """One step; used to count how often accepted invocations ran."""

    async def step() -> str:
        await asyncio.sleep(0)
        return record("work", tag, fresh())

    return await ctx.run_typed("work", step)


@flow.handler()
async def measure(ctx: restate.Context, blob: str) -> int:
    """The length of a (large) input: the big-body tests send tens of MiB to it."""
    return len(blob)


@flow.handler()
async def gated(ctx: restate.Context, tag: str) -> str:
    """One step, which waits until the test opens the gate and then records its execution."""

    async def step() -> str:
        await released("gate")
        return record("gated", tag, fresh())

    return await ctx.run_typed("gated", step)


lock = restate.VirtualObject("lock")


@lock.handler()
async def hold(ctx: restate.ObjectContext, tag: str) -> list[str]:
    """Holds the key's lock while it waits on an awakeable; appends `tag:payload` to the log."""
    awakeable_id, approval = ctx.awakeable(type_hint=str)
    await ctx.run_typed(
        "hand out", record, restate.RunOptions(), "lock_hand_out", f"{ctx.key()}/{tag}", awakeable_id
    )
    got = await approval
    log = [*(await ctx.get("log", type_hint=list[str]) or []), f"{tag}:{got}"]
    ctx.set("log", log)
    return log


@lock.handler()
async def append(ctx: restate.ObjectContext, tag: str) -> list[str]:
    """Exclusive: queues behind `hold` on the same key."""
    await ctx.run_typed("append", lambda: record("lock_append", f"{ctx.key()}/{tag}"))
    log = [*(await ctx.get("log", type_hint=list[str]) or []), tag]
    ctx.set("log", log)
    return log


@lock.handler(kind="shared")
async def read(ctx: restate.ObjectSharedContext) -> list[str]:
    return await ctx.get("log", type_hint=list[str]) or []


async def compensation(tag: str) -> str:
    """A compensation step that blocks until the test releases it."""
    record("comp_started", tag)
    await released(f"comp-{tag}")
    return record("comp_done", tag, fresh())


@flow.handler()
async def compensating(ctx: restate.Context, tag: str) -> str:
    """Waits on an awakeable; if cancelled, runs a (blocking) compensation step, then fails."""
    await ctx.run_typed("before", lambda: record("c_before", tag, fresh()))
    awakeable_id, fut = ctx.awakeable()
    await ctx.run_typed("hand out", record, restate.RunOptions(), "c_hand_out", tag, awakeable_id)
    try:
        await fut
    except restate.TerminalError as exc:
        done = await ctx.run_typed("compensate", compensation, restate.RunOptions(), tag)
        raise restate.TerminalError(f"{exc.message}, compensated {done}", 409) from exc
    return "not cancelled"


approval = restate.Workflow("approval")


@approval.main(name="run")
async def approval_run(ctx: restate.WorkflowContext, tag: str) -> dict[str, str]:
    """A step, then the wait for the `decision` promise, which `decide` completes."""
    before = await ctx.run_typed("before", lambda: record("wf_before", tag, fresh()))
    decision = await ctx.promise("decision", type_hint=str)
    return {"before": before, "decision": decision}


@approval.handler()
async def decide(ctx: restate.WorkflowSharedContext, decision: str) -> None:
    await ctx.promise("decision").resolve(decision)


@flow.handler()
async def relay(ctx: restate.Context, tag: str) -> dict[str, Any]:
    """A step, a call to a virtual object, and a delayed send to another of its keys."""
    before = await ctx.run_typed("relay before", lambda: record("relay_before", tag, fresh()))
    log = await ctx.object_call(append, key="relay", arg=tag)
    ctx.object_send(append, key="delayed", arg=tag, send_delay=timedelta(milliseconds=300))
    return {"before": before, "appended": tag in log}


app = restate.app(services=[flow, lock, approval])


FLAKY_ATTEMPTS = 4


@flow.handler()
async def flaky_step(ctx: restate.Context, tag: str) -> str:
    """A ctx.run that always fails, retried in place up to FLAKY_ATTEMPTS times, 1 s apart."""

    def fails() -> str:
        record("flaky", tag)
        raise RuntimeError(f"attempt failed for {tag}")

    options: restate.RunOptions[str] = restate.RunOptions(
        max_attempts=FLAKY_ATTEMPTS,
        initial_retry_interval=timedelta(seconds=1),
        retry_interval_factor=1.0,
    )
    try:
        await ctx.run_typed("flaky", fails, options)
    except restate.TerminalError as exc:
        return f"gave up: {exc.message}"
    return "unreachable"
