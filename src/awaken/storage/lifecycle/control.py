"""Operations asked for from outside an attempt (admin API, other handlers): cancel and kill,
pause and resume, purge, state replacement; and the ownership of attempts (re-claims, orphans,
leases)."""

from __future__ import annotations

from awaken.core.journal import Outcome, signal_slot
from awaken.errors import Conflict, NotFound
from awaken.storage.lifecycle import invocations, notices
from awaken.storage.lifecycle.op import Op
from awaken.storage.protocol import CancelResult, Claim, Effects, Status, TimerKind

_ADMIN_HOLDER = ""  # holds a key lock for the length of an admin state edit
CANCEL_SIGNAL = 1  # the protocol's built-in signal index that cancels an invocation


async def replace_state(op: Op, service: str, key: str, state: dict[str, bytes]) -> None:
    """Replace a key's whole state, unless an exclusive invocation holds the key: its handler
    works on the state it read. The key lock is held for the edit, so no handler can start on
    the key between the check and the write."""
    where = {"service": service, "key": key}
    holder = await op.scalar("acquire_key", {**where, "id": _ADMIN_HOLDER})
    if holder != _ADMIN_HOLDER:
        raise Conflict(f"{service}/{key} is locked by invocation {holder}; edit its state when it is free")
    await op.tx.run("clear_all_state", where)
    for name, value in state.items():
        await op.tx.run("set_state", {**where, "name": name, "value": value})
    await op.tx.run("free_key", {**where, "id": _ADMIN_HOLDER})


async def cancel(op: Op, invocation_id: str, kill: bool, now: int) -> CancelResult:
    done, effects = await request_cancel(op, invocation_id, kill, now, set())
    return CancelResult(done, op.finish(effects))


async def request_cancel(
    op: Op, invocation_id: str, kill: bool, now: int, seen: set[str]
) -> tuple[bool, Effects]:
    """Cancel (or kill) one invocation, and what it waits on; (ended now, effects)."""
    seen.add(invocation_id)
    row = await invocations.lock(op, invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    status = row["status"]
    if status == Status.COMPLETED:
        raise Conflict(f"invocation '{invocation_id}' has already completed")
    if kill or status not in (Status.RUNNING, Status.SUSPENDED):
        effects = await cancel_children(op, invocation_id, True, now, seen) if kill else Effects()
        outcome = Outcome.fail(409, "killed" if kill else "canceled")
        return True, effects.merge(await invocations.complete(op, row, outcome, now))
    if row["protocol_version"] is not None:
        # Served elsewhere: the SDK raises what the protocol's CANCEL signal asks (and cancels
        # the calls it waits on itself); the signal is stored, and delivered, or the invocation
        # woken for it whatever its suspension waits on.
        slot = signal_slot(CANCEL_SIGNAL)
        if not await invocations.record_remote(op, row, slot, Outcome(), now):
            return False, Effects()  # signalled already
        if status == Status.SUSPENDED:
            return False, Effects(claims=[await invocations.claim(op, invocation_id, now)])
        return False, invocations.deliver(op, row, slot, Outcome())
    await op.tx.run("request_cancel", {"id": invocation_id, "now": now})
    if status == Status.SUSPENDED:
        return False, Effects(claims=[await invocations.claim(op, invocation_id, now)])
    owner = row["owner"]
    if owner is not None and owner != op.tx.node:
        op.tx.send(str(owner), notices.cancel(invocation_id))
        return False, Effects()
    return False, Effects(cancels=[invocation_id])


async def cancel_children(op: Op, invocation_id: str, kill: bool, now: int, seen: set[str]) -> Effects:
    """Cancel (or kill) the invocations that `invocation_id` called and still waits on."""
    effects = Effects()
    for child_row in await op.tx.all("pending_children", {"id": invocation_id}):
        child = child_row[0]
        if child is None or child in seen:
            continue
        try:
            effects = effects.merge((await request_cancel(op, str(child), kill, now, seen))[1])
        except (NotFound, Conflict):
            pass  # gone, or completed meanwhile
    return effects


async def purge(op: Op, invocation_id: str) -> None:
    row = await invocations.lock(op, invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if row["status"] != Status.COMPLETED:
        raise Conflict(f"invocation '{invocation_id}' has not completed yet")
    await invocations.purge(op, invocation_id)


async def pause(op: Op, invocation_id: str, now: int) -> None:
    """Pause by hand: a new epoch fences the attempt out; the key lock stays taken."""
    row = await invocations.lock(op, invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if await op.tx.run("pause_by_hand", {"id": invocation_id, "now": now}) == 0:
        raise Conflict(f"invocation '{invocation_id}' is {row['status']}: only a running one can be paused")
    params = {"id": invocation_id, "idx": invocations.INVOCATION_TIMER, "kind": TimerKind.RETRY.value}
    await op.tx.run("delete_timer", params)
    owner = row["owner"]
    if row["status"] == Status.RUNNING and owner is not None and owner != op.tx.node:
        op.tx.send(str(owner), notices.abort(invocation_id))


async def resume(op: Op, invocation_id: str, now: int) -> Claim:
    row = await invocations.lock(op, invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if await op.tx.run("resume_paused", {"id": invocation_id, "now": now}) == 0:
        raise Conflict(f"invocation '{invocation_id}' is {row['status']}, not paused")
    return await invocations.claim(op, invocation_id, now)


async def begin_attempt(op: Op, invocation_id: str, now: int) -> Claim | None:
    """Claim an invocation again after its attempt was abandoned (the store failed under it):
    if it is ready, or running under this node's lease or under an expired one."""
    row = await invocations.lock(op, invocation_id)
    if row is None:
        return None
    status = row["status"]
    if status == Status.RUNNING:
        owner, until = row["owner"], row["lease_until"]
        if owner is not None and owner != op.tx.node and until is not None and until >= now:
            return None  # another node runs it
    elif status != Status.READY:
        return None
    return await invocations.claim(op, invocation_id, now)


async def claim_orphans(op: Op, now: int, limit: int, everything: bool) -> list[Claim]:
    """Claim ready invocations and running ones whose lease has expired (their node died or
    stalled); with `everything`, every running one (a single-node store at start-up)."""
    params = {"now": now, "limit": limit, "everything": everything, "node": op.tx.node}
    rows = await op.tx.all("orphaned_invocations", params)
    return [await invocations.claim(op, str(row["id"]), now) for row in rows]


async def renew_leases(op: Op, invocation_ids: list[str], now: int) -> set[str]:
    """Extend this node's leases on these running invocations; the ids it still holds. A row
    that another transaction holds (this node's own commit, usually) is skipped, not waited for,
    so a renewal never takes part in a deadlock; it still counts as held if this node owns it."""
    params = {"ids": invocation_ids, "node": op.tx.node, "lease_until": now + op.tx.lease_ms}
    renewed = {str(row[0]) for row in await op.tx.all("renew_leases", params)}
    skipped = [i for i in invocation_ids if i not in renewed]
    if skipped:
        owned = await op.tx.all("owned_running", {"ids": skipped, "node": op.tx.node})
        renewed.update(str(row[0]) for row in owned)
    return renewed
