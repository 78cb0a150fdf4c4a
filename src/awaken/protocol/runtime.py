"""The runtime side of Restate's service protocol for one attempt of a remote invocation, sans-IO:
the SDK's messages in; journal entries, store effects, replies and the attempt's end out.

`RuntimeMachine.receive` interprets one message and says what comes next:
- `Next.WAIT`: nothing to do but read the next message (a hint, an OutputCommand: the output is
  stored with the attempt's end);
- `Next.WRITE`: store what is pending (`take`: the new entries and their `StepEffects`), then
  send `replies` (answers, acknowledgements), then read on. Every command is stored, with its
  side effects, before anything that depends on it is answered; one that sets nothing in
  motion, or whose answer cannot reach the SDK before the request ends, waits for the next
  write (`RuntimeMachine._next`);
- a need the driver must fetch first, whose answer yields a `Next`: `ReadState` (a state
  value the claim did not load: `state_read`), `ReadOutput` (another invocation's outcome:
  `output_read`), `ResolveCall` (the invocation a call creates, or None if no handler is
  registered under its target: `call_resolved`);
- the attempt's end: `Complete` (End after the output), `Suspend` (the slots a Suspension awaits,
  which must be some; the awakeables it awaits are listed as pending), or `Failed` (the SDK's
  Error, which the retry policy judges: `awaken.core.retry.transition_after_failure`).
What breaks the protocol raises `ProtocolViolation` (the attempt fails with 571).

It lives here, beside the messages it reads, not in `awaken.core`: the core must not know the
protocol. It uses the core the way a local attempt does (`core.effects.StepEffects`: one meaning,
one effect, for both kinds of attempt) and nothing of the engine or the store, so that the
engine's `RemoteAttempt` is only I/O: the stream, the store, the clock, the handler registry.
The arrows still point down: `awaken.core` imports nothing of `awaken.protocol`, and the
package's `__init__` does not import this module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from awaken.core.effects import Complete, EntryRef, NewInvocation, StepEffects, Suspend
from awaken.core.ids import idempotent_invocation_id, workflow_invocation_id
from awaken.core.journal import Entry, Outcome, slot_signal
from awaken.protocol import messages as m
from awaken.protocol.awakeables import awakeable_id
from awaken.protocol.journal import ProtocolViolation, RemoteJournal, awaited_slots, outcome_of

log = logging.getLogger("awaken.engine")


class Next(Enum):
    WAIT = "wait"  # read the next message
    WRITE = "write"  # store what is pending, send the replies, read the next message


@dataclass(frozen=True, slots=True)
class Failed:
    """The SDK's ErrorMessage: the attempt failed (`retry_after_ms`: its `next_retry_delay`)."""

    message: str
    code: int = 500
    retry_after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ReadState:
    """Need: the value of state `name`, which the claim did not load (a large one)."""

    completion_id: int
    name: str


@dataclass(frozen=True, slots=True)
class ReadOutput:
    """Need: the record of invocation `target`: whether it exists, and its outcome if it has one."""

    completion_id: int
    target: str


@dataclass(frozen=True, slots=True)
class ResolveCall:
    """Need: the invocation a call or a one-way call creates, for the handler registered as
    `service`/`handler` (None if there is none); the rest is what the invocation is made of."""

    command: m.CallCommand | m.OneWayCallCommand
    service: str
    handler: str
    key: str | None
    body: bytes
    headers: dict[str, str]
    idempotency_key: str | None
    run_at_ms: int | None  # a delayed one-way call
    caller: EntryRef | None  # a call: the slot its result completes


Need = ReadState | ReadOutput | ResolveCall
Received = Next | Need | Complete | Suspend | Failed


class RuntimeMachine:
    """What the runtime knows and decides during one attempt of a remote invocation."""

    def __init__(
        self,
        invocation_id: str,
        protocol_id: bytes,
        journal: Sequence[Entry],
        state: Mapping[str, bytes],
        lazy_state: Iterable[str],
        keyed: bool,
        *,
        streaming: bool = True,
    ) -> None:
        self.invocation_id = invocation_id
        # Whether replies reach the SDK while it runs (bidirectional mode); in request/response
        # mode nothing does before the request ends, so answers need not be stored before then.
        self.streaming = streaming
        self.protocol_id = protocol_id  # StartMessage.id: the SDK's awakeable ids derive from it
        self.journal = RemoteJournal(journal)
        self.state = dict(state)  # the (service, key)'s state as this attempt changed it
        self.lazy = set(lazy_state)  # names of values not loaded (read when asked for)
        self.keyed = keyed
        self.new: list[Entry] = []  # entries not stored yet
        self.effects = StepEffects()  # their effects
        self.replies: list[m.ProtocolMessage] = []  # to send once they are stored
        self.output: Outcome | None = None

    # -- the journal --------------------------------------------------------------------------
    def add_input(self, command: m.InputCommand) -> None:
        """The first entry of a new journal, which the runtime writes: the invocation's input."""
        self.new.append(self.journal.add_input(command))

    @property
    def pending(self) -> bool:
        """Whether something waits to be stored."""
        return bool(self.new) or not self.effects.empty

    def take(self) -> tuple[list[Entry], StepEffects]:
        """What waits to be stored; it counts as stored from now on (see `put_back`)."""
        taken = self.new, self.effects
        self.new, self.effects = [], StepEffects()
        return taken

    def put_back(self, entries: list[Entry], effects: StepEffects) -> None:
        """What `take` gave, whose write failed: stored with the next write."""
        self.new[:0] = entries
        self.effects.put_back(effects)

    # -- the SDK's messages -------------------------------------------------------------------
    def receive(self, message: m.ProtocolMessage) -> Received:
        """Interpret one message of the SDK (see the module's docstring)."""
        match message:
            case m.EndMessage():
                if self.output is None:
                    raise ProtocolViolation("End without an OutputCommand")
                return Complete(self.output)
            case m.SuspensionMessage():
                return self._suspension(message)
            case m.ErrorMessage():
                return Failed(
                    message.message or "the handler failed", message.code or 500, message.next_retry_delay
                )
            case m.ProposeRunCompletionMessage():
                return self._propose_run(message)
            case m.OutputCommand():
                self.new.append(self.journal.add_command(message))
                self.output = outcome_of(message.result)
                return Next.WAIT
            case m.Command():
                return self._command(message)
            case m.AwaitingOnMessage():
                return Next.WAIT  # a hint (V7)
            case _:
                raise ProtocolViolation(f"unexpected {type(message).__name__} from the SDK")

    def _suspension(self, message: m.SuspensionMessage) -> Suspend:
        slots = awaited_slots(message)
        if not slots:
            raise ProtocolViolation("a suspension that awaits nothing")
        # The awakeables it waits on are listed as pending: the SDKs write no entry when they
        # create one, but their ids follow from StartMessage.id and the signal index.
        for slot in slots:
            signal = slot_signal(slot)
            if signal is None or signal < m.FIRST_AWAKEABLE_SIGNAL_INDEX or slot in self.journal.done:
                continue
            self.effects.awakeable(awakeable_id(self.protocol_id, signal), slot)
        return Suspend(slots)

    def _propose_run(self, message: m.ProposeRunCompletionMessage) -> Next:
        completion_id = message.result_completion_id
        if self.journal.awaits.get(completion_id) is not m.RunCompletionNotification:
            raise ProtocolViolation(
                f"a run result for completion {completion_id}, which no RunCommand asked for"
            )
        outcome = outcome_of(message.result)
        notification = self.journal.notification(completion_id, outcome)
        self.new.append(self.journal.add_notification(completion_id, outcome, notification))
        if not self.streaming:
            return Next.WAIT  # stored with the request's end: no acknowledgement can reach the SDK
        if message.requested_ack:
            self.replies.append(m.ProposeRunCompletionAckMessage(completion_id))
        else:
            self.replies.append(notification)
        return Next.WRITE  # an acknowledged result is stored first

    def _command(self, command: m.Command) -> Next | Need:
        match command:  # times the SDK chose: a timer or a start at a time no clock reaches is refused
            case m.SleepCommand():
                _check_time(command.wake_up_time, "a sleep's wake-up time")
            case m.OneWayCallCommand():
                _check_time(command.invoke_time, "a one-way call's start time")
        entry = self.journal.add_command(command)
        self.new.append(entry)
        effects = self.effects
        match command:
            case m.SetStateCommand():
                name, value = _name(command.key), (command.value.content if command.value else b"")
                effects.set_state(name, value)
                self.state[name] = value
                self.lazy.discard(name)
            case m.ClearStateCommand():
                name = _name(command.key)
                effects.clear_state(name)
                self.state.pop(name, None)
                self.lazy.discard(name)
            case m.ClearAllStateCommand():
                effects.clear_all_state()
                self.state.clear()
                self.lazy.clear()
            case m.GetLazyStateCommand():
                name = _name(command.key)
                if name in self.state:
                    self._answer(command.result_completion_id, Outcome(self.state[name]))
                elif name in self.lazy and self.keyed:
                    return ReadState(command.result_completion_id, name)
                else:
                    self._answer(command.result_completion_id, Outcome(None))
            case m.GetLazyStateKeysCommand():
                keys = sorted(self.state.keys() | self.lazy)
                self._answer(command.result_completion_id, Outcome(json.dumps(keys).encode()))
            case m.SleepCommand():
                effects.sleep(command.result_completion_id, int(command.wake_up_time))
            case m.CallCommand() | m.OneWayCallCommand():
                return self._call(command)
            case m.CompleteAwakeableCommand():
                effects.complete_awakeable(entry.index, command.awakeable_id, outcome_of(command.result))
            case m.GetPromiseCommand():
                effects.get_promise(command.result_completion_id, command.key)
            case m.PeekPromiseCommand():
                effects.peek_promise(command.result_completion_id, command.key)
            case m.CompletePromiseCommand():
                effects.complete_promise(
                    command.result_completion_id, command.key, outcome_of(command.completion)
                )
            case m.AttachInvocationCommand():
                effects.attach(command.result_completion_id, _target(command.target))
            case m.GetInvocationOutputCommand():
                return ReadOutput(command.result_completion_id, _target(command.target))
            case m.SendSignalCommand():
                if command.signal_id == m.CANCEL_SIGNAL_INDEX:
                    effects.cancel(command.target_invocation_id)
                elif isinstance(command.signal_id, str):  # a named signal: the local rule
                    outcome = outcome_of(command.result)
                    effects.send_signal(entry.index, command.signal_id, command.target_invocation_id, outcome)
                else:
                    log.warning(
                        "invocation %s: signal %r to another invocation is not supported",
                        self.invocation_id,
                        command.signal_id,
                    )
            case _:
                pass  # recorded: eager state reads, runs (their result comes proposed), custom entries
        return self._next()

    def _call(self, command: m.CallCommand | m.OneWayCallCommand) -> ResolveCall:
        caller = None
        run_at = None
        if isinstance(command, m.CallCommand):
            caller = EntryRef(self.invocation_id, command.result_completion_id)
        elif command.invoke_time:
            run_at = int(command.invoke_time)
        return ResolveCall(
            command,
            command.service_name,
            command.handler_name,
            command.key or None,
            command.parameter,
            {h.key: h.value for h in command.headers},
            command.idempotency_key,
            run_at,
            caller,
        )

    # -- what the driver fetched --------------------------------------------------------------
    def state_read(self, need: ReadState, value: bytes | None) -> Next:
        self.lazy.discard(need.name)
        if value is not None:
            self.state[need.name] = value
        self._answer(need.completion_id, Outcome(value))
        return self._next()

    def output_read(self, need: ReadOutput, exists: bool, outcome: Outcome | None) -> Next:
        if not exists:
            result = Outcome.fail(404, "invocation not found")
        else:
            result = outcome if outcome is not None else Outcome()
        self._answer(need.completion_id, result)
        return self._next()

    def call_resolved(self, need: ResolveCall, new: NewInvocation | None) -> Next:
        command = need.command
        invocation_id = ""
        if new is not None:
            self.effects.child(new)
            invocation_id = new.id
        elif isinstance(command, m.CallCommand):
            missing = Outcome.fail(404, f"service '{need.service}/{need.handler}' not found")
            self.new.append(self.journal.add_notification(command.result_completion_id, missing))
        slot = command.invocation_id_notification_idx
        notification = m.CallInvocationIdCompletionNotification(slot, invocation_id)
        self._answer(slot, Outcome(invocation_id.encode()), notification)
        return self._next()

    def _next(self) -> Next:
        """Whether what the commands so far asked for must be stored now (WRITE) or may go with
        the next write (WAIT). Commands are stored before anything that depends on them is
        answered, and their effects (a timer, a call, a promise...) start when they are stored,
        so those go at once. A command that only changes the state or records a `ctx.run` goes
        with the next write, and in request/response mode so do answers, which cannot reach the
        SDK before the request ends: a 1-step handler then costs one write per request rather
        than three. Nothing of this is acknowledged before it is stored; lost with the attempt,
        it is sent again by the SDK's replay."""
        if (self.replies and self.streaming) or self.effects.start_something:
            return Next.WRITE
        return Next.WAIT

    def _answer(self, slot: int, outcome: Outcome, message: m.Notification | None = None) -> None:
        """A notification answered at once: stored with the command, sent once stored."""
        notification = message if message is not None else self.journal.notification(slot, outcome)
        self.new.append(self.journal.add_notification(slot, outcome, notification))
        self.replies.append(notification)


def _target(target: Any) -> str:
    match target:
        case str():
            return target
        case m.WorkflowTarget():
            return workflow_invocation_id(target.workflow_name, target.workflow_key)
        case m.IdempotentRequestTarget():
            return idempotent_invocation_id(
                target.service_name, target.service_key, target.handler_name, target.idempotency_key
            )
        case _:
            raise ProtocolViolation("a command names no target invocation")


# Milliseconds since the Unix epoch of the last moment of the year 9999: the latest time that a
# timer may be set for (PostgreSQL's and SQLite's integers hold some 290 million years more, but
# no clock will read them).
LATEST_TIME_MS = 253_402_300_799_999


def _check_time(ms: int, what: str) -> None:
    if not 0 <= ms <= LATEST_TIME_MS:
        raise ProtocolViolation(f"{what} is {ms} ms since 1970, not a time")


def _name(key: bytes) -> str:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolViolation("a state key that is not UTF-8") from exc


__all__ = [
    "Failed",
    "Need",
    "Next",
    "ReadOutput",
    "ReadState",
    "Received",
    "ResolveCall",
    "RuntimeMachine",
]
