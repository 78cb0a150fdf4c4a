"""The storage Protocol: a dozen domain-level operations the engine needs, and their values.

Every write method is atomic (one transaction) and durable when it returns. Implementations
group-commit: writes that arrive together share one transaction and one fsync, but each keeps
its own outcome (one failing write does not fail its neighbours).

Vocabulary:
- *claim*: the invocation becomes `running` under a new `epoch` (fencing token) and the caller
  gets its record and journal back; whoever receives a `Claim` must run it.
- *wake*: a suspended invocation whose awaited entry completed is claimed in the same transaction.
- *lease*: a claim is leased to the store's node (`node_id`) for `lease_ms`; the engine renews the
  leases of the attempts it runs (`renew_leases`). When a node dies, its leases expire and other
  nodes claim its invocations (`claim_orphans`); the old attempt's writes are then fenced
  (`Fenced`), because every write of an attempt carries its epoch.
- *notice*: a write made on one node that concerns an attempt or a caller on another (a
  completion, a cancellation) reaches that node as a `Notice` (PostgreSQL: LISTEN/NOTIFY, sent
  when the write commits). Notices can be lost; polling (suspension, lease renewal, outcome
  checks) is what guarantees progress, notices make it fast.
- Times are integer milliseconds since the epoch, passed in by the caller (the store never reads
  a clock, so tests can control time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from awaken.core.effects import (
    AwakeableCompletionRequest,
    Complete,
    EntryRef,
    NewAwakeable,
    NewInvocation,
    Pause,
    PromiseOp,
    Retry,
    SignalOp,
    StateOp,
    StepEffects,
    Suspend,
    Transition,
)
from awaken.core.journal import Entry, Outcome


class Status(StrEnum):
    PENDING = "pending"  # queued behind a virtual object's key lock
    SCHEDULED = "scheduled"  # delayed send, not due yet
    READY = "ready"  # waiting for an executor
    RUNNING = "running"  # an attempt is in flight
    BACKING_OFF = "backing-off"  # failed attempt, retry timer pending
    SUSPENDED = "suspended"  # waiting on completions, nothing in memory
    PAUSED = "paused"  # retries exhausted (or paused by hand)
    COMPLETED = "completed"


class TimerKind(StrEnum):
    SLEEP = "sleep"  # completes a SLEEP entry
    DEADLINE = "deadline"  # expires an awakeable (408 in the handler, 410 for late completions)
    RETRY = "retry"  # backing-off -> claimed
    START = "start"  # scheduled (delayed send) -> claimed or pending behind the key lock
    PURGE = "purge"  # a completed invocation's retention has passed


class AwakeableStatus(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CLOSED = "closed"  # its invocation ended before it was completed


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    id: str
    service: str
    handler: str
    key: str | None
    status: Status
    input: bytes
    headers: dict[str, str]
    created_at_ms: int
    modified_at_ms: int
    epoch: int
    attempts: int  # failed attempts so far (reset never; the retry policy reads it)
    idempotency_key: str | None = None
    run_at_ms: int | None = None
    outcome: Outcome | None = None  # set once completed
    last_failure: str | None = None
    caller: EntryRef | None = None
    completed_at_ms: int | None = None
    cancel_requested: bool = False  # a cancellation waits to be raised in the handler
    node: str | None = None  # the node that runs its attempt (running) or ran its last one
    lease_until_ms: int | None = None
    deployment_id: str | None = None  # see NewInvocation
    protocol_version: int | None = None
    protocol_id: bytes | None = None
    last_failure_code: int | None = None
    origin_node: str | None = None  # the node whose ingress created it (hears of its completion)

    @property
    def remote(self) -> bool:
        """Whether its handler is served elsewhere (its journal is a log of protocol messages)."""
        return self.protocol_version is not None


@dataclass(frozen=True, slots=True)
class Claim:
    """An invocation this process must now run (status `running`, fenced by `epoch`)."""

    record: InvocationRecord
    journal: list[Entry]
    state: dict[str, bytes] = field(default_factory=dict)  # the (service, key) state, if keyed
    # Names of the state whose values (larger than LARGE_VALUE) were not loaded: read on demand.
    lazy_state: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A completion stored for an invocation that was `running` (so nobody was claimed): the
    engine hands it to the in-memory attempt, if it has one."""

    invocation_id: str
    index: int
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Effects:
    """What a write set in motion elsewhere: attempts to start, completions to hand over, and
    invocations that just completed (to answer waiting callers)."""

    claims: list[Claim] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    completed: list[tuple[str, Outcome]] = field(default_factory=list)
    next_timer_ms: int | None = None  # earliest timer the write created, for the scheduler
    cancels: list[str] = field(default_factory=list)  # running invocations asked to cancel

    def empty(self) -> bool:
        return (
            not (self.claims or self.deliveries or self.completed or self.cancels)
            and self.next_timer_ms is None
        )

    def merge(self, other: Effects) -> Effects:
        if other.empty():
            return self
        if self.empty():
            return other
        nxt = [t for t in (self.next_timer_ms, other.next_timer_ms) if t is not None]
        return Effects(
            self.claims + other.claims,
            self.deliveries + other.deliveries,
            self.completed + other.completed,
            min(nxt) if nxt else None,
            self.cancels + other.cancels,
        )


class NoticeKind(StrEnum):
    DELIVER = "deliver"  # an entry of an attempt this node runs completed (`index`)
    CANCEL = "cancel"  # raise a cancellation in an attempt this node runs
    ABORT = "abort"  # an attempt this node runs lost its invocation (paused by hand)
    COMPLETED = "completed"  # an invocation completed (callers may wait on it here)
    RESYNC = "resync"  # notices may have been lost (the connection that carries them broke)


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    invocation_id: str = ""
    index: int | None = None
    outcome: Outcome | None = None  # a delivery's outcome, when the notice could carry it


NoticeListener = Callable[[Notice], None]


@dataclass(frozen=True, slots=True)
class CreateResult:
    record: InvocationRecord
    created: bool  # False: an invocation with this id existed (idempotency key, workflow key)
    effects: Effects  # a claim for the new invocation when it can run now


@dataclass(frozen=True, slots=True)
class Progress:
    """One atomic step of a running attempt: journal writes, their side effects, and maybe the
    attempt's end. Rejected with Conflict if `epoch` is no longer the invocation's (fencing)."""

    invocation_id: str
    epoch: int
    now_ms: int
    entries: list[Entry] = field(default_factory=list)  # upserted by index
    state: list[StateOp] = field(default_factory=list)
    awakeables: list[NewAwakeable] = field(default_factory=list)
    sleeps: list[tuple[int, int]] = field(default_factory=list)  # (entry index, wake at ms)
    children: list[NewInvocation] = field(default_factory=list)
    awakeable_completions: list[AwakeableCompletionRequest] = field(default_factory=list)
    # ATTACH entries (entry index, target invocation id): completed with the target's outcome,
    # now if it has one (404 if there is no such invocation), else when it completes.
    attaches: list[tuple[int, str]] = field(default_factory=list)
    promises: list[PromiseOp] = field(default_factory=list)
    signals: list[SignalOp] = field(default_factory=list)  # in journal order
    cancels: list[str] = field(default_factory=list)  # ctx.cancel_invocation targets
    # (entry index, state name): GET_STATE entries stored as a reference to the state get a copy
    # of the value they read, because this step overwrites it (a replay will need it).
    captures: list[tuple[int, str]] = field(default_factory=list)
    transition: Transition = None

    @classmethod
    def of(
        cls,
        invocation_id: str,
        epoch: int,
        now_ms: int,
        entries: list[Entry],
        effects: StepEffects,
        transition: Transition,
        captures: list[tuple[int, str]] | None = None,
    ) -> Progress:
        """The write of a step whose effects an attempt collected in `effects`."""
        return cls(
            invocation_id=invocation_id,
            epoch=epoch,
            now_ms=now_ms,
            entries=entries,
            state=effects.state,
            awakeables=effects.awakeables,
            sleeps=effects.sleeps,
            children=effects.children,
            awakeable_completions=effects.awakeable_completions,
            attaches=effects.attaches,
            promises=effects.promises,
            signals=effects.signals,
            cancels=effects.cancels,
            captures=[] if captures is None else captures,
            transition=transition,
        )


@dataclass(frozen=True, slots=True)
class CancelResult:
    done: bool  # ended now (not started yet, or killed); False: the handler raises it later
    effects: Effects


@dataclass(frozen=True, slots=True)
class ProgressResult:
    effects: Effects
    entry_outcomes: dict[int, Outcome]  # outcomes of awakeable_completions, by entry index
    resumed: Claim | None = None  # Suspend found an awaited entry complete: run again from this


@dataclass(frozen=True, slots=True)
class AwakeableInfo:
    id: str
    invocation_id: str
    index: int
    service: str
    handler: str
    key: str | None
    status: AwakeableStatus
    created_at_ms: int
    deadline_ms: int | None
    schema: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EntryTimes:
    """When a journal entry was first appended, and when its result was recorded (ms since the
    epoch; None where unknown or not yet): what an entry's place on a timeline needs."""

    index: int
    created_at_ms: int | None
    completed_at_ms: int | None


@dataclass(frozen=True, slots=True)
class InvocationFilter:
    """Which invocations `list_invocations` gives: every field that is set must match.
    `status` is a set of statuses (any of them; empty: any status); times are creation times
    in ms since the epoch, `created_after_ms` inclusive, `created_before_ms` exclusive."""

    status: frozenset[Status] = frozenset()
    service: str | None = None
    handler: str | None = None
    key: str | None = None
    created_after_ms: int | None = None
    created_before_ms: int | None = None


def page_cursor(record: InvocationRecord) -> str:
    """The `before` cursor of `list_invocations` for the page after the one `record` ends
    (opaque to clients: they pass it back as it is)."""
    return f"{record.created_at_ms}.{record.id}"


def parse_page_cursor(cursor: str) -> tuple[int, str]:
    """(created_at_ms, id) of a cursor made by `page_cursor`; ValueError if it is not one."""
    created, dot, invocation_id = cursor.partition(".")
    if not dot or not (created.isascii() and created.isdigit()) or not invocation_id or len(created) > 18:
        raise ValueError(f"not a page cursor: {cursor!r}")
    return int(created), invocation_id


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A registered deployment: where it is, how to talk to it, what it serves (its manifest, as
    discovered: `awaken.protocol.manifest` reads it)."""

    id: str
    uri: str
    http_version: str  # "2" or "1.1"
    protocol_mode: str  # BIDI_STREAM or REQUEST_RESPONSE
    protocol_version: int  # negotiated at registration
    manifest: dict[str, Any]
    additional_headers: dict[str, str]
    sdk_version: str | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class StateRow:
    """One state value of a (service, key), as the admin API's `state` table lists it."""

    service: str
    key: str
    name: str
    value: bytes


class CompletionStatus(StrEnum):
    ACCEPTED = "Accepted"
    PREVIOUSLY_ACCEPTED = "PreviouslyAccepted"


@dataclass(frozen=True, slots=True)
class AwakeableCompletion:
    status: CompletionStatus
    effects: Effects


# Validates a payload against a stored JSON schema: returns error strings (empty: valid).
PayloadValidator = Callable[[dict[str, Any], bytes], list[str]]


class Store(Protocol):
    """Durable state of the engine. SQLite and PostgreSQL implement it."""

    node_id: str  # this engine's identity in leases and notices
    lease_ms: int  # how long a claim is leased before other nodes may take it over
    shared: bool  # whether other nodes may share the database (leases and notices matter)
    version: int  # the schema version of the database, once open
    applied: list[int]  # the migrations that opening it applied

    async def open(self) -> None:
        """Connect, and apply pending migrations."""

    def subscribe(self, listener: NoticeListener) -> None:
        """Call `listener` (on the event loop) with every notice for this node."""

    async def close(self) -> None: ...

    def storage_problem(self) -> str | None:
        """Why the store cannot write now (disk full, locked, ...): the health endpoints answer
        503 with it; None when it writes."""

    async def create_invocation(self, new: NewInvocation, *, durable: bool = True) -> CreateResult:
        """Insert an invocation unless one with this id exists (then return it, created=False).

        A due, non-exclusive invocation is claimed at once. An exclusive one is claimed if its
        (service, key) lock is free, else queued `pending` in arrival order. A delayed one is
        `scheduled` with a START timer.

        `durable=False`: the result may come once the insert is committed, before it is on disk,
        for a caller that acknowledges nothing until a later durable write of this store (which
        makes every earlier commit durable with it). What the result read from another
        invocation (an outcome) may be as fresh: `settled()` before showing it.
        """

    async def settled(self) -> None:
        """Once every write committed so far is on disk."""

    async def commit(self, progress: Progress) -> ProgressResult:
        """Apply one step of a running attempt atomically (see Progress).

        - entries are upserted; AWAKEABLE entries come with their NewAwakeable rows, SLEEP entries
          with their timers, CALL/SEND entries with their child invocations, SIGNAL/SEND_SIGNAL
          entries with their SignalOps (a signal is sent in the write that journals its sending);
        - Complete: stores the outcome, releases the key lock (claiming the next queued
          invocation of that key), closes the invocation's pending awakeables, deletes its timers,
          completes the caller's CALL entry (waking the caller if suspended), schedules PURGE;
        - Suspend: `suspended`, unless an awaited entry is already complete: then a new epoch
          is claimed and returned as `resumed`;
        - Retry: `backing-off` with a RETRY timer, attempts + 1; Pause: `paused`, attempts + 1.
        Raises Conflict if the epoch is stale.
        """

    async def begin_attempt(self, invocation_id: str, now_ms: int) -> Claim | None:
        """Claim a `ready` invocation (or an orphaned `running` one). None if not claimable."""

    async def cancel_invocation(self, invocation_id: str, kill: bool, now_ms: int) -> CancelResult:
        """Cancel (SPEC §4.6): an invocation that has not started ends at once with 409
        `canceled`; a running or suspended one is flagged and its handler raises the
        cancellation at its next await (a suspended one is claimed for that), and the calls it
        waits on are cancelled when it does. Kill: ends at once with 409 `killed`, with the calls
        it waits on. NotFound, or Conflict if it has completed already."""

    async def purge_invocation(self, invocation_id: str) -> None:
        """Delete a completed invocation now (not at the end of its retention). NotFound, or
        Conflict if it has not completed."""

    async def pause_invocation(self, invocation_id: str, now_ms: int) -> None:
        """Pause a running, suspended or backing-off invocation by hand: its attempt is fenced
        out (the caller stops it), completions that arrive meanwhile are stored, and it runs
        again on `resume_invocation`. NotFound, or Conflict in any other status."""

    async def resume_invocation(self, invocation_id: str, now_ms: int) -> Claim:
        """Run a `paused` invocation again (its retries start over). NotFound, or Conflict if
        it is not paused."""

    async def complete_awakeable(
        self, awakeable_id: str, outcome: Outcome, now_ms: int, validate: PayloadValidator
    ) -> AwakeableCompletion:
        """Complete an awakeable (SPEC §3.3). Raises NotFound (unknown id), Gone (expired or its
        invocation ended), Conflict (a different completion was recorded), BadRequest (payload
        fails the awakeable's schema; nothing recorded). A repeated identical completion returns
        PREVIOUSLY_ACCEPTED and changes nothing."""

    async def complete_entry(self, ref: EntryRef, outcome: Outcome, now_ms: int) -> Effects:
        """Complete a journal entry from outside (e.g. an in-memory sleep timer firing); wakes the
        invocation if suspended. No-op if already complete."""

    async def fire_due_timers(self, now_ms: int, limit: int) -> Effects:
        """Fire up to `limit` timers due at `now_ms` (see TimerKind) in one transaction."""

    async def next_timer_ms(self) -> int | None:
        """When the earliest timer fires, if any."""

    async def recover(self, now_ms: int) -> list[Claim]:
        """At start-up: claim what no live node runs (a single-node store: every `ready` or
        `running` invocation; a shared one: those whose lease has expired)."""

    async def claim_orphans(self, now_ms: int, limit: int) -> list[Claim]:
        """Claim invocations whose lease has expired (a shared store; [] otherwise)."""

    async def renew_leases(self, invocation_ids: list[str], now_ms: int) -> set[str]:
        """Extend this node's leases on these invocations; the ids it still holds (an id not
        returned was taken over, paused or killed: its attempt must stop)."""

    async def get_outcomes(
        self, invocation_ids: list[str], *, missing: Callable[[str], Outcome] | None = None
    ) -> dict[str, Outcome]:
        """The outcomes of those of these invocations that have completed; with `missing`, also
        `missing(id)` for each id that no invocation has (any more)."""

    async def watch_invocation(self, invocation_id: str) -> Outcome | None:
        """A node other than the one that created the invocation waits on it: from now on its
        completion is announced to every node (a `COMPLETED` notice); until then only its
        creator hears of it. Its outcome if it has completed already; NotFound if it does not
        exist. Only stores that nodes share need it."""

    async def get_entry_outcome(self, invocation_id: str, index: int) -> Outcome | None: ...

    async def get_invocation(self, invocation_id: str) -> InvocationRecord | None: ...

    async def get_journal(self, invocation_id: str) -> list[Entry]: ...

    async def get_journal_times(self, invocation_id: str) -> list[EntryTimes]:
        """When each entry of the journal was appended and completed, in index order."""

    async def list_invocations(
        self,
        filter: InvocationFilter | None = None,
        limit: int = 100,
        before: str | None = None,
        *,
        status: Status | None = None,
        service: str | None = None,
    ) -> list[InvocationRecord]:
        """Invocations that match `filter`, newest first (by creation time, then id), at most
        `limit`; with `before` (a `page_cursor`), those after that page. `status` and `service`
        are shorthands that narrow `filter`. BadRequest for a malformed cursor."""

    async def count_invocations(self, filter: InvocationFilter | None = None) -> dict[Status, int]:
        """How many invocations are in each status (of those that match `filter`, its statuses
        aside: the counts are what a filter on status would give)."""

    async def list_awakeables(self, *, limit: int = 100) -> list[AwakeableInfo]:
        """Pending awakeables, oldest first."""

    async def get_state(self, service: str, key: str) -> dict[str, bytes]: ...

    async def get_state_value(self, service: str, key: str, name: str) -> bytes | None:
        """One value of a (service, key)'s state (a lazy one an attempt asks for)."""

    async def list_state(
        self, service: str | None = None, key: str | None = None, *, limit: int = 1000
    ) -> list[StateRow]:
        """State values ordered by (service, key, name), of one service or (service, key) when
        given, at most `limit` of them."""

    async def get_invocation_by_protocol_id(self, protocol_id: bytes) -> InvocationRecord | None:
        """The remote invocation that was sent `protocol_id` as its StartMessage.id."""

    async def put_deployment(self, deployment: DeploymentRecord) -> None:
        """Register a deployment, or replace the one with its id."""

    async def list_deployments(self) -> list[DeploymentRecord]:
        """Oldest first (the newest serving a service serves its new invocations)."""

    async def delete_deployment(self, deployment_id: str, force: bool) -> None:
        """NotFound; Conflict if invocations pinned to it have not completed (unless `force`)."""

    async def replace_state(self, service: str, key: str, state: dict[str, bytes]) -> None:
        """Replace the whole state of a (service, key) from outside (the admin API). Conflict
        while an exclusive invocation holds the key: its handler works on the state it read."""


def now_ms_from(clock: Callable[[], float]) -> int:
    return int(clock() * 1000)


def entries_by_index(entries: Sequence[Entry]) -> dict[int, Entry]:
    return {e.index: e for e in entries}


# The values a step's decisions produce are the core's (`awaken.core.effects`): the store takes
# them as they are, and names them here too, beside its own vocabulary.
__all__ = [
    "AwakeableCompletion",
    "AwakeableCompletionRequest",
    "AwakeableInfo",
    "AwakeableStatus",
    "CancelResult",
    "Claim",
    "Complete",
    "CompletionStatus",
    "CreateResult",
    "Delivery",
    "DeploymentRecord",
    "Effects",
    "EntryRef",
    "EntryTimes",
    "InvocationFilter",
    "InvocationRecord",
    "NewAwakeable",
    "NewInvocation",
    "Notice",
    "NoticeKind",
    "NoticeListener",
    "Pause",
    "PayloadValidator",
    "Progress",
    "ProgressResult",
    "PromiseOp",
    "Retry",
    "SignalOp",
    "StateOp",
    "StateRow",
    "Status",
    "Store",
    "Suspend",
    "TimerKind",
    "Transition",
    "entries_by_index",
    "now_ms_from",
    "page_cursor",
    "parse_page_cursor",
]
