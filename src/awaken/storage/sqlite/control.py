"""Operations asked for from outside the attempt (admin API, other handlers): cancel and kill,
pause and resume, purge, state replacement. Functions of a `Tx`, kept apart from the rules of
running invocations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awaken.core.journal import Outcome
from awaken.errors import Conflict, NotFound
from awaken.storage.protocol import CancelResult, Claim, Effects, Status, TimerKind

if TYPE_CHECKING:
    from awaken.storage.sqlite.tx import Tx

INVOCATION_TIMER = -1  # the idx of retry / start / purge timers


def replace_state(tx: Tx, service: str, key: str, state: dict[str, bytes]) -> None:
    holder = tx._scalar("key_lock_holder", {"service": service, "key": key})
    if holder is not None:
        raise Conflict(f"{service}/{key} is locked by invocation {holder}; edit its state when it is free")
    tx._exec("clear_all_state", {"service": service, "key": key})
    for name, value in state.items():
        tx._exec("set_state", {"service": service, "key": key, "name": name, "value": value})


def cancel(tx: Tx, invocation_id: str, kill: bool, now: int) -> CancelResult:
    done, effects = request_cancel(tx, invocation_id, kill, now, set())
    return CancelResult(done, tx._finish(effects))


def request_cancel(tx: Tx, invocation_id: str, kill: bool, now: int, seen: set[str]) -> tuple[bool, Effects]:
    seen.add(invocation_id)
    row = tx.invocation_row(invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    status = row["status"]
    if status == Status.COMPLETED:
        raise Conflict(f"invocation '{invocation_id}' has already completed")
    if kill or status not in (Status.RUNNING, Status.SUSPENDED):
        effects = cancel_children(tx, invocation_id, True, now, seen) if kill else Effects()
        outcome = Outcome.fail(409, "killed" if kill else "canceled")
        return True, effects.merge(tx._complete_invocation(row, outcome, now))
    tx._exec("request_cancel", {"id": invocation_id, "now": now})
    if status == Status.SUSPENDED:
        return False, Effects(claims=[tx._claim(invocation_id, now)])
    return False, Effects(cancels=[invocation_id])


def cancel_children(tx: Tx, invocation_id: str, kill: bool, now: int, seen: set[str]) -> Effects:
    """Cancel (or kill) the invocations that `invocation_id` called and still waits on."""
    effects = Effects()
    for (child,) in tx._exec("pending_children", {"id": invocation_id}).fetchall():
        if child is None or child in seen:
            continue
        try:
            effects = effects.merge(request_cancel(tx, str(child), kill, now, seen)[1])
        except (NotFound, Conflict):
            pass  # gone, or completed meanwhile
    return effects


def purge(tx: Tx, invocation_id: str) -> None:
    row = tx.invocation_row(invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if row["status"] != Status.COMPLETED:
        raise Conflict(f"invocation '{invocation_id}' has not completed yet")
    tx._purge(invocation_id)


def pause(tx: Tx, invocation_id: str, now: int) -> None:
    row = tx.invocation_row(invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if tx._exec("pause_by_hand", {"id": invocation_id, "now": now}).rowcount == 0:
        raise Conflict(f"invocation '{invocation_id}' is {row['status']}: only a running one can be paused")
    params = {"id": invocation_id, "idx": INVOCATION_TIMER, "kind": TimerKind.RETRY.value}
    tx._exec("delete_timer", params)


def resume(tx: Tx, invocation_id: str, now: int) -> Claim:
    row = tx.invocation_row(invocation_id)
    if row is None:
        raise NotFound(f"invocation '{invocation_id}' not found")
    if tx._exec("resume_paused", {"id": invocation_id, "now": now}).rowcount == 0:
        raise Conflict(f"invocation '{invocation_id}' is {row['status']}, not paused")
    return tx._claim(invocation_id, now)
