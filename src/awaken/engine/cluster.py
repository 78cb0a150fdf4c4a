"""What a node does when other nodes share its database: keep the leases of the attempts it runs,
take over the invocations of nodes that died, and act on the notices other nodes send it.

Notices (a completion for an attempt running here, a cancellation, a completed invocation that a
caller here waits on) make hand-offs between nodes take the time of a notification. They can be
lost (the notice connection breaks), so everything they do also happens without them, only later:
an attempt waiting in memory suspends after `suspend_after` and its suspension finds what
completed; the lease renewal finds attempts that were taken from this node; callers waiting here
look their invocation up every `poll_interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import TYPE_CHECKING

from awaken.core.journal import Outcome
from awaken.storage.protocol import Delivery, Effects, Notice, NoticeKind

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

log = logging.getLogger("awaken.engine")

ORPHAN_BATCH = 500


def _vanished(invocation_id: str) -> Outcome:
    """What a caller hears of an invocation it waits on that the database no longer has: its
    creation was lost when PostgreSQL crashed before flushing it (a call's creation commits
    asynchronously), or it was removed. Nothing of it had been acknowledged to the caller."""
    return Outcome.fail(
        503,
        f"invocation {invocation_id} no longer exists: the database lost it (it restarted before "
        "the invocation's creation was on disk) or it was removed; send the request again",
    )


class NodeDuties:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: list[tuple[str, int]] = []
        self._completions: set[str] = set()
        self._flush: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._renew_leases(), name="awaken-leases"),
            loop.create_task(self._poll(), name="awaken-poll"),
        ]

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._flush] if self._flush is not None else [])]
        self._tasks = []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- notices ---------------------------------------------------------------------------------
    def on_notice(self, notice: Notice) -> None:
        """From the store, on the loop. Reads that a notice needs are batched into one task."""
        engine = self.engine
        match notice.kind:
            case NoticeKind.DELIVER:
                if engine.live_attempt(notice.invocation_id) is None or notice.index is None:
                    return
                if notice.outcome is not None:
                    engine.apply(
                        Effects(deliveries=[Delivery(notice.invocation_id, notice.index, notice.outcome)])
                    )
                else:
                    self._deliveries.append((notice.invocation_id, notice.index))
                    self._schedule_flush()
            case NoticeKind.CANCEL:
                engine.apply(Effects(cancels=[notice.invocation_id]))
            case NoticeKind.ABORT:
                self._lose(notice.invocation_id)
            case NoticeKind.COMPLETED:
                invocation_id = notice.invocation_id
                if engine.has_waiters(invocation_id) or engine.live_attempt(invocation_id) is not None:
                    self._completions.add(invocation_id)
                    self._schedule_flush()
            case NoticeKind.RESYNC:
                self._completions.update(engine.waited_on())
                self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._read_notified())

    async def _read_notified(self) -> None:
        engine = self.engine
        while self._deliveries or self._completions:
            deliveries, self._deliveries = self._deliveries, []
            completions, self._completions = list(self._completions), set()
            try:
                found: list[Delivery] = []
                for invocation_id, index in deliveries:
                    outcome = await engine.store.get_entry_outcome(invocation_id, index)
                    if outcome is not None:
                        found.append(Delivery(invocation_id, index, outcome))
                if found:
                    engine.apply(Effects(deliveries=found))
                outcomes = await engine.store.get_outcomes(completions)
            except Exception as exc:  # the store failed: polling and suspension catch up later
                log.warning("could not read what other nodes notified: %s", exc)
                return
            for invocation_id, outcome in outcomes.items():
                engine.completed_elsewhere(invocation_id, outcome)

    def _lose(self, invocation_id: str) -> None:
        attempt = self.engine.live_attempt(invocation_id)
        if attempt is not None and not attempt.closing:
            self.engine.metrics.attempts_lost += 1
            log.info("invocation %s is no longer this node's: stopping its attempt", invocation_id)
            attempt.abort()

    # -- leases and polling ----------------------------------------------------------------------
    async def _renew_leases(self) -> None:
        engine = self.engine
        interval = max(engine.store.lease_ms / 3000, 0.05)
        while True:
            await asyncio.sleep(interval)
            ids = engine.running_ids()
            if not ids:
                continue
            try:
                held = await engine.store.renew_leases(ids, engine.now_ms())
            except Exception as exc:
                log.warning("could not renew this node's leases: %s", exc)
                continue
            for invocation_id in ids:
                if invocation_id not in held:
                    self._lose(invocation_id)

    async def _poll(self) -> None:
        engine = self.engine
        while True:
            # Jitter: nodes started together do not poll in step.
            await asyncio.sleep(engine.config.poll_interval * random.uniform(0.75, 1.25))
            try:
                while True:  # a dead node's invocations, all of them, batch after batch
                    claims = await engine.store.claim_orphans(engine.now_ms(), ORPHAN_BATCH)
                    for claim in claims:
                        engine.metrics.taken_over += 1
                        log.info("invocation %s: taken over (its node's lease expired)", claim.record.id)
                        engine.start_attempt(claim)
                    if len(claims) < ORPHAN_BATCH:
                        break
                if engine.store.shared:
                    await engine.deployments.refresh()  # registered or removed on another node
                stale = engine.waited_on(older_than=time.monotonic() - engine.config.poll_interval)
                if stale:
                    found = await engine.store.get_outcomes(stale, missing=_vanished)
                    for invocation_id, outcome in found.items():
                        engine.completed_elsewhere(invocation_id, outcome)
            except Exception as exc:
                log.warning("polling the store failed: %s", exc)
