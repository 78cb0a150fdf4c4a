"""Named signals across nodes on one PostgreSQL database: a signal written by one store reaches
the receiver wherever it runs, or wakes it where it sleeps."""

from __future__ import annotations

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.storage.protocol import Claim, Notice, NoticeKind, Progress, SignalOp, Status, Suspend
from tests.contract.conftest import StoreFactory
from tests.contract.postgres.test_nodes import notices_of, until
from tests.contract.support import T0, started, step

AWAIT = Entry(0, EntryKind.SIGNAL, "approve", {"ordinal": 1})


def _send(sender: Claim, target: str, outcome: Outcome) -> Progress:
    entry = Entry(0, EntryKind.SEND_SIGNAL, "approve", {"invocation_id": target}, outcome.value, Outcome())
    signal = SignalOp(0, "send", "approve", target=target, outcome=outcome)
    return step(sender, T0 + 1, entries=[entry], signals=[signal])


async def test_a_signal_from_one_node_reaches_the_attempt_running_on_another(
    open_store: StoreFactory,
) -> None:
    a, b = await open_store(), await open_store()
    got = await notices_of(a)
    receiver = await started(a, "recv")
    waiting = await a.commit(step(receiver, entries=[AWAIT], signals=[SignalOp(0, "await", "approve", 1)]))
    assert waiting.entry_outcomes == {}
    sender = await started(b, "sender")
    sent = await b.commit(_send(sender, "recv", Outcome(b'"yes"')))
    assert sent.effects.deliveries == [] and sent.effects.claims == []  # it runs on a: a hears of it
    await until(lambda: Notice(NoticeKind.DELIVER, "recv", 0, Outcome(b'"yes"')) in got)
    assert await a.get_entry_outcome("recv", 0) == Outcome(b'"yes"')
    # a suspension that comes too late resumes at once
    resumed = await a.commit(step(receiver, T0 + 2, transition=Suspend([0])))
    assert resumed.resumed is not None and resumed.resumed.journal[0].outcome == Outcome(b'"yes"')


async def test_a_signal_wakes_an_invocation_suspended_by_another_node(open_store: StoreFactory) -> None:
    a, b = await open_store(), await open_store()
    receiver = await started(a, "recv")
    await a.commit(
        step(
            receiver,
            entries=[AWAIT],
            signals=[SignalOp(0, "await", "approve", 1)],
            transition=Suspend([0]),
        )
    )
    assert (await b.get_invocation("recv")).status == Status.SUSPENDED  # type: ignore[union-attr]
    sender = await started(b, "sender")
    sent = await b.commit(_send(sender, "recv", Outcome.fail(403, "no")))
    [claim] = sent.effects.claims
    assert claim.record.id == "recv" and claim.record.node == b.node_id
    assert claim.journal[0].outcome == Outcome.fail(403, "no")
