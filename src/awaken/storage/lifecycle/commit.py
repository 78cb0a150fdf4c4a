"""One step of a running attempt (`Progress`), applied atomically and fenced by its epoch."""

from __future__ import annotations

from awaken.core.journal import EntryKind, Outcome
from awaken.errors import BadRequest, Conflict, Fenced, NotFound
from awaken.storage.lifecycle import awakeables, control, invocations, signals
from awaken.storage.lifecycle.op import Op, Row
from awaken.storage.lifecycle.rows import (
    dump_json,
    entry_params,
    invocation_outcome,
    outcome_params,
    promise_outcome,
)
from awaken.storage.protocol import (
    Claim,
    Complete,
    Effects,
    Pause,
    Progress,
    ProgressResult,
    PromiseOp,
    Retry,
    Status,
    Suspend,
    TimerKind,
)


async def fence(op: Op, p: Progress) -> Row:
    """Lock the invocation if this attempt still owns it (its epoch, running), and touch it (its
    modification time is the step's); else Fenced."""
    row = await op.tx.one("fence", {"id": p.invocation_id, "epoch": p.epoch, "now": p.now_ms})
    if row is not None:
        return row
    current = await op.tx.one("get_fence_info", {"id": p.invocation_id})
    if current is None:
        raise Fenced(f"invocation {p.invocation_id} does not exist (epoch {p.epoch} is stale)")
    raise Fenced(
        f"stale write to invocation {p.invocation_id}: epoch {p.epoch}, but the invocation is "
        f"{current['status']} at epoch {current['epoch']}"
    )


def _only_completes(p: Progress) -> bool:
    """A step that writes entries and ends the invocation, nothing else (most last steps)."""
    return (
        isinstance(p.transition, Complete)
        and not (
            p.state or p.awakeables or p.sleeps or p.children or p.attaches or p.cancels
            or p.promises or p.signals or p.awakeable_completions or p.captures
        )
        and not any(e.kind is EntryKind.CANCEL_SIGNAL for e in p.entries)
    )  # fmt: skip


async def _commit_completion(op: Op, p: Progress) -> ProgressResult:
    """The fast path of `commit`: fence and completion in one statement, then the entries (in
    the same statement where the dialect can, for the usual one new entry of a local handler)."""
    transition = p.transition
    assert isinstance(transition, Complete)
    params = {"id": p.invocation_id, "epoch": p.epoch, "now": p.now_ms, **outcome_params(transition.outcome)}
    with_entry = len(p.entries) == 1 and op.tx.has("complete_fenced_with_entry")
    if with_entry:
        entry = entry_params(p.invocation_id, p.entries[0], p.now_ms)
        params.update({f"entry_{k}": v for k, v in entry.items() if k not in ("id", "now")})
        row = await op.tx.one("complete_fenced_with_entry", params)
    else:
        row = await op.tx.one("complete_fenced", params)
    if row is None:
        await fence(op, p)  # raises Fenced, saying why
    assert row is not None
    if not with_entry or row["protocol_version"] is not None:
        await _write_entries(op, row, p)
    effects = await invocations.complete(
        op, row, transition.outcome, p.now_ms, transition.open_timers, transition.open_awakeables, stored=True
    )
    return ProgressResult(op.finish(effects), {})


async def commit(op: Op, p: Progress) -> ProgressResult:
    if _only_completes(p):
        return await _commit_completion(op, p)
    row = await fence(op, p)
    inv, service, key, now = p.invocation_id, row["service"], row["key"], p.now_ms
    remote = row["protocol_version"] is not None
    tx = op.tx
    await _write_entries(op, row, p)
    if p.state and key is None:
        raise BadRequest(f"invocation {inv} has no key: it has no state")
    where = {"service": service, "key": key}
    for idx, name in p.captures:  # before the state ops overwrite what they read
        await tx.run("capture_state_read", {"id": inv, "idx": idx, **where, "name": name})
    for state_op in p.state:
        if state_op.name is None:
            await tx.run("clear_all_state", where)
        elif state_op.value is None:
            await tx.run("clear_state", {**where, "name": state_op.name})
        else:
            await tx.run("set_state", {**where, "name": state_op.name, "value": state_op.value})
    for aw in p.awakeables:
        params = {
            "id": aw.id,
            "invocation_id": inv,
            "idx": aw.index,
            "service": service,
            "handler": row["handler"],
            "key": key,
            "now": now,
            "deadline": aw.deadline_ms,
            "schema_json": None if aw.schema is None else dump_json(aw.schema),
        }
        if not remote:
            await tx.run("create_awakeable", params)
        elif not await invocations.has_notification(op, inv, aw.index):
            await tx.run("note_awakeable", params)  # one a suspension waits on, listed as pending
        if aw.deadline_ms is not None:
            await invocations.timer(op, inv, aw.index, TimerKind.DEADLINE, aw.deadline_ms)
    for idx, wake_at in p.sleeps:
        await invocations.timer(op, inv, idx, TimerKind.SLEEP, wake_at)
    effects = Effects()
    for child in p.children:
        effects = effects.merge((await invocations.create(op, child)).effects)
    entry_outcomes: dict[int, Outcome] = {}
    for idx, target in p.attaches:
        attached = await _attach(op, inv, idx, target)
        if attached is not None:
            await _set_outcome(op, row, idx, attached, now)
            entry_outcomes[idx] = attached
    # A flagged invocation whose handler raised the cancellation (a new CANCEL_SIGNAL entry):
    # it is delivered, and the calls it waits on follow. Unflagged ones (nearly all) skip this.
    cancel_pending = bool(row["cancel_requested"])
    signalled = cancel_pending and any(e.kind is EntryKind.CANCEL_SIGNAL for e in p.entries)
    if signalled:
        await tx.run("clear_cancel", {"id": inv})
        effects = effects.merge(await control.cancel_children(op, inv, False, now, {inv}))
    for target in p.cancels:
        try:
            effects = effects.merge((await control.request_cancel(op, target, False, now, {inv}))[1])
        except (NotFound, Conflict):
            pass  # unknown or already completed: nothing to cancel (as Restate)
    for promise in p.promises:
        promised, woken = await _promise(op, inv, service, key, promise, now)
        effects = effects.merge(woken)
        if promised is not None:
            await _set_outcome(op, row, promise.index, promised, now)
            entry_outcomes[promise.index] = promised
    for signal in p.signals:
        if signal.action == "send":
            effects = effects.merge(await signals.send_signal(op, signal, now))
            continue
        received = await signals.await_signal(op, row, signal)
        if received is not None:
            await _set_outcome(op, row, signal.index, received, now)
            entry_outcomes[signal.index] = received
    for req in p.awakeable_completions:
        result = await awakeables.complete_from_handler(op, req.awakeable_id, req.outcome, now)
        effects = effects.merge(result[1])
        if not remote:  # (Restate's CompleteAwakeable command has no result to deliver)
            await _set_outcome(op, row, req.index, result[0], now)
            entry_outcomes[req.index] = result[0]
    resumed: Claim | None = None
    transition = p.transition
    if isinstance(transition, Complete):
        ended = await invocations.complete(
            op, row, transition.outcome, now, transition.open_timers, transition.open_awakeables
        )
        effects = effects.merge(ended)
    elif isinstance(transition, Suspend):
        # A completion that arrived while the attempt was ending, or a cancellation still to be
        # raised: run again at once instead of sleeping on it.
        if (cancel_pending and not signalled) or await _any_completed(op, row, transition.waiting_on):
            resumed = await invocations.claim(op, inv, now)
        else:
            waiting = dump_json(sorted(set(transition.waiting_on)))
            await tx.run("suspend_invocation", {"id": inv, "waiting_on": waiting, "now": now})
    elif isinstance(transition, Retry):
        params = {"id": inv, "failure": transition.failure, "run_at": transition.run_at_ms, "now": now}
        await tx.run("back_off_invocation", params)
        await invocations.timer(op, inv, invocations.INVOCATION_TIMER, TimerKind.RETRY, transition.run_at_ms)
    elif isinstance(transition, Pause):
        await tx.run("pause_invocation", {"id": inv, "failure": transition.failure, "now": now})
    # (no transition: the fence touched the invocation)
    return ProgressResult(op.finish(effects), entry_outcomes, resumed)


async def _write_entries(op: Op, row: Row, p: Progress) -> None:
    if not p.entries:
        return
    if row["protocol_version"] is not None:
        await invocations.append_entries(op, p.invocation_id, p.entries, p.now_ms)
    else:
        await op.tx.run_many("upsert_entry", [entry_params(p.invocation_id, e, p.now_ms) for e in p.entries])


async def _set_outcome(op: Op, row: Row, idx: int, outcome: Outcome, now: int) -> None:
    """An entry's outcome known at once: set on the entry (local), or appended as the
    notification of slot `idx` (remote)."""
    if row["protocol_version"] is not None:
        await invocations.record_remote(op, row, idx, outcome, now)
        return
    params = {"id": str(row["id"]), "idx": idx, "now": now, **outcome_params(outcome)}
    await op.tx.run("complete_entry", params)


async def _any_completed(op: Op, row: Row, indices: list[int]) -> bool:
    inv = str(row["id"])
    remote = row["protocol_version"] is not None
    for idx in indices:
        if remote:
            if await invocations.has_notification(op, inv, idx):
                return True
        elif await op.tx.one("get_completed_entry", {"id": inv, "idx": idx}) is not None:
            return True
    return False


async def _attach(op: Op, inv: str, idx: int, target: str) -> Outcome | None:
    """An ATTACH entry: the target's outcome now if it has one (404 if there is no target), else
    None and the entry is completed when the target completes."""
    target_row = await invocations.lock(op, target)
    if target_row is None:
        return Outcome.fail(404, f"invocation '{target}' not found")
    if target_row["status"] == Status.COMPLETED:
        return invocation_outcome(target_row)
    await invocations.add_waiter(op, target, inv, idx)
    return None


async def _promise(
    op: Op, inv: str, service: str, key: str | None, promise: PromiseOp, now: int
) -> tuple[Outcome | None, Effects]:
    """Apply a promise entry; its outcome if known now (see PromiseOp), and what it woke."""
    if key is None:
        return Outcome.fail(400, "promises are only available in workflows"), Effects()
    where = {"service": service, "key": key, "name": promise.name}
    await op.tx.one("lock_promise", where)  # a get and a complete of one promise take turns
    if promise.action == "complete":
        assert promise.outcome is not None
        params = {**where, **outcome_params(promise.outcome), "now": now}
        if await op.tx.run("complete_promise", params) == 0:
            return Outcome.fail(409, "promise was already completed"), Effects()
        effects = Effects()
        for waiter in await op.tx.all("take_promise_waiters", where):
            woken = await invocations.wake(op, str(waiter[0]), int(waiter[1]), promise.outcome, now)
            effects = effects.merge(woken)
        return Outcome(), effects
    stored_row = await op.tx.one("get_promise", where)
    stored = None if stored_row is None else promise_outcome(stored_row)
    if promise.action == "peek":
        return (stored if stored is not None else Outcome()), Effects()
    if stored is None:
        await op.tx.run("add_promise_waiter", {**where, "id": inv, "idx": promise.index})
    return stored, Effects()


__all__ = ["commit", "fence"]
