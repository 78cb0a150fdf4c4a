"""Due timers and purges, fired exactly once even when several nodes look at the same ones.

A timer is fired by whoever deletes its row while holding its invocation's lock: two nodes that
pick the same due timer serialize on that lock, and the second finds the row gone. Invocations
locked by someone else are skipped (`lock_invocation_skip_locked`) and picked up on a later round,
so that nodes spread the work instead of queueing on each other.
"""

from __future__ import annotations

from awaken.core.journal import Outcome
from awaken.storage.lifecycle import awakeables, invocations
from awaken.storage.lifecycle.op import Op
from awaken.storage.protocol import Effects, Status, TimerKind


async def next_timer(op: Op) -> int | None:
    value = await op.scalar("next_timer")
    return None if value is None else int(value)


async def fire_due(op: Op, now: int, limit: int) -> Effects:
    """Fire up to `limit` due timers and purge up to `limit` invocations past their retention."""
    effects = Effects()
    for t in await op.tx.all("due_timers", {"now": now, "limit": limit}):
        inv, idx, kind = str(t["invocation_id"]), int(t["idx"]), TimerKind(t["kind"])
        row = await op.tx.one("lock_invocation_skip_locked", {"id": inv})
        if row is None and await op.tx.one("get_fence_info", {"id": inv}) is not None:
            continue  # its invocation is busy elsewhere: a later round fires it
        key = {"id": inv, "idx": idx, "kind": kind.value}
        if await op.tx.run("delete_timer", key) == 0:
            continue  # fired meanwhile by another node
        if row is not None:
            effects = effects.merge(await _fire(op, inv, idx, kind, str(row["status"]), now))
    for due in await op.tx.all("due_purges", {"now": now, "limit": limit}):
        invocations_id = str(due["id"])
        if await op.tx.one("lock_invocation_skip_locked", {"id": invocations_id}) is not None:
            await invocations.purge(op, invocations_id)
    return Effects(
        effects.claims,
        effects.deliveries,
        effects.completed,
        await next_timer(op),
        effects.cancels,
    )


async def _fire(op: Op, inv: str, idx: int, kind: TimerKind, status: str, now: int) -> Effects:
    if kind == TimerKind.SLEEP:
        return await invocations.wake(op, inv, idx, Outcome(), now)
    if kind == TimerKind.DEADLINE:
        return await awakeables.expire(op, inv, idx, now)
    if kind == TimerKind.RETRY and status == Status.BACKING_OFF:
        return Effects(claims=[await invocations.claim(op, inv, now)])
    if kind == TimerKind.START and status == Status.SCHEDULED:
        row = await invocations.lock(op, inv)
        assert row is not None
        return await invocations.start(op, row, now)
    if kind == TimerKind.PURGE and status == Status.COMPLETED:  # kept by databases of version 1
        await invocations.purge(op, inv)
    return Effects()


async def complete_entry(op: Op, inv: str, idx: int, outcome: Outcome, now: int) -> Effects:
    """Complete a journal entry from outside (a sleep that ended in memory, say): its timer goes."""
    effects = await invocations.wake(op, inv, idx, outcome, now)
    await op.tx.run("delete_timer", {"id": inv, "idx": idx, "kind": TimerKind.SLEEP.value})
    return op.finish(effects)
