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

This is the I/O of it (the stream, the store, the clock, the handler registry): what each message
means is decided by `awaken.protocol.runtime.RuntimeMachine`, with the store effects and the
retry decision local attempts use (`awaken.core.effects`, `awaken.core.retry`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import TYPE_CHECKING

from awaken.core.effects import start_delay_ms
from awaken.core.journal import Outcome
from awaken.core.retry import transition_after_failure
from awaken.errors import Conflict, Fenced, NotFound, StorageError
from awaken.protocol import CodecError, DeploymentError, DeploymentTimeout, ProtocolVersion
from awaken.protocol import messages as m
from awaken.protocol.deployment import InvocationStream
from awaken.protocol.journal import PROTOCOL_VIOLATION, ProtocolViolation
from awaken.protocol.manifest import ProtocolMode
from awaken.protocol.runtime import Failed, Next, ReadOutput, ReadState, ResolveCall, RuntimeMachine
from awaken.sdk.service import HandlerDescriptor
from awaken.storage.protocol import (
    Claim,
    DeploymentRecord,
    NewInvocation,
    Progress,
    ProgressResult,
    Transition,
)

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

log = logging.getLogger("awaken.engine")

# What the runtime machine lets wait for the next write (a RunCommand, a state change) is written
# anyway once it has waited this long: a step that runs longer is seen in the journal meanwhile.
PENDING_WRITE_S = 0.1


def receive_wait(now: float, silence: float, write_at: float | None) -> tuple[float, bool]:
    """How long to wait for the SDK's next message: the silence allowed, or less if what waits
    for a write is due first; and whether the write's time bounds the wait. A timeout of such a
    wait is that time, without asking the clock again: the loop's timers run on a clock of their
    own, which may fire a little before `time.monotonic()` reaches the deadline (taken for the
    endpoint's silence, that failed request/response attempts)."""
    if write_at is not None and write_at - now < silence:
        return max(0.0, write_at - now), True
    return silence, False


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
        record = claim.record
        self.bidi = (
            deployment.protocol_mode == ProtocolMode.BIDI_STREAM.value and deployment.http_version == "2"
        )
        self.run = RuntimeMachine(
            record.id,
            record.protocol_id or b"",
            claim.journal,
            claim.state,
            claim.lazy_state,
            record.key is not None,
            streaming=self.bidi,
        )
        self._stream: InvocationStream | None = None
        self._main: asyncio.Task[None] | None = None
        self._outbox: list[m.ProtocolMessage] = []
        self._sending: asyncio.Task[None] | None = None
        self._last_activity = 0.0
        self._write_at: float | None = None  # when what waits for the next write is written anyway
        self.closing = False

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
        message = self.run.journal.delivered(slot, outcome)
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
        self._last_activity = time.monotonic()
        idle = self._sending is None or self._sending.done()
        if idle and not self._outbox and self._stream.send_nowait(*messages):
            return  # the common case: no task needed
        self._outbox.extend(messages)
        if idle:
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
            tuple(m.StateEntry(k.encode(), v) for k, v in sorted(self.run.state.items())) if eager else ()
        )
        protocol_id = record.protocol_id or b""
        seed = int.from_bytes(hashlib.sha256(protocol_id).digest()[:8], "big")
        return m.StartMessage(
            id=protocol_id,
            debug_id=record.id,
            known_entries=known,
            state_map=state_map,
            partial_state=bool(self.run.lazy) or not eager,
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
        return transition_after_failure(policy, attempts, self.engine.now_ms(), message, exc.retry_after_ms)

    async def _converse(self) -> Transition:
        record, deployment = self.record, self.deployment
        run = self.run
        if run.journal.known_entries == 0:
            headers = tuple(m.Header(k, v) for k, v in sorted(record.headers.items()))
            run.add_input(m.InputCommand(headers, m.Value(record.input)))
        replay = run.journal.replay()
        start = self._start_message(run.journal.known_entries)
        timeouts = self.engine.config.remote_timeouts
        mode = ProtocolMode(deployment.protocol_mode) if self.bidi else ProtocolMode.REQUEST_RESPONSE
        try:
            self._stream = await self.engine.deployments.client.invoke(
                deployment.uri,
                record.service,
                record.handler,
                ProtocolVersion(deployment.protocol_version),
                [start, *replay.frames],
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
                silence = timeouts.read
            else:
                silence = max(0.0, inactivity - (time.monotonic() - self._last_activity))
            wait, write_first = receive_wait(time.monotonic(), silence, self._write_at)
            try:
                message = await self._stream.receive(wait)
            except DeploymentTimeout as exc:
                if write_first:
                    await self._flush()  # what waited for a write has waited long enough
                    continue
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
        """Do what the runtime machine says one message asks for; the attempt's end, if it is."""
        run = self.run
        try:
            step = run.receive(message)
            while True:
                match step:
                    case Next.WAIT:
                        if self._write_at is None and run.pending:
                            self._write_at = time.monotonic() + PENDING_WRITE_S
                        return None
                    case Next.WRITE:
                        await self._flush()
                        if run.replies:
                            self._send(*run.replies)
                            run.replies.clear()
                        return None
                    case ReadState():
                        assert self.record.key is not None  # a keyed invocation's lazy state
                        value = await self.engine.store.get_state_value(
                            self.record.service, self.record.key, step.name
                        )
                        step = run.state_read(step, value)
                    case ReadOutput():
                        found = await self.engine.store.get_invocation(step.target)
                        outcome = None if found is None else found.outcome
                        step = run.output_read(step, found is not None, outcome)
                    case ResolveCall():
                        step = run.call_resolved(step, self._new_invocation(step))
                    case Failed():
                        return self._failure(_Failed(step.message, step.code, step.retry_after_ms))
                    case _:
                        return step
        except ProtocolViolation as exc:
            raise _Failed(f"protocol violation: {exc}", PROTOCOL_VIOLATION) from exc

    def _new_invocation(self, call: ResolveCall) -> NewInvocation | None:
        engine = self.engine
        try:
            target = engine.handler(call.service, call.handler)
        except NotFound:
            return None
        return engine.new_invocation(
            target,
            call.key,
            call.body,
            call.headers,
            idempotency_key=call.idempotency_key,
            delay_ms=start_delay_ms(call.run_at_ms, engine.now_ms()),
            caller=call.caller,
        )

    # -- writing --------------------------------------------------------------------------------
    async def _flush(self) -> None:
        if not self.run.pending:
            return
        result = await self._commit(None)
        for slot, outcome in result.entry_outcomes.items():  # answered at once by the store
            notification = self.run.journal.delivered(slot, outcome)
            if notification is not None:
                self._send(notification)

    async def _commit(self, transition: Transition) -> ProgressResult:
        entries, effects = self.run.take()
        self._write_at = None
        progress = Progress.of(self.record.id, self.epoch, self.engine.now_ms(), entries, effects, transition)
        try:
            result = await self.engine.store.commit(progress)
        except BaseException:
            self.run.put_back(entries, effects)
            raise
        self.engine.apply(result.effects)
        return result


__all__ = ["RemoteAttempt", "receive_wait"]
