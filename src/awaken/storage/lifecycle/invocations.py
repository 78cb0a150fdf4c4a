"""The shared rules of invocations: create, claim, start (or queue behind a key lock), wake,
complete, purge.

A *claim* makes an invocation `running` under a new epoch, leased to this node; whoever receives a
`Claim` must run it. Every function that changes an invocation, or decides from its status, holds
its row lock (`lock`) first; see the package docstring for the order of locks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from awaken.core.journal import LARGE_VALUE, Entry, EntryKind, Outcome, slot_signal
from awaken.errors import NotFound
from awaken.storage.lifecycle import notices
from awaken.storage.lifecycle.op import Op, Row
from awaken.storage.lifecycle.rows import (
    dump_json,
    entry_from_row,
    entry_params,
    invocation_outcome,
    outcome_params,
    record_from_row,
)
from awaken.storage.protocol import (
    Claim,
    CreateResult,
    Delivery,
    Effects,
    EntryRef,
    InvocationRecord,
    NewInvocation,
    Status,
    TimerKind,
)

INVOCATION_TIMER = -1  # the idx of retry / start timers (invocation-level, not an entry's)


async def lock(op: Op, invocation_id: str) -> Row | None:
    """The invocation's row, locked for the rest of the transaction (None if there is none)."""
    return await op.tx.one("lock_invocation", {"id": invocation_id})


async def state(op: Op, service: str, key: str) -> dict[str, bytes]:
    rows = await op.tx.all("get_state", {"service": service, "key": key})
    return {str(r["name"]): bytes(r["value"]) for r in rows}


async def eager_state(op: Op, service: str, key: str) -> tuple[dict[str, bytes], frozenset[str]]:
    """What an attempt starts with: the values up to LARGE_VALUE, and the names of larger ones."""
    rows = await op.tx.all("get_eager_state", {"service": service, "key": key, "max": LARGE_VALUE})
    values = {str(r["name"]): bytes(r["value"]) for r in rows if r["value"] is not None}
    lazy = frozenset(str(r["name"]) for r in rows if r["value"] is None)
    return values, lazy


async def journal(op: Op, invocation_id: str) -> list[Any]:
    return [entry_from_row(r) for r in await op.tx.all("get_journal", {"id": invocation_id})]


async def timer(op: Op, invocation_id: str, idx: int, kind: TimerKind, fire_at: int) -> None:
    params = {"id": invocation_id, "idx": idx, "kind": kind.value, "fire_at": fire_at}
    await op.tx.run("upsert_timer", params)
    op.timer_created(fire_at)


def _lease(op: Op, now: int) -> dict[str, Any]:
    return {"node": op.tx.node, "lease_until": now + op.tx.lease_ms, "now": now}


async def claim(op: Op, invocation_id: str, now: int) -> Claim:
    """running, epoch + 1, leased to this node; the record, journal and (keyed) state to run it
    from. The caller holds the row lock."""
    row = await op.tx.one("claim_invocation", {"id": invocation_id, **_lease(op, now)})
    assert row is not None, f"claimed invocation {invocation_id} vanished"
    record = record_from_row(row)
    if record.key is None:
        return Claim(record, await journal(op, invocation_id))
    values, lazy = await eager_state(op, record.service, record.key)
    return Claim(record, await journal(op, invocation_id), values, lazy)


async def start(op: Op, row: Row, now: int) -> Effects:
    """A due invocation: claimed, or queued `pending` behind its (service, key) lock."""
    invocation_id, service, key = str(row["id"]), row["service"], row["key"]
    if row["exclusive"] and key is not None:
        holder = await op.scalar("acquire_key", {"service": service, "key": key, "id": invocation_id})
        if holder != invocation_id:
            seq = await op.scalar("next_inbox_seq", {"service": service, "key": key})
            await op.tx.run("set_pending", {"id": invocation_id, "inbox_seq": seq, "now": now})
            return Effects()
    return Effects(claims=[await claim(op, invocation_id, now)])


async def release_key(op: Op, service: str, key: str, invocation_id: str, now: int) -> Effects:
    """Hand the key lock held by `invocation_id` to the next queued invocation of the key (claimed
    at once), or free it. Locking the lock row first makes a concurrent create of the same key
    queue behind the new holder, or see the lock free: never strands a queued invocation."""
    holder = await op.scalar("lock_key", {"service": service, "key": key})
    if holder != invocation_id:
        return Effects()
    nxt = await _next_pending(op, service, key)
    if nxt is None:
        await op.tx.run("free_key", {"service": service, "key": key, "id": invocation_id})
        return Effects()
    await op.tx.run("pass_key", {"service": service, "key": key, "id": nxt})
    if await lock(op, nxt) is None:  # lock order: the next holder's row before its claim
        return Effects()
    return Effects(claims=[await claim(op, nxt, now)])


async def _next_pending(op: Op, service: str, key: str) -> str | None:
    value = await op.scalar("next_pending", {"service": service, "key": key})
    return None if value is None else str(value)


def deliver(op: Op, row: Row, idx: int, outcome: Outcome) -> Effects:
    """An entry of a running invocation completed: to its attempt, here or on its node."""
    invocation_id, owner = str(row["id"]), row["owner"]
    if owner is None or owner == op.tx.node:
        return Effects(deliveries=[Delivery(invocation_id, idx, outcome)])
    op.tx.send(str(owner), notices.deliver(invocation_id, idx, outcome))
    return Effects()


async def wake(
    op: Op, invocation_id: str, idx: int, outcome: Outcome, now: int, row: Row | None = None
) -> Effects:
    """Complete entry `idx` of an invocation from outside (unless already complete): claim the
    invocation if it is suspended on it, hand it over if running; else it replays it later.
    `row`: the invocation's row, if the caller holds its lock already."""
    if row is None:
        row = await lock(op, invocation_id)
    if row is None:
        return Effects()
    if row["protocol_version"] is not None:
        if not await record_remote(op, row, idx, outcome, now):
            return Effects()
    else:
        params = {"id": invocation_id, "idx": idx, "now": now, **outcome_params(outcome)}
        if await op.tx.run("complete_entry", params) == 0:
            return Effects()  # missing or already complete
    status = row["status"]
    if status == Status.SUSPENDED:
        waiting_on = json.loads(row["waiting_on"]) if row["waiting_on"] else []
        if waiting_on and idx not in waiting_on:
            return Effects()  # not what it waits for: it sees the outcome when it replays
        return Effects(claims=[await claim(op, invocation_id, now)])
    if status == Status.RUNNING:
        return deliver(op, row, idx, outcome)
    return Effects()


async def has_notification(op: Op, invocation_id: str, slot: int) -> bool:
    signal = slot_signal(slot)
    where = {"id": invocation_id, "completion_id": None if signal is not None else slot, "signal_id": signal}
    return await op.tx.one("get_notification", where) is not None


async def append_entries(op: Op, invocation_id: str, entries: Sequence[Entry], now: int) -> None:
    """Append to a remote invocation's journal, a log: the store numbers the rows in the order
    they are written (the caller holds the invocation's lock, so the order is the commit order)."""
    base = int(await op.scalar("journal_length", {"id": invocation_id}))
    rows = [entry_params(invocation_id, e, now, base + i) for i, e in enumerate(entries)]
    await op.tx.run_many("upsert_entry", rows)


async def record_remote(op: Op, row: Row, slot: int, outcome: Outcome, now: int) -> bool:
    """A completion for a remote invocation (the caller holds its lock): appended to its journal
    as a notification, once per slot; False if it has one already or has ended."""
    invocation_id = str(row["id"])
    if row["status"] == Status.COMPLETED or await has_notification(op, invocation_id, slot):
        return False
    signal = slot_signal(slot)
    data: dict[str, Any] = {"s": signal} if signal is not None else {"c": slot}
    await append_entries(op, invocation_id, [Entry(0, EntryKind.NOTIFICATION, "", data, None, outcome)], now)
    return True


async def add_waiter(op: Op, target: str, caller_id: str, caller_index: int) -> None:
    """`caller_id`'s entry `caller_index` gets `target`'s outcome when it completes (the caller
    holds the target's row lock, so a completion cannot slip between)."""
    await op.tx.run("add_waiter", {"id": target, "caller_id": caller_id, "caller_index": caller_index})
    await op.tx.run("flag_waiters", {"id": target})


async def _attach_caller(op: Op, row: Row, caller: EntryRef | None, now: int) -> Effects:
    """A second caller of an existing invocation gets its outcome, now or when it completes."""
    if caller is None:
        return Effects()
    if row["caller_id"] == caller.invocation_id and row["caller_index"] == caller.index:
        return Effects()
    if row["status"] == Status.COMPLETED:
        outcome = invocation_outcome(row)
        assert outcome is not None
        return await wake(op, caller.invocation_id, caller.index, outcome, now)
    await add_waiter(op, str(row["id"]), caller.invocation_id, caller.index)
    return Effects()


def _params(op: Op, new: NewInvocation) -> dict[str, Any]:
    caller = new.caller
    return {
        "id": new.id,
        "service": new.service,
        "handler": new.handler,
        "key": new.key,
        "exclusive": new.exclusive,
        "input": new.input,
        "headers": dump_json(new.headers),
        "idempotency_key": new.idempotency_key,
        "now": new.now_ms,
        "caller_id": None if caller is None else caller.invocation_id,
        "caller_index": None if caller is None else caller.index,
        "retention_ms": new.retention_ms,
        "workflow_main": new.workflow_main,
        "deployment_id": new.deployment_id,
        "protocol_version": new.protocol_version,
        "protocol_id": new.protocol_id,
        # Who hears of its completion: callers of this node may wait on it in memory (one that
        # another invocation calls is woken through its journal instead).
        "origin": op.tx.node if caller is None else None,
    }


async def _create_running(op: Op, new: NewInvocation) -> CreateResult | None:
    """Insert an invocation that can run now, claimed at epoch 1, without reading it back.
    None if the id exists already (the caller then takes the general path)."""
    lease = _lease(op, new.now_ms)
    if await op.tx.run("insert_running_invocation", {**_params(op, new), **lease}) == 0:
        return None
    record = InvocationRecord(
        id=new.id,
        service=new.service,
        handler=new.handler,
        key=new.key,
        status=Status.RUNNING,
        input=new.input,
        headers=dict(new.headers),
        created_at_ms=new.now_ms,
        modified_at_ms=new.now_ms,
        epoch=1,
        attempts=0,
        idempotency_key=new.idempotency_key,
        caller=new.caller,
        node=op.tx.node,
        lease_until_ms=lease["lease_until"],
        deployment_id=new.deployment_id,
        protocol_version=new.protocol_version,
        protocol_id=new.protocol_id,
        origin_node=op.tx.node if new.caller is None else None,
    )
    if new.key is None:
        return CreateResult(record, True, Effects(claims=[Claim(record, [])]))
    values, lazy = await eager_state(op, new.service, new.key)
    return CreateResult(record, True, Effects(claims=[Claim(record, [], values, lazy)]))


async def create(op: Op, new: NewInvocation) -> CreateResult:
    """Insert an invocation unless one with its id exists (then attach `new.caller` to it)."""
    delayed = new.run_at_ms is not None and new.run_at_ms > new.now_ms
    if not delayed and not (new.exclusive and new.key is not None):
        fast = await _create_running(op, new)
        if fast is not None:
            return fast
    status = Status.SCHEDULED if delayed else Status.READY
    params = {**_params(op, new), "status": status.value, "run_at": new.run_at_ms}
    if await op.tx.run("create_invocation", params) == 0:
        existing = await lock(op, new.id)
        assert existing is not None, f"invocation {new.id} conflicts but cannot be read"
        effects = await _attach_caller(op, existing, new.caller, new.now_ms)
        return CreateResult(record_from_row(existing), False, effects)
    row = await lock(op, new.id)
    assert row is not None
    if delayed:
        assert new.run_at_ms is not None
        await timer(op, new.id, INVOCATION_TIMER, TimerKind.START, new.run_at_ms)
        return CreateResult(record_from_row(row), True, Effects())
    effects = await start(op, row, new.now_ms)
    if effects.claims:
        return CreateResult(effects.claims[0].record, True, effects)
    pending = await lock(op, new.id)
    assert pending is not None
    return CreateResult(record_from_row(pending), True, effects)


async def complete(
    op: Op,
    row: Row,
    outcome: Outcome,
    now: int,
    open_timers: bool = True,
    open_awakeables: bool = True,
    stored: bool = False,
) -> Effects:
    """End an invocation (the caller holds its row lock): store the outcome (unless `stored`:
    the caller did, see commit's fast path), drop its timers and close its awakeables (unless the
    hints say it has none), pass its key lock on, complete its callers' entries (waking them), and
    schedule its purge at the end of its retention."""
    invocation_id = str(row["id"])
    purge_at = now + int(row["retention_ms"])
    if not stored:
        params = {"id": invocation_id, "now": now, "purge_at": purge_at, **outcome_params(outcome)}
        await op.tx.run("complete_invocation", params)
    if open_timers:
        await op.tx.run("delete_invocation_timers", {"id": invocation_id})
    op.timer_created(purge_at)
    if open_awakeables:
        await op.tx.run("close_awakeables", {"id": invocation_id})
    _tell_waiting_nodes(op, row, invocation_id)
    effects = Effects(completed=[(invocation_id, outcome)])
    service, key = row["service"], row["key"]
    if key is not None and row["exclusive"]:
        effects = effects.merge(await release_key(op, service, key, invocation_id, now))
    callers: list[tuple[str, int]] = []
    if row["caller_id"] is not None:
        callers.append((str(row["caller_id"]), int(row["caller_index"])))
    if row["has_waiters"]:
        taken = await op.tx.all("take_waiters", {"id": invocation_id})
        callers.extend((str(r[0]), int(r[1])) for r in taken)
    for caller_id, caller_index in callers:
        effects = effects.merge(await wake(op, caller_id, caller_index, outcome, now))
    return effects


def _tell_waiting_nodes(op: Op, row: Row, invocation_id: str) -> None:
    """Callers wait in memory on the node that created the invocation (answered here, through
    the effects, if it is this one), and on any node that attached to it (then it is `watched`)."""
    if row["watched"]:
        op.tx.announce(invocation_id)  # every node
        return
    origin = row["origin_node"]
    if origin is not None and origin != op.tx.node:
        op.tx.send(str(origin), notices.completed(invocation_id))


async def watch(op: Op, invocation_id: str) -> Outcome | None:
    """Mark the invocation as waited on by another node than its creator (its completion is
    then announced to every node); its outcome if it has completed already. NotFound if there is
    no such invocation."""
    if await op.tx.run("watch_invocation", {"id": invocation_id}):
        return None
    rows = await op.tx.all("get_outcomes", {"ids": [invocation_id]})
    if not rows:
        raise NotFound(f"invocation '{invocation_id}' not found")
    return invocation_outcome(rows[0])


async def purge(op: Op, invocation_id: str) -> None:
    """Delete a completed invocation and everything of it (its named signals too, if it has
    any); a workflow run takes its key's state and promises along (its retention is the
    workflow's)."""
    info = await op.tx.one("get_purge_info", {"id": invocation_id})
    if info is not None and info["workflow_main"] and info["key"] is not None:
        where = {"service": info["service"], "key": info["key"]}
        for query in ("clear_all_state", "delete_key_promises", "delete_key_promise_waiters"):
            await op.tx.run(query, where)
    if info is not None and info["has_signals"]:
        await op.tx.run("delete_signals", {"id": invocation_id})
    for query in ("delete_journal", "delete_awakeables", "delete_invocation_timers", "delete_waiters"):
        await op.tx.run(query, {"id": invocation_id})
    await op.tx.run("delete_invocation", {"id": invocation_id})
