"""The Store Protocol on the lifecycle rules: a dialect subclasses `LifecycleStore` and supplies
how an operation runs in a write transaction (`_write`, group-committed) and in a read (`_read`),
plus opening, closing and notices."""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from awaken.core.journal import Entry, Outcome
from awaken.storage.lifecycle import awakeables, commit, control, deployments, invocations, reads, timers
from awaken.storage.lifecycle.op import Op
from awaken.storage.protocol import (
    AwakeableCompletion,
    AwakeableInfo,
    CancelResult,
    Claim,
    CreateResult,
    DeploymentRecord,
    Effects,
    EntryRef,
    EntryTimes,
    InvocationFilter,
    InvocationRecord,
    NewInvocation,
    NoticeListener,
    PayloadValidator,
    Progress,
    ProgressResult,
    StateRow,
    Status,
)

T = TypeVar("T")
Operation = Callable[[Op], Coroutine[Any, Any, T]]
DEFAULT_LEASE_MS = 3_000
RECOVERY_BATCH = 500


def new_node_id() -> str:
    """A node's id: new at every start, so that a restarted node never takes its old leases for
    its own (they expire, and any node, this one included, takes them over)."""
    return os.urandom(6).hex()


HEAVY_WRITE_BYTES = 1024 * 1024  # a write that stores this much is `heavy`


class LifecycleStore:
    """Everything of the Store Protocol but the transaction plumbing."""

    shared = False

    def __init__(self, *, node_id: str | None = None, lease_ms: int = DEFAULT_LEASE_MS) -> None:
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        self.node_id = node_id or new_node_id()
        self.lease_ms = lease_ms
        self._listeners: list[NoticeListener] = []

    # Whether writes of concurrent transactions may deadlock on each other's row locks (several
    # connections or nodes): then each write says which invocation it locks first (`lock_key`),
    # and a dialect orders the writes of a transaction by it, so that transactions take their
    # locks in one order. One writer (SQLite) needs none of it.
    orders_writes = False

    # -- what a dialect supplies -----------------------------------------------------------------
    async def _write(
        self, fn: Operation[T], lock_key: str = "", *, heavy: bool = False, early: bool = False
    ) -> T:
        """Run `fn` in a write transaction. `heavy`: it stores megabytes (a dialect may run it
        off the event loop). `early`: the result may come once committed, before it is on disk
        (a dialect whose commits are durable ignores it)."""
        raise NotImplementedError

    async def settled(self) -> None:
        """Once every write committed so far is on disk (at once where commits are durable)."""

    async def _read(self, fn: Operation[T]) -> T:
        raise NotImplementedError

    async def _write_alone(self, fn: Operation[T]) -> T:
        """A write that takes many row locks at once (lease renewals): in a transaction of its
        own rather than in a batch, so that it holds them for no longer than it needs."""
        return await self._write(fn)

    def subscribe(self, listener: NoticeListener) -> None:
        self._listeners.append(listener)

    def storage_problem(self) -> str | None:
        return None  # a dialect that can tell overrides it

    # -- writes ------------------------------------------------------------------------------------
    async def create_invocation(self, new: NewInvocation, *, durable: bool = True) -> CreateResult:
        async def run(op: Op) -> CreateResult:
            result = await invocations.create(op, new)
            effects = op.finish(result.effects)
            return (
                result if effects is result.effects else CreateResult(result.record, result.created, effects)
            )

        heavy = len(new.input) >= HEAVY_WRITE_BYTES
        return await self._write(run, new.id, heavy=heavy, early=not durable)

    async def commit(self, progress: Progress) -> ProgressResult:
        return await self._write(lambda op: commit.commit(op, progress), progress.invocation_id)

    async def begin_attempt(self, invocation_id: str, now_ms: int) -> Claim | None:
        return await self._write(lambda op: control.begin_attempt(op, invocation_id, now_ms), invocation_id)

    async def complete_awakeable(
        self, awakeable_id: str, outcome: Outcome, now_ms: int, validate: PayloadValidator
    ) -> AwakeableCompletion:
        async def run(op: Op) -> AwakeableCompletion:
            done = await awakeables.complete(op, awakeable_id, outcome, now_ms, validate)
            return AwakeableCompletion(done.status, op.finish(done.effects))

        key: str | None = None
        if self.orders_writes:  # the invocation it locks: a read first (an awakeable's never changes)
            key = await self._read(lambda op: reads.awakeable_invocation(op, awakeable_id))
        heavy = len(outcome.value or b"") >= HEAVY_WRITE_BYTES
        return await self._write(run, key or "", heavy=heavy)

    async def watch_invocation(self, invocation_id: str) -> Outcome | None:
        return await self._write(lambda op: invocations.watch(op, invocation_id), invocation_id)

    async def cancel_invocation(self, invocation_id: str, kill: bool, now_ms: int) -> CancelResult:
        return await self._write(lambda op: control.cancel(op, invocation_id, kill, now_ms), invocation_id)

    async def purge_invocation(self, invocation_id: str) -> None:
        await self._write(lambda op: control.purge(op, invocation_id), invocation_id)

    async def pause_invocation(self, invocation_id: str, now_ms: int) -> None:
        await self._write(lambda op: control.pause(op, invocation_id, now_ms), invocation_id)

    async def resume_invocation(self, invocation_id: str, now_ms: int) -> Claim:
        return await self._write(lambda op: control.resume(op, invocation_id, now_ms), invocation_id)

    async def replace_state(self, service: str, key: str, state: dict[str, bytes]) -> None:
        await self._write(lambda op: control.replace_state(op, service, key, state))

    async def complete_entry(self, ref: EntryRef, outcome: Outcome, now_ms: int) -> Effects:
        return await self._write(
            lambda op: timers.complete_entry(op, ref.invocation_id, ref.index, outcome, now_ms)
        )

    async def fire_due_timers(self, now_ms: int, limit: int) -> Effects:
        return await self._write(lambda op: timers.fire_due(op, now_ms, limit))

    async def recover(self, now_ms: int) -> list[Claim]:
        claims: list[Claim] = []
        while True:
            batch = await self._write(
                lambda op: control.claim_orphans(op, now_ms, RECOVERY_BATCH, not self.shared)
            )
            claims.extend(batch)
            if len(batch) < RECOVERY_BATCH:
                return claims

    async def claim_orphans(self, now_ms: int, limit: int) -> list[Claim]:
        if not self.shared:
            return []  # one node: whatever runs, runs here
        return await self._write(lambda op: control.claim_orphans(op, now_ms, limit, False))

    async def renew_leases(self, invocation_ids: list[str], now_ms: int) -> set[str]:
        if not invocation_ids:
            return set()
        return await self._write_alone(lambda op: control.renew_leases(op, invocation_ids, now_ms))

    # -- reads -------------------------------------------------------------------------------------
    async def next_timer_ms(self) -> int | None:
        return await self._read(timers.next_timer)

    async def get_invocation(self, invocation_id: str) -> InvocationRecord | None:
        return await self._read(lambda op: reads.record(op, invocation_id))

    async def get_journal(self, invocation_id: str) -> list[Entry]:
        return await self._read(lambda op: reads.journal(op, invocation_id))

    async def get_journal_times(self, invocation_id: str) -> list[EntryTimes]:
        return await self._read(lambda op: reads.journal_times(op, invocation_id))

    async def get_entry_outcome(self, invocation_id: str, index: int) -> Outcome | None:
        return await self._read(lambda op: reads.entry_result(op, invocation_id, index))

    async def get_outcomes(
        self, invocation_ids: list[str], *, missing: Callable[[str], Outcome] | None = None
    ) -> dict[str, Outcome]:
        if not invocation_ids:
            return {}
        return await self._read(lambda op: reads.outcomes(op, invocation_ids, missing))

    async def list_invocations(
        self,
        filter: InvocationFilter | None = None,
        limit: int = 100,
        before: str | None = None,
        *,
        status: Status | None = None,
        service: str | None = None,
    ) -> list[InvocationRecord]:
        """Newest first; see the Protocol."""
        chosen = filter or InvocationFilter()
        if status is not None:
            chosen = replace(chosen, status=frozenset({status}))
        if service is not None:
            chosen = replace(chosen, service=service)
        return await self._read(lambda op: reads.list_invocations(op, chosen, limit, before))

    async def count_invocations(self, filter: InvocationFilter | None = None) -> dict[Status, int]:
        if filter is None or filter == InvocationFilter(status=filter.status):
            return await self._read(reads.count_invocations)
        return await self._read(lambda op: reads.count_matching(op, filter))

    async def list_awakeables(self, *, limit: int = 100) -> list[AwakeableInfo]:
        """Pending awakeables, oldest first."""
        return await self._read(lambda op: reads.list_awakeables(op, limit))

    async def get_state(self, service: str, key: str) -> dict[str, bytes]:
        return await self._read(lambda op: invocations.state(op, service, key))

    async def list_state(
        self, service: str | None = None, key: str | None = None, *, limit: int = 1000
    ) -> list[StateRow]:
        """State values by (service, key, name); see the Protocol."""
        return await self._read(lambda op: reads.list_state(op, service, key, limit))

    async def get_invocation_by_protocol_id(self, protocol_id: bytes) -> InvocationRecord | None:
        return await self._read(lambda op: deployments.invocation_by_protocol_id(op, protocol_id))

    async def put_deployment(self, deployment: DeploymentRecord) -> None:
        await self._write(lambda op: deployments.put(op, deployment))

    async def list_deployments(self) -> list[DeploymentRecord]:
        return await self._read(deployments.listed)

    async def delete_deployment(self, deployment_id: str, force: bool) -> None:
        await self._write(lambda op: deployments.delete(op, deployment_id, force))

    async def get_state_value(self, service: str, key: str, name: str) -> bytes | None:
        return await self._read(lambda op: reads.state_value(op, service, key, name))
