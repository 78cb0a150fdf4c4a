"""The seam between the engine and an attempt: what the engine asks of one, whoever runs the
handler. Two implementations: `awaken.engine.attempt.Attempt` (a handler of this process, run by
awaken's Python SDK) and `awaken.engine.remote_attempt.RemoteAttempt` (a handler served
elsewhere, driven over Restate's service protocol). Both are I/O around pure decisions: what a
step asks of the store is built with `awaken.core.effects.StepEffects` (from journal entries by
`core.effects.entry_effects`, from protocol messages by `awaken.protocol.runtime`), a failure
ends by `awaken.core.retry.transition_after_failure`, and both end with the same transitions
(`awaken.core.effects`: Complete, Suspend, Retry, Pause), which the store's rules apply."""

from __future__ import annotations

import asyncio
from typing import Protocol

from awaken.core.journal import Outcome


class AttemptRunner(Protocol):
    closing: bool
    """Set once the attempt has decided how it ends: deliveries then go to the next attempt."""

    def start(self) -> asyncio.Task[None]:
        """Run the attempt to its end (its transition committed) in a task."""
        ...

    def deliver(self, slot: int, outcome: Outcome) -> None:
        """A completion the store recorded for this invocation while the attempt runs."""
        ...

    def request_cancel(self) -> bool:
        """Ask the handler to stop (it sees the cancellation at its next await); False if it
        can no longer be told (it is closing)."""
        ...

    def abort(self) -> None:
        """Stop at once without writing anything (fenced out, killed, or shutting down)."""
        ...
