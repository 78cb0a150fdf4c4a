"""An attempt of an invocation whose handler is served elsewhere: the runtime side of Restate's
service protocol (SPEC §8), in both modes.

The attempt opens a request to the deployment (`POST {uri}/invoke/{service}/{handler}`), sends
a StartMessage and the journal, and then reads what the SDK sends: commands (each stored, with
its side effects, before anything that depends on it is answered), proposed `ctx.run` results
(stored, then acknowledged), and one terminator: End after the Output (the invocation
completes), a Suspension (it waits, with nothing open), or an Error (it is retried under the
policy, `next_retry_delay` respected).

- request/response (HTTP/1.1, FaaS): the SDK writes until it needs what it does not have, then
  suspends and the request ends; whatever completes later starts a new request that replays the
  journal. Nothing is open while the invocation waits.
- bidirectional (HTTP/2): the request stays open; completions stored meanwhile are pushed into
  it; after `inactivity` seconds with nothing to say either way, the input is closed, which asks
  the SDK to suspend, as Restate does.

A deployment is untrusted: every failure of the endpoint (refused, 5xx, garbage, wrong content
type, a protocol violation, silence) fails the attempt with a clear error and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from awaken.core.ids import idempotent_invocation_id, workflow_invocation_id
from awaken.core.journal import Entry, Outcome, slot_signal
from awaken.core.retry import after_failure
from awaken.engine.remote_journal import (
    PROTOCOL_VIOLATION,
    ProtocolViolation,
    RemoteJournal,
    awaited_slots,
    outcome_of,
)
from awaken.errors import Conflict, Fenced, NotFound, StorageError
from awaken.protocol import CodecError, DeploymentError, DeploymentTimeout, ProtocolVersion, awakeable_id
from awaken.protocol import messages as m
from awaken.protocol.deployment import InvocationStream
from awaken.protocol.manifest import ProtocolMode
from awaken.sdk.service import HandlerDescriptor
from awaken.storage.protocol import (
    AwakeableCompletionRequest,
    Claim,
    Complete,
    DeploymentRecord,
    EntryRef,
    NewAwakeable,
    Pause,
    Progress,
    ProgressResult,
    PromiseOp,
    Retry,
    SignalOp,
    StateOp,
    Suspend,
    Transition,
)

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

log = logging.getLogger("awaken.engine")


class _Failed(Exception):
    """The attempt failed (the deployment's error, or ours): retried under the policy."""

    def __init__(self, message: str, code: int = 500, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_ms = retry_after_ms


class RemoteAttempt:
    """One attempt of a remote invocation; the engine's Attempt interface (start, deliver,
    request_cancel, abort, closing)."""

    def __init__(
        self, engine: Engine, claim: Claim, spec: HandlerDescriptor, deployment: DeploymentRecord
    ) -> None:
        self.engine = engine
        self.record = claim.record
        self.spec = spec
        self.deployment = deployment
        self.epoch = claim.record.epoch
        self.journal = RemoteJournal(claim.journal)
        self._state = dict(claim.state)
        self._lazy = set(claim.lazy_state)
        self._stream: InvocationStream | None = None
        self._main: asyncio.Task[None] | None = None
        self._outbox: list[m.ProtocolMessage] = []
        self._sending: asyncio.Task[None] | None = None
        self._last_activity = 0.0
        self.closing = False
        self._output: Outcome | None = None
        self._new: list[Entry] = []
        self._progress: dict[str, list[Any]] = self._empty()
        self.bidi = (
            deployment.protocol_mode == ProtocolMode.BIDI_STREAM.value and deployment.http_version == "2"
        )

    @staticmethod
    def _empty() -> dict[str, list[Any]]:
        return {
            k: []
            for k in (
                "state",
                "sleeps",
                "children",
                "attaches",
                "promises",
                "completions",
                "cancels",
                "signals",
                "awakeables",
            )
        }

    # -- the engine's interface -----------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._main = asyncio.get_running_loop().create_task(
            self._run(), name=f"awaken-remote-{self.record.id}"
        )
        return self._main

    def deliver(self, slot: int, outcome: Outcome) -> None:
        """A completion the store recorded for this invocation: pushed into the open stream."""
        if self.closing:
            return
        message = self.journal.delivered(slot, outcome)
        if message is not None and self.bidi:
            self._send(message)

    def request_cancel(self) -> bool:
        return not self.closing  # the cancellation is a signal the store records and delivers

    def abort(self) -> None:
        if self.closing:
            return
        self.closing = True
        if self._main is not None:
            self._main.cancel()

    # -- the stream -----------------------------------------------------------------------------
    def _send(self, *messages: m.ProtocolMessage) -> None:
        if not self.bidi or self._stream is None:
            return
        self._outbox.extend(messages)
        self._last_activity = time.monotonic()
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._flush_outbox())

    async def _flush_outbox(self) -> None:
        stream = self._stream
        while self._outbox and stream is not None:
            batch, self._outbox = self._outbox, []
            try:
                await stream.send(*batch)
            except (DeploymentError, OSError) as exc:  # the stream is gone: the reader sees it too
                log.debug("invocation %s: could not push to the deployment: %s", self.record.id, exc)
                return

    def _start_message(self, known: int) -> m.StartMessage:
        record = self.record
        eager = not (self.spec.enable_lazy_state or False)
        state_map = (
            tuple(m.StateEntry(k.encode(), v) for k, v in sorted(self._state.items())) if eager else ()
        )
        protocol_id = record.protocol_id or b""
        seed = int.from_bytes(hashlib.sha256(protocol_id).digest()[:8], "big")
        return m.StartMessage(
            id=protocol_id,
            debug_id=record.id,
            known_entries=known,
            state_map=state_map,
            partial_state=bool(self._lazy) or not eager,
            key=record.key or "",
            retry_count_since_last_stored_entry=record.attempts,
            duration_since_last_stored_entry=max(0, self.engine.now_ms() - record.modified_at_ms),
            random_seed=seed,
        )

    def _inactivity_s(self) -> float:
        configured = self.spec.inactivity_timeout
        if configured is not None:
            return max(configured.total_seconds(), 0.0)
        return 0.0 if self.engine.config.suspend_after <= 0 else self.engine.config.remote_inactivity

    # -- the attempt ----------------------------------------------------------------------------
    async def _run(self) -> None:
        record = self.record
        try:
            transition = await self._converse()
        except asyncio.CancelledError:
            self.closing = True
            await self._close()
            raise
        except (Fenced, Conflict) as exc:
            log.info("invocation %s: remote attempt at epoch %d stopped: %s", record.id, self.epoch, exc)
            self.engine.metrics.attempts_lost += 1
            self.closing = True
            await self._close()
            return
        except StorageError as exc:
            log.warning("invocation %s: remote attempt abandoned: %s", record.id, exc)
            self.closing = True
            await self._close()
            self.engine.attempt_abandoned(record.id, exc)
            return
        except _Failed as exc:
            transition = self._failure(exc)
        self.closing = True
        await self._close()  # releases the stream without waiting (a reset, or a background read)
        try:
            result = await self._commit(transition)
        except Fenced as exc:
            log.info("invocation %s: remote attempt at epoch %d stopped: %s", record.id, self.epoch, exc)
            return
        except (StorageError, Conflict) as exc:
            log.warning("invocation %s: could not record the attempt's end: %s", record.id, exc)
            self.engine.attempt_abandoned(record.id, exc)
            return
        if result.resumed is not None:
            self.engine.start_attempt(result.resumed)

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        if self._sending is not None:
            self._sending.cancel()
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.aclose()

    def _failure(self, exc: _Failed) -> Transition:
        attempts = self.record.attempts + 1
        message = f"[{exc.code}] {exc}"
        log.warning("invocation %s attempt %d failed: %s", self.record.id, attempts, message)
        policy = self.engine.retry_policy_for(self.spec)
        decision = after_failure(policy, attempts, self.engine.now_ms(), exc.retry_after_ms)
        if decision.action == "kill":
            return Complete(Outcome.fail(500, f"retries exhausted: {message}"))
        if decision.action == "pause":
            return Pause(message)
        return Retry(decision.run_at_ms, message)

    async def _converse(self) -> Transition:
        record, deployment = self.record, self.deployment
        if self.journal.known_entries == 0:
            headers = tuple(m.Header(k, v) for k, v in sorted(record.headers.items()))
            self._new.append(self.journal.add_input(m.InputCommand(headers, m.Value(record.input))))
        replay = self.journal.replay()
        start = self._start_message(self.journal.known_entries)
        timeouts = self.engine.config.remote_timeouts
        mode = ProtocolMode(deployment.protocol_mode) if self.bidi else ProtocolMode.REQUEST_RESPONSE
        try:
            self._stream = await self.engine.deployments.client.invoke(
                deployment.uri,
                record.service,
                record.handler,
                ProtocolVersion(deployment.protocol_version),
                [start, *replay.messages],
                mode=mode,
                http_version="2" if deployment.http_version == "2" else "1.1",
                headers=deployment.additional_headers,
            )
        except (DeploymentError, CodecError) as exc:
            raise _Failed(f"the deployment at {deployment.uri} failed: {exc}") from exc
        inactivity = self._inactivity_s()
        ended_input = not self.bidi
        self._last_activity = time.monotonic()
        while True:
            if ended_input:
                wait = timeouts.read
            else:
                wait = max(0.0, inactivity - (time.monotonic() - self._last_activity))
            try:
                message = await self._stream.receive(wait)
            except DeploymentTimeout as exc:
                if ended_input:
                    raise _Failed(f"the deployment at {deployment.uri} failed: {exc}") from exc
                if time.monotonic() - self._last_activity < inactivity:
                    continue  # something was pushed meanwhile: wait again
                ended_input = True  # nothing either way for a while: ask the SDK to suspend
                with contextlib.suppress(DeploymentError):
                    await self._stream.end_input()
                continue
            except (DeploymentError, CodecError) as exc:
                raise _Failed(f"the deployment at {deployment.uri} failed: {exc}") from exc
            if message is None:
                raise _Failed("the deployment ended the stream without End, Suspension or Error", 571)
            self._last_activity = time.monotonic()
            transition = await self._handle(message)
            if transition is not None:
                return transition

    # -- one message ----------------------------------------------------------------------------
    async def _handle(self, message: m.ProtocolMessage) -> Transition | None:
        try:
            match message:
                case m.EndMessage():
                    if self._output is None:
                        raise ProtocolViolation("End without an OutputCommand")
                    return Complete(self._output)
                case m.SuspensionMessage():
                    slots = awaited_slots(message)
                    if not slots:
                        raise ProtocolViolation("a suspension that awaits nothing")
                    self._note_awakeables(slots)
                    return Suspend(slots)
                case m.ErrorMessage():
                    return self._failure(
                        _Failed(
                            message.message or "the handler failed",
                            message.code or 500,
                            message.next_retry_delay,
                        )
                    )
                case m.ProposeRunCompletionMessage():
                    await self._propose_run(message)
                case m.OutputCommand():
                    self._new.append(self.journal.add_command(message))
                    self._output = outcome_of(message.result)
                case m.Command():
                    await self._command(message)
                case m.AwaitingOnMessage():
                    pass  # a hint (V7)
                case _:
                    raise ProtocolViolation(f"unexpected {type(message).__name__} from the SDK")
        except ProtocolViolation as exc:
            raise _Failed(f"protocol violation: {exc}", PROTOCOL_VIOLATION) from exc
        return None

    def _note_awakeables(self, slots: list[int]) -> None:
        """The awakeables a suspension waits on, listed as pending: the SDKs write no entry when
        they create one, but their ids follow from StartMessage.id and the signal index."""
        start_id = self.record.protocol_id or b""
        for slot in slots:
            signal = slot_signal(slot)
            if signal is None or signal < m.FIRST_AWAKEABLE_SIGNAL_INDEX or slot in self.journal.done:
                continue
            self._progress["awakeables"].append(
                NewAwakeable(awakeable_id(start_id, signal), slot, None, None)
            )

    async def _propose_run(self, message: m.ProposeRunCompletionMessage) -> None:
        completion_id = message.result_completion_id
        if self.journal.awaits.get(completion_id) is not m.RunCompletionNotification:
            raise ProtocolViolation(
                f"a run result for completion {completion_id}, which no RunCommand asked for"
            )
        outcome = outcome_of(message.result)
        notification = self.journal.notification(completion_id, outcome)
        self._new.append(self.journal.add_notification(completion_id, outcome, notification))
        if not self.bidi:
            return  # nothing reaches the SDK before this request ends: stored with its end
        await self._flush()  # an acknowledged result is durable
        if message.requested_ack:
            self._send(m.ProposeRunCompletionAckMessage(completion_id))
        else:
            self._send(notification)

    async def _command(self, command: m.Command) -> None:
        p = self._progress
        answers: list[tuple[int, Outcome, m.Notification | None]] = []
        entry = self.journal.add_command(command)
        self._new.append(entry)
        now = self.engine.now_ms()
        match command:
            case m.SetStateCommand():
                name, value = self._name(command.key), (command.value.content if command.value else b"")
                p["state"].append(StateOp(name, value))
                self._state[name] = value
                self._lazy.discard(name)
            case m.ClearStateCommand():
                name = self._name(command.key)
                p["state"].append(StateOp(name, None))
                self._state.pop(name, None)
                self._lazy.discard(name)
            case m.ClearAllStateCommand():
                p["state"].append(StateOp(None, None))
                self._state.clear()
                self._lazy.clear()
            case m.GetLazyStateCommand():
                found_value = await self._read_state(self._name(command.key))
                answers.append((command.result_completion_id, Outcome(found_value), None))
            case m.GetLazyStateKeysCommand():
                keys = sorted(self._state.keys() | self._lazy)
                answers.append((command.result_completion_id, Outcome(json.dumps(keys).encode()), None))
            case m.SleepCommand():
                p["sleeps"].append((command.result_completion_id, int(command.wake_up_time)))
            case m.CallCommand() | m.OneWayCallCommand():
                answers.append(self._call(command, now))
            case m.CompleteAwakeableCommand():
                outcome = outcome_of(command.result)
                p["completions"].append(
                    AwakeableCompletionRequest(entry.index, command.awakeable_id, outcome)
                )
            case m.GetPromiseCommand():
                p["promises"].append(PromiseOp(command.result_completion_id, "get", command.key))
            case m.PeekPromiseCommand():
                p["promises"].append(PromiseOp(command.result_completion_id, "peek", command.key))
            case m.CompletePromiseCommand():
                outcome = outcome_of(command.completion)
                p["promises"].append(
                    PromiseOp(command.result_completion_id, "complete", command.key, outcome)
                )
            case m.AttachInvocationCommand():
                p["attaches"].append((command.result_completion_id, self._target(command.target)))
            case m.GetInvocationOutputCommand():
                found = await self.engine.store.get_invocation(self._target(command.target))
                if found is None:
                    result = Outcome.fail(404, "invocation not found")
                else:
                    result = found.outcome if found.outcome is not None else Outcome()
                answers.append((command.result_completion_id, result, None))
            case m.SendSignalCommand():
                if command.signal_id == m.CANCEL_SIGNAL_INDEX:
                    p["cancels"].append(command.target_invocation_id)
                elif isinstance(command.signal_id, str):  # a named signal: the local rule
                    outcome = outcome_of(command.result)
                    p["signals"].append(
                        SignalOp(
                            entry.index,
                            "send",
                            command.signal_id,
                            target=command.target_invocation_id,
                            outcome=outcome,
                        )
                    )
                else:
                    log.warning(
                        "invocation %s: signal %r to another invocation is not supported",
                        self.record.id,
                        command.signal_id,
                    )
            case _:
                pass  # recorded: eager state reads, runs (their result comes proposed), custom entries
        for slot, outcome, message in answers:
            self._new.append(self.journal.add_notification(slot, outcome, message))
        if not self._effects_due(bool(answers)):
            return
        await self._flush()
        for slot, outcome, message in answers:
            self._send(message if message is not None else self.journal.notification(slot, outcome))

    def _effects_due(self, answered: bool) -> bool:
        """Whether what the commands so far asked for must be stored now rather than with the
        next write. Commands are stored before anything that depends on them is answered, and
        their effects (a timer, a call, a promise...) start when they are stored, so those go at
        once. A command that only changes the state or records a `ctx.run` goes with the next
        write, and in request/response mode so do answers, which cannot reach the SDK before
        the request ends: a 1-step handler then costs one write per request rather than three.
        Nothing of this is acknowledged before it is stored; lost with the attempt, it is sent
        again by the SDK's replay."""
        if answered and self.bidi:
            return True
        return any(ops for kind, ops in self._progress.items() if kind != "state")

    def _call(
        self, command: m.CallCommand | m.OneWayCallCommand, now: int
    ) -> tuple[int, Outcome, m.Notification | None]:
        engine = self.engine
        key = command.key or None
        invocation_id = ""
        try:
            target = engine.handler(command.service_name, command.handler_name)
        except NotFound:
            target = None
        if target is not None:
            delay = None
            if isinstance(command, m.OneWayCallCommand) and command.invoke_time:
                delay = max(1, int(command.invoke_time) - now) if int(command.invoke_time) > now else None
            caller = (
                EntryRef(self.record.id, command.result_completion_id)
                if isinstance(command, m.CallCommand)
                else None
            )
            new = engine.new_invocation(
                target,
                key,
                command.parameter,
                {h.key: h.value for h in command.headers},
                idempotency_key=command.idempotency_key,
                delay_ms=delay,
                caller=caller,
            )
            self._progress["children"].append(new)
            invocation_id = new.id
        elif isinstance(command, m.CallCommand):
            missing = Outcome.fail(404, f"service '{command.service_name}/{command.handler_name}' not found")
            self._new.append(self.journal.add_notification(command.result_completion_id, missing))
        notification = m.CallInvocationIdCompletionNotification(
            command.invocation_id_notification_idx, invocation_id
        )
        return command.invocation_id_notification_idx, Outcome(invocation_id.encode()), notification

    def _target(self, target: Any) -> str:
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

    @staticmethod
    def _name(key: bytes) -> str:
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolViolation("a state key that is not UTF-8") from exc

    async def _read_state(self, name: str) -> bytes | None:
        if name in self._state:
            return self._state[name]
        if name not in self._lazy or self.record.key is None:
            return None
        value = await self.engine.store.get_state_value(self.record.service, self.record.key, name)
        self._lazy.discard(name)
        if value is not None:
            self._state[name] = value
        return value

    # -- writing --------------------------------------------------------------------------------
    async def _flush(self) -> None:
        if not self._new and not any(self._progress.values()):
            return
        result = await self._commit(None)
        for slot, outcome in result.entry_outcomes.items():  # answered at once by the store
            notification = self.journal.delivered(slot, outcome)
            if notification is not None:
                self._send(notification)

    async def _commit(self, transition: Transition) -> ProgressResult:
        entries, self._new = self._new, []
        p, self._progress = self._progress, self._empty()
        progress = Progress(
            invocation_id=self.record.id,
            epoch=self.epoch,
            now_ms=self.engine.now_ms(),
            entries=entries,
            state=p["state"],
            sleeps=p["sleeps"],
            children=p["children"],
            attaches=p["attaches"],
            promises=p["promises"],
            awakeable_completions=p["completions"],
            cancels=p["cancels"],
            signals=p["signals"],
            awakeables=p["awakeables"],
            transition=transition,
        )
        try:
            result = await self.engine.store.commit(progress)
        except BaseException:
            self._new[:0] = entries
            for k, v in p.items():
                self._progress[k][:0] = v
            raise
        self.engine.apply(result.effects)
        return result


__all__ = ["RemoteAttempt"]
