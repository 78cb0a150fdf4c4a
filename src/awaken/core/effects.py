"""What one step of an attempt asks of the store, and how an attempt ends: pure values, and the
rules that make them from a journal.

Both kinds of attempt (a handler of this process, journaled as `core.journal` entries; a
handler served elsewhere, journaled as protocol messages: `awaken.protocol.runtime`) decide
the same effects with the same builder, `StepEffects`: a state change, a timer, a child
invocation, an awakeable, a promise or signal operation, a cancellation. The store applies them
(`awaken.storage.protocol.Progress` carries them with the journal writes); this module never
touches it, nor a clock, nor I/O.

- `StepEffects`: the effects of one step, one method per meaning;
- `entry_effects`: what each new entry of a local journal means (the rules by `EntryKind`);
- `completion`: the end of a local attempt, with the hints its journal gives the store;
- the transitions an attempt ends with (`Suspend`, `Complete`, `Retry`, `Pause`); the retry
  decision that picks one after a failure is `awaken.core.retry.transition_after_failure`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from awaken.core.journal import LARGE_VALUE, Entry, EntryKind, Outcome


@dataclass(frozen=True, slots=True)
class EntryRef:
    """An entry of an invocation's journal: by index for a local handler, by slot (a completion
    id, or a signal: core.journal.signal_slot) for one served elsewhere."""

    invocation_id: str
    index: int


@dataclass(frozen=True, slots=True)
class NewInvocation:
    id: str
    service: str
    handler: str
    key: str | None
    exclusive: bool  # takes the (service, key) lock: exclusive virtual object handlers
    input: bytes
    headers: dict[str, str]
    now_ms: int
    retention_ms: int
    idempotency_key: str | None = None
    run_at_ms: int | None = None  # a delayed send; None: now
    caller: EntryRef | None = None  # a CALL entry to complete with this invocation's outcome
    # A workflow's main handler: when it is purged (retention), its key's state and promises go.
    workflow_main: bool = False
    # A handler served elsewhere: the deployment it is pinned to, the protocol version spoken
    # with it, and the random id sent to it as StartMessage.id (its awakeable ids derive from it).
    deployment_id: str | None = None
    protocol_version: int | None = None
    protocol_id: bytes | None = None


@dataclass(frozen=True, slots=True)
class StateOp:
    """A state change of the invocation's (service, key): set (value), clear (value None),
    clear all (name None)."""

    name: str | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class NewAwakeable:
    id: str
    index: int  # the AWAKEABLE entry it completes
    deadline_ms: int | None
    schema: dict[str, Any] | None  # JSON schema the payload must satisfy


@dataclass(frozen=True, slots=True)
class AwakeableCompletionRequest:
    """A COMPLETE_AWAKEABLE entry of the writing invocation: the store completes the target
    awakeable and records the result (success, or failure 400/404/409/410) as that entry's
    outcome, in the same transaction."""

    index: int
    awakeable_id: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class PromiseOp:
    """A promise entry of a workflow handler, on the promise `name` of its (service, key).

    - get: the entry is completed with the promise's outcome, now or when it is completed;
    - peek: completed now, with the outcome or (not completed yet) an empty value;
    - complete: completes the promise with `outcome` (the entry gets an empty success), or fails
      the entry with 409 if the promise was already completed.
    The store reports the entries it completed at once in `ProgressResult.entry_outcomes`."""

    index: int
    action: Literal["get", "peek", "complete"]
    name: str
    outcome: Outcome | None = None  # for complete


@dataclass(frozen=True, slots=True)
class SignalOp:
    """A named-signal entry of the writing invocation.

    - await: SIGNAL entry `index` is the `ordinal`-th await of signal `name` by this invocation:
      it is completed with the `ordinal`-th signal of that name sent to it (by arrival), now if it
      has arrived (reported in `ProgressResult.entry_outcomes`), else when it does;
    - send: sends signal `name` with `outcome` to invocation `target`. An unknown or completed
      target (or one served elsewhere, which cannot receive named signals) drops it silently.
    """

    index: int
    action: Literal["await", "send"]
    name: str
    ordinal: int = 0  # for await
    target: str = ""  # for send
    outcome: Outcome | None = None  # for send


@dataclass(frozen=True, slots=True)
class Suspend:
    waiting_on: list[int]  # entry indices; if one is already complete, the store resumes instead


@dataclass(frozen=True, slots=True)
class Complete:
    outcome: Outcome
    # Hints from the attempt, which knows its whole journal: False when it holds no pending
    # timer (sleep, awakeable deadline) or no pending awakeable, so the store can skip the
    # clean-up. True (the safe default) makes the store look.
    open_timers: bool = True
    open_awakeables: bool = True


@dataclass(frozen=True, slots=True)
class Retry:
    run_at_ms: int
    failure: str


@dataclass(frozen=True, slots=True)
class Pause:
    failure: str


Transition = Suspend | Complete | Retry | Pause | None


class StepEffects:
    """The store effects of one step of an attempt (what its new journal entries set in motion),
    collected in journal order; an attempt hands them to the store with the entries.

    Mutable on purpose: a driver fills one per write and starts a new one after it (or puts a
    failed write's effects back in front of the next one's with `put_back`)."""

    __slots__ = (
        "attaches",
        "awakeable_completions",
        "awakeables",
        "cancels",
        "children",
        "promises",
        "signals",
        "sleeps",
        "state",
    )

    def __init__(self) -> None:
        self.state: list[StateOp] = []
        self.awakeables: list[NewAwakeable] = []
        self.sleeps: list[tuple[int, int]] = []  # (entry index, wake at ms)
        self.children: list[NewInvocation] = []
        self.awakeable_completions: list[AwakeableCompletionRequest] = []
        self.attaches: list[tuple[int, str]] = []  # (entry index, target invocation id)
        self.promises: list[PromiseOp] = []
        self.signals: list[SignalOp] = []
        self.cancels: list[str] = []  # invocation ids

    # -- state -------------------------------------------------------------------------------
    def set_state(self, name: str, value: bytes) -> None:
        self.state.append(StateOp(name, value))

    def clear_state(self, name: str) -> None:
        self.state.append(StateOp(name, None))

    def clear_all_state(self) -> None:
        self.state.append(StateOp(None, None))

    # -- waiting -----------------------------------------------------------------------------
    def sleep(self, index: int, wake_at_ms: int) -> None:
        """A timer that completes entry `index` (empty success) at `wake_at_ms`."""
        self.sleeps.append((index, wake_at_ms))

    def awakeable(
        self,
        awakeable_id: str,
        index: int,
        deadline_ms: int | None = None,
        schema: dict[str, Any] | None = None,
    ) -> None:
        """A pending awakeable that completes entry `index` when it is resolved or rejected."""
        self.awakeables.append(NewAwakeable(awakeable_id, index, deadline_ms, schema))

    def attach(self, index: int, target: str) -> None:
        """Entry `index` completes with invocation `target`'s outcome (404 if there is none)."""
        self.attaches.append((index, target))

    # -- other invocations -------------------------------------------------------------------
    def child(self, new: NewInvocation) -> None:
        """An invocation this step creates (a call, whose `caller` the store completes, or a send)."""
        self.children.append(new)

    def cancel(self, target: str) -> None:
        self.cancels.append(target)

    def complete_awakeable(self, index: int, awakeable_id: str, outcome: Outcome) -> None:
        self.awakeable_completions.append(AwakeableCompletionRequest(index, awakeable_id, outcome))

    def get_promise(self, index: int, name: str) -> None:
        self.promises.append(PromiseOp(index, "get", name))

    def peek_promise(self, index: int, name: str) -> None:
        self.promises.append(PromiseOp(index, "peek", name))

    def complete_promise(self, index: int, name: str, outcome: Outcome) -> None:
        self.promises.append(PromiseOp(index, "complete", name, outcome))

    def await_signal(self, index: int, name: str, ordinal: int) -> None:
        self.signals.append(SignalOp(index, "await", name, ordinal=ordinal))

    def send_signal(self, index: int, name: str, target: str, outcome: Outcome) -> None:
        self.signals.append(SignalOp(index, "send", name, target=target, outcome=outcome))

    # -- handing over ------------------------------------------------------------------------
    @property
    def start_something(self) -> bool:
        """Whether storing these sets something in motion (a timer, an invocation, a
        completion...) rather than only changing the state."""
        return bool(
            self.awakeables
            or self.sleeps
            or self.children
            or self.awakeable_completions
            or self.attaches
            or self.promises
            or self.signals
            or self.cancels
        )

    @property
    def empty(self) -> bool:
        return not (self.state or self.start_something)

    def put_back(self, earlier: StepEffects) -> None:
        """Put the effects of a write that failed in front of these, to go with the next one."""
        self.state[:0] = earlier.state
        self.awakeables[:0] = earlier.awakeables
        self.sleeps[:0] = earlier.sleeps
        self.children[:0] = earlier.children
        self.awakeable_completions[:0] = earlier.awakeable_completions
        self.attaches[:0] = earlier.attaches
        self.promises[:0] = earlier.promises
        self.signals[:0] = earlier.signals
        self.cancels[:0] = earlier.cancels


def start_delay_ms(run_at_ms: int | None, now_ms: int) -> int | None:
    """How long a send asked to start at `run_at_ms` waits (at least 1 ms); None: it starts now."""
    if run_at_ms and run_at_ms > now_ms:
        return max(1, run_at_ms - now_ms)
    return None


def _outcome_in(entry: Entry) -> Outcome:
    """The outcome an entry carries to its target (a promise's, a signal's, an awakeable's)."""
    d = entry.data
    return Outcome.fail(d["code"], d["message"]) if "code" in d else Outcome(entry.payload)


def entry_effects(
    entries: list[Entry],
    written: int,
    effects: StepEffects,
    child: Callable[[Entry], NewInvocation | None],
) -> tuple[Entry, ...]:
    """The effects of the entries of a local journal about to be written (those from index
    `written` on are new; the others only change their outcome), added to `effects`.

    `child` gives the invocation a CALL or SEND entry creates, or None when its target is not
    registered. `entries` is rewritten in place where the stored entry differs from the one in
    memory: a large state value is stored as its size (the state holds it), a CALL to nothing
    is stored failed (404). Returns the entries this completed: the caller's journal must see
    those outcomes too."""
    completed: tuple[Entry, ...] = ()
    for position, entry in enumerate(entries):
        if entry.index < written:
            continue  # already stored: only its outcome changes
        match entry.kind:
            case EntryKind.SET_STATE:
                payload = entry.payload or b""
                effects.set_state(entry.name, payload)
                if len(payload) > LARGE_VALUE:
                    # Replay needs no copy of a value the state holds: keep only its size.
                    entries[position] = Entry(entry.index, entry.kind, entry.name, {"size": len(payload)})
            case EntryKind.CLEAR_STATE:
                effects.clear_state(entry.name)
            case EntryKind.CLEAR_ALL_STATE:
                effects.clear_all_state()
            case EntryKind.AWAKEABLE:
                d = entry.data
                effects.awakeable(d["id"], entry.index, d.get("deadline"), d.get("schema"))
            case EntryKind.SLEEP:
                effects.sleep(entry.index, int(entry.data["wake_at"]))
            case EntryKind.CALL | EntryKind.SEND:
                new = child(entry)
                if new is not None:
                    effects.child(new)
                elif entry.kind is EntryKind.CALL:
                    missing = entry.with_outcome(
                        Outcome.fail(404, f"no handler {entry.name!r} is registered")
                    )
                    entries[position] = missing
                    completed += (missing,)
            case EntryKind.ATTACH:
                effects.attach(entry.index, entry.name)
            case EntryKind.CANCEL:
                effects.cancel(entry.name)
            case EntryKind.GET_PROMISE:
                effects.get_promise(entry.index, entry.name)
            case EntryKind.PEEK_PROMISE:
                effects.peek_promise(entry.index, entry.name)
            case EntryKind.COMPLETE_PROMISE:
                effects.complete_promise(entry.index, entry.name, _outcome_in(entry))
            case EntryKind.SIGNAL:
                effects.await_signal(entry.index, entry.name, entry.data["ordinal"])
            case EntryKind.SEND_SIGNAL:
                target = entry.data["invocation_id"]
                effects.send_signal(entry.index, entry.name, target, _outcome_in(entry))
            case EntryKind.COMPLETE_AWAKEABLE:
                effects.complete_awakeable(entry.index, entry.name, _outcome_in(entry))
            case _:
                pass  # journaled only: runs, state reads, waits, markers
    return completed


def completion(journal: Iterable[Entry], outcome: Outcome) -> Complete:
    """The end of a local attempt, with what its journal tells about timers and awakeables left
    open (the store skips their clean-up when there are none)."""
    open_timers = open_awakeables = False
    for entry in journal:
        if entry.outcome is not None:
            continue
        if entry.kind is EntryKind.SLEEP:
            open_timers = True
        elif entry.kind is EntryKind.AWAKEABLE:
            open_awakeables = True
            open_timers = open_timers or entry.data.get("deadline") is not None
    return Complete(outcome, open_timers, open_awakeables)


__all__ = [
    "AwakeableCompletionRequest",
    "Complete",
    "EntryRef",
    "NewAwakeable",
    "NewInvocation",
    "Pause",
    "PromiseOp",
    "Retry",
    "SignalOp",
    "StateOp",
    "StepEffects",
    "Suspend",
    "Transition",
    "completion",
    "entry_effects",
    "start_delay_ms",
]
