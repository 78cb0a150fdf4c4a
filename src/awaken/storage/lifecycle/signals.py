"""Named signals: a queue per (invocation, signal name), in order of arrival.

The k-th signal of a name sent to an invocation goes to the k-th SIGNAL entry of that name the
invocation journals (its `ordinal`, counted by the SDK, so that a replay asks for the same one).
One `signals` row per (invocation, name, ordinal) pairs the two, whichever comes first: the
signal (`arrived`, with its outcome) or the entry waiting for it (`idx`). Both sides hold the
receiving invocation's row lock, so they cannot pass each other; the side that comes second
completes the entry (`invocations.wake`: the suspended invocation is claimed, a running one gets
a delivery, here or on its node).
"""

from __future__ import annotations

from awaken.core.journal import Outcome
from awaken.storage.lifecycle import invocations
from awaken.storage.lifecycle.op import Op, Row
from awaken.storage.lifecycle.rows import outcome_params, promise_outcome
from awaken.storage.protocol import Effects, SignalOp, Status


async def await_signal(op: Op, row: Row, signal: SignalOp) -> Outcome | None:
    """A new SIGNAL entry of the locked invocation `row`: the signal's outcome if it has arrived,
    else None (the entry is completed when it arrives)."""
    params = {"id": str(row["id"]), "name": signal.name, "ordinal": signal.ordinal, "idx": signal.index}
    await _flag(op, row)
    found = await op.tx.one("await_signal", params)
    if found is None or not found["arrived"]:
        return None
    return promise_outcome(found)


async def send_signal(op: Op, signal: SignalOp, now: int) -> Effects:
    """Queue signal `name` for invocation `target`, completing the entry that waits for it if
    there is one. Dropped if the target does not exist, has completed, or is served elsewhere
    (the service protocol versions awaken speaks cannot deliver named signals)."""
    assert signal.outcome is not None
    target = await invocations.lock(op, signal.target)
    if target is None or target["status"] == Status.COMPLETED or target["protocol_version"] is not None:
        return Effects()
    await _flag(op, target)
    params = {"id": signal.target, "name": signal.name, **outcome_params(signal.outcome)}
    found = await op.tx.one("send_signal", params)
    if found is None or found["idx"] is None:
        return Effects()  # nobody waits for it yet: it waits in the queue
    return await invocations.wake(op, signal.target, int(found["idx"]), signal.outcome, now, target)


async def _flag(op: Op, row: Row) -> None:
    """Mark the invocation as having signal rows, for its purge (others skip that delete)."""
    if not row["has_signals"]:
        await op.tx.run("flag_signals", {"id": str(row["id"])})
