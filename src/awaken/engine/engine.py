"""The engine: owns the store, runs attempts, fires timers, wakes invocations, answers waiters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from awaken.core.effects import start_delay_ms
from awaken.core.ids import idempotent_invocation_id, random_invocation_id, workflow_invocation_id
from awaken.core.journal import Entry, Outcome
from awaken.core.retry import RetryPolicy
from awaken.engine.attempt import Attempt
from awaken.engine.cluster import NodeDuties
from awaken.engine.deployments import Deployments
from awaken.engine.metrics import EngineMetrics
from awaken.engine.remote_attempt import RemoteAttempt
from awaken.engine.runner import AttemptRunner
from awaken.engine.validation import validate_payload
from awaken.errors import NotFound, StorageError
from awaken.protocol import SigningKey, Timeouts
from awaken.sdk.service import AnyService, HandlerDescriptor, HandlerSpec
from awaken.storage.protocol import (
    AwakeableCompletion,
    CancelResult,
    Claim,
    CreateResult,
    Delivery,
    Effects,
    EntryRef,
    InvocationRecord,
    NewInvocation,
    Store,
)

log = logging.getLogger("awaken.engine")

DAY_MS = 86_400_000
BUSY_TIMER_RETRY_S = 0.01


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Engine settings.

    suspend_after: seconds an invocation waits in memory before it is parked (0: suspend at
    every await and resume by replay, the "always replay" mode).
    """

    suspend_after: float = 1.0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    retention_ms: int = DAY_MS
    poll_interval: float = 1.0
    timer_batch: int = 500
    # Handlers served elsewhere: seconds a bidirectional stream may stay silent before the SDK is
    # asked to suspend (Restate's inactivity timeout), and the HTTP timeouts of a request: the
    # wait for an answer, once nothing more can be sent, is Restate's abort timeout (10 min).
    remote_inactivity: float = 60.0
    remote_timeouts: Timeouts = field(
        default_factory=lambda: Timeouts(connect=10.0, response=600.0, read=600.0, write=60.0)
    )


class Engine:
    def __init__(
        self,
        services: Iterable[AnyService],
        store: Store,
        config: EngineConfig | None = None,
        clock: Callable[[], float] = time.time,
        signing_key: SigningKey | None = None,
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.clock = clock
        self.started_at_ms = int(clock() * 1000)  # when this process's own services came up
        self.local_services: dict[str, AnyService] = {}
        for svc in services:
            if svc.name in self.local_services:
                raise ValueError(f"service {svc.name!r} is registered twice")
            self.local_services[svc.name] = svc
        self.deployments = Deployments(self, signing_key)
        self._live: dict[str, AttemptRunner] = {}
        self._queued_claims: dict[str, Claim] = {}
        self._late_deliveries: dict[str, list[Delivery]] = {}
        self._pending_cancels: set[str] = set()  # for attempts that start later
        self.metrics = EngineMetrics()
        self._outcome_waiters: dict[str, list[asyncio.Future[Outcome]]] = {}
        self._waiting_since: dict[str, float] = {}  # first waiter's time (monotonic), by id
        self.duties = NodeDuties(self)
        self._scheduler: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._next_timer: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._reclaim: dict[str, tuple[float, float]] = {}  # id -> (not before, next backoff)
        # Invocation ids need uniqueness, not secrecy (awakeable ids use os.urandom): a PRNG
        # seeded from the OS spares a system call per invocation.
        self._random = random.Random(os.urandom(32))
        # Plain (non-async) ctx.run functions run here, not in the loop's default executor, so
        # that stopping the engine does not wait for a step that never returns.
        self.step_executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="awaken-step")

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def services(self) -> dict[str, AnyService]:
        """Every service this engine serves: its own, and those of registered deployments."""
        remote = self.deployments.services
        if not remote:
            return self.local_services
        return {**remote, **self.local_services}

    async def start(self) -> None:
        self.store.subscribe(self.duties.on_notice)
        await self.store.open()
        await self.deployments.load()
        self._running = True
        for claim in await self.store.recover(self.now_ms()):
            self.start_attempt(claim)
        self._next_timer = await self.store.next_timer_ms()
        self._scheduler = asyncio.get_running_loop().create_task(self._schedule_loop())
        if self.store.shared:
            self.duties.start()

    @property
    def node_id(self) -> str:
        return self.store.node_id

    async def stop(self) -> None:
        self._running = False
        await self.duties.stop()
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Attempts end at their next await; one that swallows cancellation must not keep
            # the engine from stopping (its invocation stays `running`, recovered at start).
            _, stuck = await asyncio.wait(tasks, timeout=10)
            for task in stuck:
                log.warning("an attempt did not stop within 10 s: %s", task.get_name())
        self.step_executor.shutdown(wait=False, cancel_futures=True)
        await self.deployments.close()
        await self.store.close()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def storage_problem(self) -> str | None:
        """Why the store cannot write now; None when it can (the health endpoints say it)."""
        return self.store.storage_problem()

    @property
    def live_count(self) -> int:
        return len(self._live)

    def live_attempt(self, invocation_id: str) -> AttemptRunner | None:
        return self._live.get(invocation_id)

    def running_ids(self) -> list[str]:
        """The invocations whose attempts run here (and are not ending)."""
        return [i for i, attempt in self._live.items() if not attempt.closing]

    def has_waiters(self, invocation_id: str) -> bool:
        return invocation_id in self._outcome_waiters

    def waited_on(self, older_than: float | None = None) -> list[str]:
        """Invocations that callers here wait on (since before `older_than`, monotonic)."""
        if older_than is None:
            return list(self._outcome_waiters)
        return [i for i, since in self._waiting_since.items() if since <= older_than]

    def completed_elsewhere(self, invocation_id: str, outcome: Outcome) -> None:
        """Another node completed (or killed) an invocation: answer the callers waiting here, and
        stop an attempt of it that still runs here."""
        live = self._live.get(invocation_id)
        if live is not None and not live.closing:
            self.metrics.attempts_lost += 1
            live.abort()
        self._queued_claims.pop(invocation_id, None)
        self._pending_cancels.discard(invocation_id)
        self._answer_waiters(invocation_id, outcome)

    def _answer_waiters(self, invocation_id: str, outcome: Outcome) -> None:
        for fut in self._outcome_waiters.get(invocation_id, ()):
            if not fut.done():
                fut.set_result(outcome)

    # -- registry ----------------------------------------------------------------------------
    def handler(self, service: str, handler: str) -> HandlerDescriptor:
        svc = self.local_services.get(service) or self.deployments.services.get(service)
        if svc is None:
            raise NotFound(
                f"service '{service}' not found, make sure to register the service before calling it."
            )
        spec = svc.handlers.get(handler)
        if spec is None:
            raise NotFound(f"handler '{service}/{handler}' not found")
        return spec

    def retry_policy_for(self, spec: HandlerDescriptor) -> RetryPolicy:
        if spec.retry_policy is None:
            return self.config.retry_policy
        return spec.retry_policy.to_policy(self.config.retry_policy)

    # -- invoking ----------------------------------------------------------------------------
    def new_invocation(
        self,
        spec: HandlerDescriptor,
        key: str | None,
        body: bytes,
        headers: dict[str, str],
        idempotency_key: str | None = None,
        delay_ms: int | None = None,
        caller: EntryRef | None = None,
        invocation_id: str | None = None,
    ) -> NewInvocation:
        now = self.now_ms()
        if invocation_id is None:
            if spec.kind == "workflow" and key is not None:
                invocation_id = workflow_invocation_id(spec.service, key)
            elif idempotency_key is not None:
                invocation_id = idempotent_invocation_id(spec.service, key, spec.name, idempotency_key)
            else:
                invocation_id = random_invocation_id(self._random, now)
        retention = self.config.retention_ms
        if spec.idempotency_retention is not None:
            retention = int(spec.idempotency_retention.total_seconds() * 1000)
        pin: dict[str, Any] = {}
        if spec.deployment_id is not None:  # served elsewhere: pinned to the deployment serving it now
            deployment = self.deployments.get(spec.deployment_id)
            pin = {
                "deployment_id": deployment.id,
                "protocol_version": deployment.protocol_version,
                # sent as StartMessage.id, which the SDK derives awakeable ids from: random, so
                # that one invocation's ids tell nothing of another's
                "protocol_id": os.urandom(24),
            }
        return NewInvocation(
            id=invocation_id,
            service=spec.service,
            handler=spec.name,
            key=key,
            exclusive=spec.exclusive,
            input=body,
            headers=headers,
            now_ms=now,
            retention_ms=retention,
            idempotency_key=idempotency_key,
            run_at_ms=now + delay_ms if delay_ms else None,
            caller=caller,
            workflow_main=spec.kind == "workflow",
            **pin,
        )

    async def invoke(self, new: NewInvocation, *, durable: bool = True) -> CreateResult:
        result = await self.store.create_invocation(new, durable=durable)
        self.apply(result.effects)
        return result

    def child_invocation(self, caller_id: str, entry: Entry, now_ms: int) -> NewInvocation | None:
        """The invocation a CALL or SEND entry creates; None if its target is not registered."""
        d = entry.data
        try:
            spec = self.handler(d["service"], d["handler"])
        except NotFound:
            log.warning("invocation %s: %s to unknown handler %s", caller_id, entry.kind, entry.name)
            return None
        run_at = d.get("run_at")
        return self.new_invocation(
            spec,
            d.get("key"),
            entry.payload or b"",
            dict(d.get("headers") or {}),
            idempotency_key=d.get("idempotency_key"),
            delay_ms=start_delay_ms(run_at, now_ms),
            caller=EntryRef(caller_id, entry.index) if entry.kind == "call" else None,
            invocation_id=d["invocation_id"],
        )

    async def wait_outcome(self, invocation_id: str) -> Outcome:
        """Wait for an invocation's outcome (attach). NotFound if there is no such invocation."""
        fut = self._register_waiter(invocation_id)
        try:
            record = await self.store.get_invocation(invocation_id)
            if record is None:
                raise NotFound(f"invocation '{invocation_id}' not found")
            if record.outcome is not None:
                return record.outcome
            outcome = await self._watch(record)
            if outcome is not None:
                return outcome
            return await fut
        finally:
            self._drop_waiter(invocation_id, fut)

    async def call(self, new: NewInvocation) -> tuple[CreateResult, Outcome]:
        """Create (or find) an invocation and wait for its outcome.

        Nothing is acknowledged before the outcome, and the write that records the outcome makes
        every earlier one durable: so the creation need not wait for its own fsync (one fewer
        on the way of a call; the attempt starts sooner). An outcome found already is shown once
        it is on disk."""
        fut = self._register_waiter(new.id)
        try:
            result = await self.invoke(new, durable=False)
            if result.record.outcome is not None:
                await self.store.settled()
                return result, result.record.outcome
            outcome = await self._watch(result.record)
            if outcome is not None:
                return result, outcome
            return result, await fut
        finally:
            self._drop_waiter(new.id, fut)

    async def _watch(self, record: InvocationRecord) -> Outcome | None:
        """On a store that nodes share, a caller here waits on an invocation that another node
        created: ask for its completion to be announced to every node (its creator alone hears of
        it otherwise). Its outcome if it has completed meanwhile."""
        if not self.store.shared or record.origin_node == self.store.node_id:
            return None
        try:
            return await self.store.watch_invocation(record.id)
        except StorageError as exc:  # polling finds its outcome (poll_interval) all the same
            log.info("cannot ask to hear of %s's completion: %s", record.id, exc)
            return None

    def _register_waiter(self, invocation_id: str) -> asyncio.Future[Outcome]:
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        waiters = self._outcome_waiters.get(invocation_id)
        if waiters is None:
            self._outcome_waiters[invocation_id] = [fut]
            if self.store.shared:
                self._waiting_since[invocation_id] = time.monotonic()
        else:
            waiters.append(fut)
        return fut

    def _drop_waiter(self, invocation_id: str, fut: asyncio.Future[Outcome]) -> None:
        waiters = self._outcome_waiters.get(invocation_id)
        if waiters is not None:
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
            if not waiters:
                del self._outcome_waiters[invocation_id]
                self._waiting_since.pop(invocation_id, None)

    async def get_invocation(self, invocation_id: str) -> InvocationRecord:
        record = await self.store.get_invocation(invocation_id)
        if record is None:
            raise NotFound(f"invocation '{invocation_id}' not found")
        return record

    async def cancel_invocation(self, invocation_id: str, kill: bool = False) -> CancelResult:
        """Cancel (or kill) an invocation; see Store.cancel_invocation."""
        result = await self.store.cancel_invocation(invocation_id, kill, self.now_ms())
        self.apply(result.effects)
        return result

    async def purge_invocation(self, invocation_id: str) -> None:
        await self.store.purge_invocation(invocation_id)

    async def pause_invocation(self, invocation_id: str) -> None:
        """Pause a running invocation by hand; `resume_invocation` runs it again."""
        await self.store.pause_invocation(invocation_id, self.now_ms())
        live = self._live.get(invocation_id)
        if live is not None:
            live.abort()  # fenced out already: stop its handler and steps

    async def resume_invocation(self, invocation_id: str) -> None:
        self.start_attempt(await self.store.resume_invocation(invocation_id, self.now_ms()))

    async def complete_awakeable(self, awakeable_id: str, outcome: Outcome) -> AwakeableCompletion:
        result = await self.store.complete_awakeable(awakeable_id, outcome, self.now_ms(), validate_payload)
        self.apply(result.effects)
        return result

    # -- effects -----------------------------------------------------------------------------
    def apply(self, effects: Effects) -> None:
        for claim in effects.claims:
            self.start_attempt(claim)
        for delivery in effects.deliveries:
            attempt = self._live.get(delivery.invocation_id)
            if attempt is None:
                continue
            queued = self._queued_claims.get(delivery.invocation_id)
            if attempt.closing and queued is not None:
                # The finishing attempt has handed over to a queued one whose journal was read
                # before this completion: give it to the queued one when it starts.
                self._late_deliveries.setdefault(delivery.invocation_id, []).append(delivery)
            else:
                attempt.deliver(delivery.index, delivery.outcome)
        for invocation_id, outcome in effects.completed:
            if outcome.ok:
                self.metrics.completed_ok += 1
            else:
                self.metrics.completed_failed += 1
            live = self._live.get(invocation_id)
            if live is not None and not live.closing:
                live.abort()  # killed while it ran
            # nothing of a completed invocation may start again (a claim queued behind its
            # ending attempt, a cancellation for its next attempt)
            self._queued_claims.pop(invocation_id, None)
            self._pending_cancels.discard(invocation_id)
            self._answer_waiters(invocation_id, outcome)
        for invocation_id in effects.cancels:
            live = self._live.get(invocation_id)
            if live is None or not live.request_cancel():
                self._pending_cancels.add(invocation_id)  # for the attempt that runs it next
        nxt = effects.next_timer_ms
        if nxt is not None and (self._next_timer is None or nxt < self._next_timer):
            self._next_timer = nxt
            self._wakeup.set()

    def start_attempt(self, claim: Claim) -> None:
        invocation_id = claim.record.id
        if invocation_id in self._live:
            self._queued_claims[invocation_id] = claim  # the previous attempt is finishing
            return
        record = claim.record
        attempt: AttemptRunner
        if record.remote:
            deployment_id = record.deployment_id or ""
            spec = self.deployments.service_of(deployment_id, record.service, record.handler)
            if spec is None:
                # Registered on another node since this one read the deployments, or removed.
                asyncio.get_running_loop().create_task(self._start_after_reload(claim))
                return
            attempt = RemoteAttempt(self, claim, spec, self.deployments.get(deployment_id))
        else:
            svc = self.local_services.get(record.service)
            local = svc.handlers.get(record.handler) if svc is not None else None
            if not isinstance(local, HandlerSpec):
                log.error(
                    "invocation %s targets %s/%s, which is not registered here",
                    invocation_id,
                    record.service,
                    record.handler,
                )
                return
            attempt = Attempt(self, claim, local)
        self._live[invocation_id] = attempt
        self.metrics.attempts += 1
        for late in self._late_deliveries.pop(invocation_id, ()):
            attempt.deliver(late.index, late.outcome)
        if invocation_id in self._pending_cancels:
            self._pending_cancels.discard(invocation_id)
            attempt.request_cancel()
        task = attempt.start()
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._attempt_finished(invocation_id, attempt, t))

    async def _start_after_reload(self, claim: Claim) -> None:
        record = claim.record
        try:
            await self.deployments.load()
        except Exception as exc:
            log.warning("could not read the deployments: %s", exc)
        if self.deployments.service_of(record.deployment_id or "", record.service, record.handler) is None:
            log.error(
                "invocation %s is pinned to deployment %s, which does not serve %s/%s (removed?)",
                record.id,
                record.deployment_id,
                record.service,
                record.handler,
            )
            self.attempt_abandoned(record.id, NotFound(f"deployment {record.deployment_id} not found"))
            return
        self.start_attempt(claim)

    def _attempt_finished(self, invocation_id: str, attempt: AttemptRunner, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._live.get(invocation_id) is attempt:
            del self._live[invocation_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("invocation %s: attempt crashed", invocation_id, exc_info=task.exception())
            self.attempt_abandoned(invocation_id, task.exception() or RuntimeError("crashed"))
        queued = self._queued_claims.pop(invocation_id, None)
        if queued is not None and self._running:
            self.start_attempt(queued)

    def attempt_abandoned(self, invocation_id: str, exc: BaseException) -> None:
        """The store failed under an attempt: claim it again later, backing off (1 s, 2 s, ...
        at most 30 s apart) while the store keeps failing."""
        _, backoff = self._reclaim.get(invocation_id, (0.0, 1.0))
        self._reclaim[invocation_id] = (time.monotonic() + backoff, min(backoff * 2, 30.0))

    # -- timers ------------------------------------------------------------------------------
    def wake_scheduler(self) -> None:
        self._wakeup.set()

    async def _schedule_loop(self) -> None:
        last_failure = ""
        while self._running:
            now = self.now_ms()
            try:
                if self._next_timer is not None and self._next_timer <= now:
                    effects = await self.store.fire_due_timers(now, self.config.timer_batch)
                    self._next_timer = effects.next_timer_ms
                    self.apply(effects)
                    if self._next_timer is not None and self._next_timer <= self.now_ms():
                        if not (effects.claims or effects.deliveries or effects.completed):
                            # What is due is held by another node's transaction: look again soon
                            # rather than spin on it.
                            await asyncio.sleep(BUSY_TIMER_RETRY_S)
                        continue  # more due than one batch
                await self._retry_abandoned()
            except StorageError as exc:  # the store says why, and its health endpoints too
                if str(exc) != last_failure:
                    log.warning("scheduler: storage failure (%s); retrying", exc)
                last_failure = str(exc)
            except Exception:
                log.exception("scheduler: storage failure; retrying")
            else:
                last_failure = ""
            timeout = self.config.poll_interval
            if self._next_timer is not None:
                timeout = min(timeout, max(0.0, (self._next_timer - self.now_ms()) / 1000))
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            if self._next_timer is None or self._next_timer > self.now_ms():
                # cheap safety net: pick up timers created behind our back
                self._next_timer = await self._safe_next_timer()

    async def _safe_next_timer(self) -> int | None:
        try:
            return await self.store.next_timer_ms()
        except Exception:
            return self._next_timer

    async def _retry_abandoned(self) -> None:
        now = time.monotonic()
        for invocation_id, (not_before, _) in list(self._reclaim.items()):
            if invocation_id in self._live or not_before > now:
                continue
            claim = await self.store.begin_attempt(invocation_id, self.now_ms())
            if claim is not None:
                self.start_attempt(claim)
            if self._reclaim.get(invocation_id, (0.0, 0.0))[0] <= now:
                self._reclaim.pop(invocation_id, None)


def describe_outcome(outcome: Outcome) -> dict[str, Any]:
    if outcome.failure is not None:
        return {"code": outcome.failure.code, "message": outcome.failure.message}
    value = outcome.value
    try:
        return {"value": json.loads(value) if value else None}
    except ValueError:
        return {"value": value.decode(errors="replace") if value else None}
