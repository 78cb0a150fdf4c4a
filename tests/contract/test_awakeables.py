"""Contract tests of the SQLite store: awakeables (creation, completion matrix, deadlines)."""

from __future__ import annotations

import pytest

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import BadRequest, Conflict, Gone, NotFound
from awaken.storage.lifecycle.store import LifecycleStore
from awaken.storage.protocol import (
    AwakeableCompletionRequest,
    AwakeableStatus,
    Complete,
    CompletionStatus,
    PayloadValidator,
    Status,
)
from tests.contract.support import (
    RETENTION,
    T0,
    accept_all,
    started,
    step,
    with_awakeable,
)


async def test_complete_closes_awakeables_and_deletes_timers(store: LifecycleStore) -> None:
    claim = await with_awakeable(store, deadline=T0 + 100, suspend=False)
    await store.commit(step(claim, entries=[Entry(1, EntryKind.SLEEP)], sleeps=[(1, T0 + 50)]))
    assert await store.next_timer_ms() == T0 + 50
    await store.commit(step(claim, T0 + 1, transition=Complete(Outcome(b"1"))))
    assert await store.next_timer_ms() == T0 + 1 + RETENTION  # only PURGE is left
    assert await store.list_awakeables() == []
    with pytest.raises(Gone):
        await store.complete_awakeable("sign_1aw", Outcome(b"1"), T0 + 2, accept_all)


# -- awakeables --------------------------------------------------------------------------------
async def test_awakeable_is_listed_while_pending(store: LifecycleStore) -> None:
    schema = {"type": "object", "required": ["ok"]}
    await with_awakeable(store, "i1", "sign_1a", schema=schema, deadline=T0 + 10)
    await with_awakeable(store, "i2", "sign_1b")
    infos = await store.list_awakeables()
    assert [i.id for i in infos] == ["sign_1a", "sign_1b"]
    assert infos[0].schema == schema and infos[0].deadline_ms == T0 + 10
    assert infos[0].status == AwakeableStatus.PENDING and infos[0].invocation_id == "i1"
    assert infos[0].index == 0 and infos[0].service == "Greeter" and infos[0].handler == "greet"
    assert infos[1].schema is None
    assert len(await store.list_awakeables(limit=1)) == 1


async def test_awakeable_accepted_wakes_the_suspended_invocation(store: LifecycleStore) -> None:
    await with_awakeable(store)
    done = await store.complete_awakeable("sign_1aw", Outcome(b'{"a": 1, "b": [1, 2]}'), T0 + 1, accept_all)
    assert done.status == CompletionStatus.ACCEPTED
    [woken] = done.effects.claims
    assert woken.record.id == "inv-aw" and woken.record.epoch == 2
    assert woken.journal[0].outcome == Outcome(b'{"a": 1, "b": [1, 2]}')
    assert await store.list_awakeables() == []

    # The same JSON, however spelled, is PreviouslyAccepted and changes nothing.
    again = await store.complete_awakeable("sign_1aw", Outcome(b'{ "b":[1,2],"a":1 }'), T0 + 2, accept_all)
    assert again.status == CompletionStatus.PREVIOUSLY_ACCEPTED
    assert again.effects.claims == [] and again.effects.deliveries == []
    assert (await store.get_invocation("inv-aw")).epoch == 2  # type: ignore[union-attr]

    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome(b'{"a": 2, "b": [1, 2]}'), T0 + 3, accept_all)
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome(b'{"a": 1, "b": [2, 1]}'), T0 + 3, accept_all)
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome.fail(500, "no"), T0 + 3, accept_all)
    assert (await store.get_journal("inv-aw"))[0].outcome == Outcome(b'{"a": 1, "b": [1, 2]}')


async def test_awakeable_rejection_matrix(store: LifecycleStore) -> None:
    await with_awakeable(store, suspend=False)
    done = await store.complete_awakeable("sign_1aw", Outcome.fail(400, "declined"), T0, accept_all)
    assert done.status == CompletionStatus.ACCEPTED
    assert done.effects.deliveries[0].outcome == Outcome.fail(400, "declined")  # it was running
    again = await store.complete_awakeable("sign_1aw", Outcome.fail(400, "declined"), T0, accept_all)
    assert again.status == CompletionStatus.PREVIOUSLY_ACCEPTED
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome.fail(400, "other reason"), T0, accept_all)
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome(b"null"), T0, accept_all)


async def test_awakeable_non_json_payloads_compare_bytes(store: LifecycleStore) -> None:
    await with_awakeable(store)
    await store.complete_awakeable("sign_1aw", Outcome(b"not json"), T0, accept_all)
    same = await store.complete_awakeable("sign_1aw", Outcome(b"not json"), T0, accept_all)
    assert same.status == CompletionStatus.PREVIOUSLY_ACCEPTED
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome(b"not  json"), T0, accept_all)


async def test_awakeable_json_types_are_not_coerced(store: LifecycleStore) -> None:
    await with_awakeable(store)
    await store.complete_awakeable("sign_1aw", Outcome(b"1"), T0, accept_all)
    assert (await store.complete_awakeable("sign_1aw", Outcome(b"1.0"), T0, accept_all)).status == (
        CompletionStatus.PREVIOUSLY_ACCEPTED
    )
    with pytest.raises(Conflict):
        await store.complete_awakeable("sign_1aw", Outcome(b"true"), T0, accept_all)


async def test_unknown_awakeable_is_not_found(store: LifecycleStore) -> None:
    with pytest.raises(NotFound):
        await store.complete_awakeable("sign_1missing", Outcome(b"1"), T0, accept_all)


async def test_awakeable_payload_is_checked_against_its_schema(
    store: LifecycleStore, validate: PayloadValidator
) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    await with_awakeable(store, schema=schema)
    with pytest.raises(BadRequest) as info:
        await store.complete_awakeable("sign_1aw", Outcome(b'{"ok": "yes"}'), T0, validate)
    assert info.value.details
    # Nothing was recorded.
    assert (await store.get_journal("inv-aw"))[0].outcome is None
    assert [i.id for i in await store.list_awakeables()] == ["sign_1aw"]
    assert (await store.get_invocation("inv-aw")).status == Status.SUSPENDED  # type: ignore[union-attr]
    # Failures are not checked against the schema; valid payloads are accepted.
    done = await store.complete_awakeable("sign_1aw", Outcome(b'{"ok": true}'), T0, validate)
    assert done.status == CompletionStatus.ACCEPTED


async def test_awakeable_deadline_expires_it(store: LifecycleStore) -> None:
    await with_awakeable(store, deadline=T0 + 100)
    assert await store.next_timer_ms() == T0 + 100
    fired = await store.fire_due_timers(T0 + 100, 10)
    [woken] = fired.claims
    outcome = woken.journal[0].outcome
    assert outcome is not None and outcome.failure is not None and outcome.failure.code == 408
    assert await store.list_awakeables() == []
    with pytest.raises(Gone):
        await store.complete_awakeable("sign_1aw", Outcome(b"1"), T0 + 101, accept_all)


async def test_awakeable_past_its_deadline_is_gone_before_the_timer_fires(store: LifecycleStore) -> None:
    await with_awakeable(store, deadline=T0 + 100)
    with pytest.raises(Gone):
        await store.complete_awakeable("sign_1aw", Outcome(b"1"), T0 + 100, accept_all)
    fired = await store.fire_due_timers(T0 + 150, 10)
    assert fired.claims[0].journal[0].outcome == Outcome.fail(408, "awakeable sign_1aw timed out")


async def test_awakeable_completed_before_its_deadline_ignores_the_timer(store: LifecycleStore) -> None:
    await with_awakeable(store, deadline=T0 + 100)
    await store.complete_awakeable("sign_1aw", Outcome(b"1"), T0 + 99, accept_all)
    assert await store.next_timer_ms() is None  # the DEADLINE timer went with the completion
    fired = await store.fire_due_timers(T0 + 1000, 10)
    assert fired.claims == []
    assert (await store.get_journal("inv-aw"))[0].outcome == Outcome(b"1")


async def test_commit_completes_awakeables_and_records_each_result(store: LifecycleStore) -> None:
    await with_awakeable(store, "target", "sign_1t")
    await with_awakeable(store, "late", "sign_1late", deadline=T0 + 1)
    completer = await started(store, "completer")
    requests = [
        AwakeableCompletionRequest(0, "sign_1t", Outcome(b'"yes"')),
        AwakeableCompletionRequest(1, "sign_1t", Outcome(b'"yes"')),
        AwakeableCompletionRequest(2, "sign_1t", Outcome(b'"no"')),
        AwakeableCompletionRequest(3, "sign_1missing", Outcome(b"1")),
        AwakeableCompletionRequest(4, "sign_1late", Outcome(b"1")),
    ]
    entries = [Entry(r.index, EntryKind.COMPLETE_AWAKEABLE, data={"id": r.awakeable_id}) for r in requests]
    result = await store.commit(step(completer, T0 + 5, entries=entries, awakeable_completions=requests))
    codes = {i: (o.failure.code if o.failure else 0) for i, o in result.entry_outcomes.items()}
    assert codes == {0: 0, 1: 0, 2: 409, 3: 404, 4: 410}
    journal = await store.get_journal("completer")
    assert {e.index: e.outcome for e in journal} == result.entry_outcomes
    [woken] = result.effects.claims
    assert woken.record.id == "target" and woken.journal[0].outcome == Outcome(b'"yes"')
