"""The store's domain logic, run inside one write transaction (or a read) on a connection.

A `Tx` wraps a connection for one operation. Methods whose name has no leading underscore are
the operations the store exposes; the others are the shared rules (claim, wake, complete, ...).
Nothing here commits, reads a clock or touches threads: `writer.py` and `store.py` do that.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from awaken.core.journal import Entry, EntryKind, Outcome
from awaken.errors import BadRequest, Conflict, Gone, NotFound
from awaken.storage.protocol import (
    AwakeableCompletion,
    AwakeableInfo,
    AwakeableStatus,
    Claim,
    Complete,
    CompletionStatus,
    CreateResult,
    Delivery,
    Effects,
    EntryRef,
    InvocationFilter,
    InvocationRecord,
    NewInvocation,
    Pause,
    PayloadValidator,
    Progress,
    ProgressResult,
    PromiseOp,
    Retry,
    Status,
    Suspend,
    TimerKind,
    parse_page_cursor,
)
from awaken.storage.sqlite.control import INVOCATION_TIMER, cancel_children, request_cancel
from awaken.storage.sqlite.rows import (
    awakeable_from_row,
    dump_json,
    entry_from_row,
    entry_outcome,
    entry_params,
    outcome_params,
    record_from_row,
    same_outcome,
)
from awaken.storage.sqlite.sql import QUERIES


def _promise_outcome(row: sqlite3.Row) -> Outcome:
    if row["failure_code"] is not None:
        return Outcome.fail(int(row["failure_code"]), str(row["failure_message"] or ""))
    return Outcome(None if row["value"] is None else bytes(row["value"]))


def accept_any_payload(schema: dict[str, Any], payload: bytes) -> list[str]:
    """A PayloadValidator that accepts everything (the SDK validated already)."""
    return []


class Tx:
    __slots__ = ("conn", "min_timer")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.min_timer: int | None = None  # the earliest timer this operation created

    # -- plumbing ------------------------------------------------------------------------------
    def _exec(self, name: str, params: dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(QUERIES[name], params or {})

    def _one(self, name: str, params: dict[str, Any]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._exec(name, params).fetchone()
        return row

    def _scalar(self, name: str, params: dict[str, Any] | None = None) -> Any:
        row = self._exec(name, params).fetchone()
        return None if row is None else row[0]

    def _timer(self, invocation_id: str, idx: int, kind: TimerKind, fire_at: int) -> None:
        self._exec("upsert_timer", {"id": invocation_id, "idx": idx, "kind": kind.value, "fire_at": fire_at})
        if self.min_timer is None or fire_at < self.min_timer:
            self.min_timer = fire_at

    def _finish(self, effects: Effects) -> Effects:
        if effects.next_timer_ms == self.min_timer:
            return effects
        return replace(effects, next_timer_ms=self.min_timer)

    # -- reads ---------------------------------------------------------------------------------
    def invocation_row(self, invocation_id: str) -> sqlite3.Row | None:
        return self._one("get_invocation", {"id": invocation_id})

    def record(self, invocation_id: str) -> InvocationRecord | None:
        row = self.invocation_row(invocation_id)
        return None if row is None else record_from_row(row)

    def journal(self, invocation_id: str) -> list[Entry]:
        return [entry_from_row(r) for r in self._exec("get_journal", {"id": invocation_id})]

    def state(self, service: str, key: str) -> dict[str, bytes]:
        rows = self._exec("get_state", {"service": service, "key": key})
        return {str(r["name"]): bytes(r["value"]) for r in rows}

    def list_invocations(
        self, filter: InvocationFilter, limit: int, before: str | None
    ) -> list[InvocationRecord]:
        before_created: int | None = None
        before_id: str | None = None
        if before is not None:
            try:
                before_created, before_id = parse_page_cursor(before)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        params = {
            "statuses": dump_json(sorted(s.value for s in filter.status)) if filter.status else None,
            "service": filter.service,
            "handler": filter.handler,
            "key": filter.key,
            "created_after": filter.created_after_ms,
            "created_before": filter.created_before_ms,
            "before_created": before_created,
            "before_id": before_id,
            "limit": limit,
        }
        return [record_from_row(r) for r in self._exec("list_invocations", params)]

    def count_invocations(self) -> dict[Status, int]:
        return {Status(r[0]): int(r[1]) for r in self._exec("count_invocations_by_status")}

    def list_awakeables(self, limit: int) -> list[AwakeableInfo]:
        return [awakeable_from_row(r) for r in self._exec("list_pending_awakeables", {"limit": limit})]

    def next_timer(self) -> int | None:
        value = self._scalar("next_timer")
        return None if value is None else int(value)

    # -- shared rules --------------------------------------------------------------------------
    def _claim(self, invocation_id: str, now: int) -> Claim:
        """running, epoch + 1; the record, journal and (keyed) state to run it from."""
        row = self._exec("claim_invocation", {"id": invocation_id, "now": now}).fetchone()
        assert row is not None
        record = record_from_row(row)
        state = self.state(record.service, record.key) if record.key is not None else {}
        return Claim(record, self.journal(invocation_id), state)

    def _start(self, row: sqlite3.Row, now: int) -> Effects:
        """A due invocation: claimed, or queued `pending` behind its (service, key) lock."""
        invocation_id, service, key = row["id"], row["service"], row["key"]
        locks = bool(row["exclusive"]) and key is not None
        if (
            locks
            and self._exec("try_lock", {"service": service, "key": key, "id": invocation_id}).rowcount == 0
        ):
            seq = self._scalar("next_inbox_seq", {"service": service, "key": key})
            self._exec("set_pending", {"id": invocation_id, "inbox_seq": seq, "now": now})
            return Effects()
        return Effects(claims=[self._claim(invocation_id, now)])

    def _claim_next_pending(self, service: str, key: str, now: int) -> Effects:
        row = self._one("next_pending", {"service": service, "key": key})
        if row is None:
            return Effects()
        self._exec("try_lock", {"service": service, "key": key, "id": row["id"]})
        return Effects(claims=[self._claim(str(row["id"]), now)])

    def _wake(self, invocation_id: str, idx: int, outcome: Outcome, now: int) -> Effects:
        """Complete entry `idx` of an invocation from outside (unless already complete): claim the
        invocation if it is suspended on it, hand it over if running; else it replays it later."""
        params = {"id": invocation_id, "idx": idx, **outcome_params(outcome)}
        if self._exec("complete_entry", params).rowcount == 0:
            return Effects()  # missing or already complete
        row = self.invocation_row(invocation_id)
        if row is None:
            return Effects()
        status = row["status"]
        if status == Status.SUSPENDED:
            waiting_on = json.loads(row["waiting_on"]) if row["waiting_on"] else []
            if waiting_on and idx not in waiting_on:
                return Effects()  # not what it waits for: it sees the outcome when it replays
            return Effects(claims=[self._claim(invocation_id, now)])
        if status == Status.RUNNING:
            return Effects(deliveries=[Delivery(invocation_id, idx, outcome)])
        return Effects()

    def _add_waiter(self, params: dict[str, Any]) -> None:
        self._exec("add_waiter", params)
        self._exec("flag_waiters", {"id": params["id"]})

    def _attach_caller(self, row: sqlite3.Row, caller: EntryRef | None, now: int) -> Effects:
        """A second caller of an existing invocation gets its outcome, now or when it completes."""
        if caller is None:
            return Effects()
        if row["caller_id"] == caller.invocation_id and row["caller_index"] == caller.index:
            return Effects()
        if row["status"] == Status.COMPLETED:
            outcome = record_from_row(row).outcome
            assert outcome is not None
            return self._wake(caller.invocation_id, caller.index, outcome, now)
        params = {"id": row["id"], "caller_id": caller.invocation_id, "caller_index": caller.index}
        self._add_waiter(params)
        return Effects()

    def _create_running(self, new: NewInvocation) -> CreateResult | None:
        """Insert an invocation that can run now, claimed at epoch 1, without reading it back.
        None if the id exists already (the caller then takes the general path)."""
        caller = new.caller
        params = {
            "id": new.id,
            "service": new.service,
            "handler": new.handler,
            "key": new.key,
            "exclusive": int(new.exclusive),
            "input": new.input,
            "headers": dump_json(new.headers),
            "idempotency_key": new.idempotency_key,
            "now": new.now_ms,
            "caller_id": None if caller is None else caller.invocation_id,
            "caller_index": None if caller is None else caller.index,
            "retention_ms": new.retention_ms,
        }
        if self._exec("insert_running_invocation", params).rowcount == 0:
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
            caller=caller,
        )
        state = self.state(new.service, new.key) if new.key is not None else {}
        return CreateResult(record, True, Effects(claims=[Claim(record, [], state)]))

    def _create(self, new: NewInvocation) -> CreateResult:
        delayed = new.run_at_ms is not None and new.run_at_ms > new.now_ms
        if not delayed and not (new.exclusive and new.key is not None):
            fast = self._create_running(new)
            if fast is not None:
                return fast
        existing = self.invocation_row(new.id)
        if existing is not None:
            effects = self._attach_caller(existing, new.caller, new.now_ms)
            return CreateResult(record_from_row(existing), False, effects)
        self._exec(
            "create_invocation",
            {
                "id": new.id,
                "service": new.service,
                "handler": new.handler,
                "key": new.key,
                "exclusive": int(new.exclusive),
                "status": (Status.SCHEDULED if delayed else Status.READY).value,
                "input": new.input,
                "headers": dump_json(new.headers),
                "idempotency_key": new.idempotency_key,
                "now": new.now_ms,
                "run_at": new.run_at_ms,
                "caller_id": None if new.caller is None else new.caller.invocation_id,
                "caller_index": None if new.caller is None else new.caller.index,
                "retention_ms": new.retention_ms,
                "inbox_seq": None,
                "workflow_main": int(new.workflow_main),
            },
        )
        if delayed:
            assert new.run_at_ms is not None
            self._timer(new.id, INVOCATION_TIMER, TimerKind.START, new.run_at_ms)
            effects = Effects()
        else:
            row = self.invocation_row(new.id)
            assert row is not None
            effects = self._start(row, new.now_ms)
        if effects.claims:
            record = effects.claims[0].record
        else:
            found = self.record(new.id)
            assert found is not None
            record = found
        return CreateResult(record, True, effects)

    def _complete_invocation(
        self,
        row: sqlite3.Row,
        outcome: Outcome,
        now: int,
        open_timers: bool = True,
        open_awakeables: bool = True,
    ) -> Effects:
        invocation_id: str = row["id"]
        purge_at = now + int(row["retention_ms"])
        params = {"id": invocation_id, "now": now, "purge_at": purge_at, **outcome_params(outcome)}
        self._exec("complete_invocation", params)
        if open_timers:
            self._exec("delete_invocation_timers", {"id": invocation_id})
        if self.min_timer is None or purge_at < self.min_timer:
            self.min_timer = purge_at
        if open_awakeables:
            self._exec("close_awakeables", {"id": invocation_id})
        effects = Effects(completed=[(invocation_id, outcome)])
        service, key = row["service"], row["key"]
        if key is not None:
            released = self._exec("release_lock", {"service": service, "key": key, "id": invocation_id})
            if released.rowcount:
                effects = effects.merge(self._claim_next_pending(service, key, now))
        callers: list[tuple[str, int]] = []
        if row["caller_id"] is not None:
            callers.append((str(row["caller_id"]), int(row["caller_index"])))
        if row["has_waiters"]:
            callers.extend(
                (str(r[0]), int(r[1])) for r in self._exec("take_waiters", {"id": invocation_id}).fetchall()
            )
        for caller_id, caller_index in callers:
            effects = effects.merge(self._wake(caller_id, caller_index, outcome, now))
        return effects

    def _complete_awakeable(
        self, awakeable_id: str, outcome: Outcome, now: int, validate: PayloadValidator
    ) -> AwakeableCompletion:
        row = self._one("get_awakeable", {"id": awakeable_id})
        if row is None:
            raise NotFound(f"awakeable {awakeable_id} not found")
        status = AwakeableStatus(row["status"])
        invocation_id, idx = str(row["invocation_id"]), int(row["idx"])
        if status == AwakeableStatus.PENDING:
            deadline = row["deadline"]
            if deadline is not None and deadline <= now:
                # Its DEADLINE timer is due: firing it records the expiry (and wakes the handler).
                raise Gone(f"awakeable {awakeable_id} timed out")
            if outcome.ok and row["schema_json"] is not None:
                errors = validate(json.loads(row["schema_json"]), outcome.value or b"")
                if errors:
                    details: list[object] = [*errors]
                    raise BadRequest("payload does not match the awakeable's type", details=details)
            new_status = AwakeableStatus.RESOLVED if outcome.ok else AwakeableStatus.REJECTED
            self._exec("set_awakeable_status", {"id": awakeable_id, "status": new_status.value})
            if deadline is not None:
                params = {"id": invocation_id, "idx": idx, "kind": TimerKind.DEADLINE.value}
                self._exec("delete_timer", params)
            effects = self._wake(invocation_id, idx, outcome, now)
            return AwakeableCompletion(CompletionStatus.ACCEPTED, effects)
        if status in (AwakeableStatus.RESOLVED, AwakeableStatus.REJECTED):
            entry = self._one("get_entry", {"id": invocation_id, "idx": idx})
            stored = None if entry is None else entry_outcome(entry)
            if stored is not None and same_outcome(stored, outcome):
                return AwakeableCompletion(CompletionStatus.PREVIOUSLY_ACCEPTED, Effects())
            raise Conflict(f"awakeable {awakeable_id} was already completed")
        if status == AwakeableStatus.EXPIRED:
            raise Gone(f"awakeable {awakeable_id} timed out")
        raise Gone(f"awakeable {awakeable_id} can no longer be completed: its invocation has ended")

    def _purge(self, invocation_id: str) -> None:
        info = self._one("get_purge_info", {"id": invocation_id})
        if info is not None and info["workflow_main"]:
            # The end of a workflow's retention: its state and promises go with it.
            key = {"service": info["service"], "key": info["key"]}
            for name in ("clear_all_state", "delete_key_promises", "delete_key_promise_waiters"):
                self._exec(name, key)
        for name in ("delete_journal", "delete_awakeables", "delete_invocation_timers", "delete_waiters"):
            self._exec(name, {"id": invocation_id})
        self._exec("delete_invocation", {"id": invocation_id})

    def _promise_op(
        self, inv: str, service: str, key: str | None, op: PromiseOp, now: int
    ) -> tuple[Outcome | None, Effects]:
        """Apply a promise entry; its outcome if known now (see PromiseOp), and what it woke."""
        if key is None:
            return Outcome.fail(400, "promises are only available in workflows"), Effects()
        where = {"service": service, "key": key, "name": op.name}
        if op.action == "complete":
            assert op.outcome is not None
            params = {**where, **outcome_params(op.outcome), "now": now}
            if self._exec("complete_promise", params).rowcount == 0:
                return Outcome.fail(409, "promise was already completed"), Effects()
            effects = Effects()
            for r in self._exec("take_promise_waiters", where).fetchall():
                effects = effects.merge(self._wake(str(r[0]), int(r[1]), op.outcome, now))
            return Outcome(), effects
        row = self._one("get_promise", where)
        stored = None if row is None else _promise_outcome(row)
        if op.action == "peek":
            return (stored if stored is not None else Outcome()), Effects()
        if stored is None:
            self._exec("add_promise_waiter", {**where, "id": inv, "idx": op.index})
        return stored, Effects()

    # -- operations ----------------------------------------------------------------------------
    def create(self, new: NewInvocation) -> CreateResult:
        result = self._create(new)
        effects = self._finish(result.effects)
        return result if effects is result.effects else replace(result, effects=effects)

    def commit(self, p: Progress) -> ProgressResult:
        row = self._one("get_fence", {"id": p.invocation_id})
        if row is None:
            raise Conflict(f"invocation {p.invocation_id} does not exist (epoch {p.epoch} is stale)")
        if row["status"] != Status.RUNNING or row["epoch"] != p.epoch:
            raise Conflict(
                f"stale write to invocation {p.invocation_id}: epoch {p.epoch}, but the invocation is "
                f"{row['status']} at epoch {row['epoch']}"
            )
        inv, service, key, now = p.invocation_id, row["service"], row["key"], p.now_ms
        for entry in p.entries:
            self._exec("upsert_entry", entry_params(inv, entry))
        for op in p.state:
            if key is None:
                raise BadRequest(f"invocation {inv} has no key: it has no state")
            if op.name is None:
                self._exec("clear_all_state", {"service": service, "key": key})
            elif op.value is None:
                self._exec("clear_state", {"service": service, "key": key, "name": op.name})
            else:
                self._exec("set_state", {"service": service, "key": key, "name": op.name, "value": op.value})
        for aw in p.awakeables:
            self._exec(
                "create_awakeable",
                {
                    "id": aw.id,
                    "invocation_id": inv,
                    "idx": aw.index,
                    "service": service,
                    "handler": row["handler"],
                    "key": key,
                    "now": now,
                    "deadline": aw.deadline_ms,
                    "schema_json": None if aw.schema is None else dump_json(aw.schema),
                },
            )
            if aw.deadline_ms is not None:
                self._timer(inv, aw.index, TimerKind.DEADLINE, aw.deadline_ms)
        for idx, wake_at in p.sleeps:
            self._timer(inv, idx, TimerKind.SLEEP, wake_at)
        effects = Effects()
        for child in p.children:
            effects = effects.merge(self._create(child).effects)
        entry_outcomes: dict[int, Outcome] = {}
        for idx, target in p.attaches:
            target_row = self.invocation_row(target)
            attached: Outcome | None = None
            if target_row is None:
                attached = Outcome.fail(404, f"invocation '{target}' not found")
            elif target_row["status"] == Status.COMPLETED:
                attached = record_from_row(target_row).outcome
            else:
                self._add_waiter({"id": target, "caller_id": inv, "caller_index": idx})
            if attached is not None:
                self._exec("complete_entry", {"id": inv, "idx": idx, **outcome_params(attached)})
                entry_outcomes[idx] = attached
        # A flagged invocation whose handler raised the cancellation (a new CANCEL_SIGNAL entry):
        # it is delivered, and the calls it waits on follow. Unflagged ones (nearly all) skip this.
        cancel_pending = bool(row["cancel_requested"])
        signalled = cancel_pending and any(e.kind is EntryKind.CANCEL_SIGNAL for e in p.entries)
        if signalled:
            self._exec("clear_cancel", {"id": inv})
            effects = effects.merge(cancel_children(self, inv, False, now, {inv}))
        for target in p.cancels:
            try:
                effects = effects.merge(request_cancel(self, target, False, now, {inv})[1])
            except (NotFound, Conflict):
                pass  # unknown or already completed: nothing to cancel (as Restate)
        for promise in p.promises:
            promised, woken = self._promise_op(inv, service, key, promise, now)
            effects = effects.merge(woken)
            if promised is not None:
                self._exec("complete_entry", {"id": inv, "idx": promise.index, **outcome_params(promised)})
                entry_outcomes[promise.index] = promised
        for req in p.awakeable_completions:
            try:
                done = self._complete_awakeable(req.awakeable_id, req.outcome, now, accept_any_payload)
                effects = effects.merge(done.effects)
                result = Outcome()
            except NotFound as exc:
                result = Outcome.fail(404, str(exc))
            except Gone as exc:
                result = Outcome.fail(410, str(exc))
            except Conflict as exc:
                result = Outcome.fail(409, str(exc))
            except BadRequest as exc:
                result = Outcome.fail(400, str(exc))
            self._exec("complete_entry", {"id": inv, "idx": req.index, **outcome_params(result)})
            entry_outcomes[req.index] = result
        resumed: Claim | None = None
        transition = p.transition
        if isinstance(transition, Complete):
            effects = effects.merge(
                self._complete_invocation(
                    row, transition.outcome, now, transition.open_timers, transition.open_awakeables
                )
            )
        elif isinstance(transition, Suspend):
            # A cancellation that came while the attempt was ending must still be raised.
            if (cancel_pending and not signalled) or any(
                self._entry_completed(inv, idx) for idx in transition.waiting_on
            ):
                resumed = self._claim(inv, now)
            else:
                waiting = dump_json(sorted(set(transition.waiting_on)))
                self._exec("suspend_invocation", {"id": inv, "waiting_on": waiting, "now": now})
        elif isinstance(transition, Retry):
            params = {"id": inv, "failure": transition.failure, "run_at": transition.run_at_ms, "now": now}
            self._exec("back_off_invocation", params)
            self._timer(inv, INVOCATION_TIMER, TimerKind.RETRY, transition.run_at_ms)
        elif isinstance(transition, Pause):
            self._exec("pause_invocation", {"id": inv, "failure": transition.failure, "now": now})
        else:
            self._exec("touch_invocation", {"id": inv, "now": now})
        return ProgressResult(self._finish(effects), entry_outcomes, resumed)

    def _entry_completed(self, invocation_id: str, idx: int) -> bool:
        entry = self._one("get_entry", {"id": invocation_id, "idx": idx})
        return entry is not None and bool(entry["has_outcome"])

    def begin_attempt(self, invocation_id: str, now: int) -> Claim | None:
        row = self.invocation_row(invocation_id)
        if row is None or row["status"] not in (Status.READY, Status.RUNNING):
            return None
        return self._claim(invocation_id, now)

    def complete_awakeable(
        self, awakeable_id: str, outcome: Outcome, now: int, validate: PayloadValidator
    ) -> AwakeableCompletion:
        done = self._complete_awakeable(awakeable_id, outcome, now, validate)
        return replace(done, effects=self._finish(done.effects))

    def complete_entry(self, ref: EntryRef, outcome: Outcome, now: int) -> Effects:
        self._exec("delete_timer", {"id": ref.invocation_id, "idx": ref.index, "kind": TimerKind.SLEEP.value})
        return self._finish(self._wake(ref.invocation_id, ref.index, outcome, now))

    def fire_due_timers(self, now: int, limit: int) -> Effects:
        effects = Effects()
        for timer in self._exec("due_timers", {"now": now, "limit": limit}).fetchall():
            inv, idx, kind = str(timer["invocation_id"]), int(timer["idx"]), TimerKind(timer["kind"])
            self._exec("delete_timer", {"id": inv, "idx": idx, "kind": kind.value})
            effects = effects.merge(self._fire(inv, idx, kind, now))
        for row in self._exec("due_purges", {"now": now, "limit": limit}).fetchall():
            self._purge(str(row["id"]))
        return replace(effects, next_timer_ms=self.next_timer())

    def _fire(self, inv: str, idx: int, kind: TimerKind, now: int) -> Effects:
        if kind == TimerKind.SLEEP:
            return self._wake(inv, idx, Outcome(), now)
        if kind == TimerKind.DEADLINE:
            aw = self._one("get_awakeable_by_entry", {"invocation_id": inv, "idx": idx})
            if aw is None or aw["status"] != AwakeableStatus.PENDING:
                return Effects()
            self._exec("set_awakeable_status", {"id": aw["id"], "status": AwakeableStatus.EXPIRED.value})
            return self._wake(inv, idx, Outcome.fail(408, f"awakeable {aw['id']} timed out"), now)
        row = self.invocation_row(inv)
        if row is None:
            return Effects()
        status = row["status"]
        if kind == TimerKind.RETRY and status == Status.BACKING_OFF:
            return Effects(claims=[self._claim(inv, now)])
        if kind == TimerKind.START and status == Status.SCHEDULED:
            return self._start(row, now)
        if kind == TimerKind.PURGE and status == Status.COMPLETED:
            self._purge(inv)
        return Effects()

    def recover(self, now: int) -> list[Claim]:
        ids = [str(r[0]) for r in self._exec("recoverable_invocations").fetchall()]
        return [self._claim(invocation_id, now) for invocation_id in ids]
